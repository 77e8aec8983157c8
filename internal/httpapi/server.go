// Package httpapi is the HTTP face of the service: the partner API, the
// operators' endpoints, provider callbacks, the health checks, the metrics
// and the OpenAPI document that describes them. Every error it answers is an
// RFC 9457 problem produced from one table (problem.go).
package httpapi

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ppob-orchestrator/orchestrator/internal/flow"
	"github.com/ppob-orchestrator/orchestrator/internal/recon"
	"github.com/ppob-orchestrator/orchestrator/internal/webhook"
)

// Config holds what the API needs. Logger, Ready and Flow are required for
// the whole API; with Flow nil only /healthz, /readyz, /metrics and
// /openapi.json work and the rest answers 500 internal.
type Config struct {
	Logger *slog.Logger
	Ready  SchemaCheck
	Flow   *flow.Service
	// Recon builds the reconciliation report (recon.Build on the API's
	// pool); nil answers GET /admin/reconciliation with 500 internal.
	Recon      func(context.Context, recon.Options) (*recon.Report, error)
	AdminToken string // empty: every /admin request answers 401
	// RateLimitPerClient is requests per second per client (burst twice
	// that); zero or less turns the limit off.
	RateLimitPerClient int
	// Registry receives the API's metrics and is served at /metrics with
	// everything else registered there (the flow's metrics, Go's). Nil: a
	// registry of the API's own.
	Registry *prometheus.Registry
	// MetricsElsewhere leaves /metrics out of the API's routes: the metrics
	// are served on a listener of their own (METRICS_ADDR, MetricsHandler).
	MetricsElsewhere bool
	Now              func() time.Time // time.Now when nil
	// KeyCacheTTL is how long a process trusts an API key it found enabled
	// (API_KEY_CACHE_TTL); zero reads the key's client on every request.
	KeyCacheTTL time.Duration
	// Webhooks serves the /v1/webhook_… routes (nil: they answer 500
	// internal).
	Webhooks *webhook.Service
}

// api is the handlers' shared state.
type api struct {
	cfg     Config
	log     *slog.Logger
	now     func() time.Time
	limiter *limiter
	keys    *keyCache
	metrics *httpMetrics
	// patterns are the routes as URI templates ("/v1/purchases/{id}"), by
	// echo path; read-only once New returns.
	patterns map[string]string
}

// maxBody bounds every request body the API reads (docs/api.md: 64 KiB).
const maxBody = 64 << 10

// New returns the API's handler. It is safe for concurrent use.
func New(cfg Config) http.Handler { return newEcho(cfg) }

func newEcho(cfg Config) *echo.Echo {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
	}
	a := &api{cfg: cfg, log: cfg.Logger, now: cfg.Now, limiter: newLimiter(cfg.RateLimitPerClient), keys: newKeyCache(cfg.KeyCacheTTL), metrics: newHTTPMetrics(cfg.Registry)}

	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = a.errorHandler
	// Outermost first: the request id exists before anything logs, the
	// metrics see the final status, and a panic becomes a 500 problem.
	e.Use(a.requestID, a.observe, a.recover)

	e.GET("/healthz", healthz)
	if cfg.Ready != nil {
		e.GET("/readyz", readyz(cfg.Ready))
	} else {
		e.GET("/readyz", func(c echo.Context) error {
			return c.JSON(http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "reason": "no readiness check configured"})
		})
	}
	if !cfg.MetricsElsewhere {
		e.GET("/metrics", a.serveMetrics)
	}
	e.GET("/openapi.json", serveOpenAPI)

	client := []echo.MiddlewareFunc{a.wired, a.authClient, a.rateLimit}
	e.POST("/v1/purchases", a.createPurchase, client...)
	e.GET("/v1/purchases", a.listPurchases, client...)
	e.GET("/v1/purchases/:id", a.getPurchase, client...)
	e.GET("/v1/purchases/:id/events", a.listEvents, client...)
	e.POST("/v1/purchases/:id/confirm", a.confirmPurchase, client...)
	e.POST("/v1/purchases/:id/cancel", a.cancelPurchase, client...)
	e.GET("/v1/products", a.listProducts, client...)
	e.POST("/v1/webhook_endpoints", a.createEndpoint, client...)
	e.GET("/v1/webhook_endpoints", a.listEndpoints, client...)
	e.GET("/v1/webhook_endpoints/:id", a.getEndpoint, client...)
	e.PATCH("/v1/webhook_endpoints/:id", a.updateEndpoint, client...)
	e.DELETE("/v1/webhook_endpoints/:id", a.deleteEndpoint, client...)
	e.POST("/v1/webhook_endpoints/:id/rotate_secret", a.rotateSecret, client...)
	e.POST("/v1/webhook_endpoints/:id/recover", a.recoverEndpoint, client...)
	e.GET("/v1/webhook_deliveries", a.listDeliveries, client...)
	e.GET("/v1/webhook_deliveries/:id", a.getDelivery, client...)
	e.POST("/v1/webhook_deliveries/:id/retry", a.retryDelivery, client...)

	// Providers do not send our credentials; a callback is authenticated by
	// its signature, in the flow.
	e.POST("/callbacks/:provider", a.callback, a.wired)

	admin := []echo.MiddlewareFunc{a.authAdmin, a.wired}
	e.POST("/admin/purchases/:id/resolve", a.resolvePurchase, admin...)
	e.GET("/admin/reconciliation", a.reconciliation, admin...)
	e.GET("/admin/river/jobs", a.riverJobs, admin...)
	e.GET("/admin/products", a.adminProducts, admin...)
	e.PUT("/admin/products/:code", a.putProduct, admin...)
	e.PUT("/admin/products/:code/offers", a.putOffers, admin...)
	e.POST("/admin/providers/:name/pause", a.pauseProvider(true), admin...)
	e.POST("/admin/providers/:name/resume", a.pauseProvider(false), admin...)

	a.patterns = map[string]string{}
	for _, r := range e.Routes() {
		a.patterns[r.Path] = routeParam.ReplaceAllString(r.Path, "{$1}")
	}
	return e
}

// NewServer wraps h in an *http.Server with timeouts that keep a slow client
// from holding the server.
func NewServer(addr string, h http.Handler) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
}
