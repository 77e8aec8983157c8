package httpapi

import (
	"errors"
	"net/http"
	"net/http/pprof"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// httpMetrics are the API's own metrics.
type httpMetrics struct {
	duration *prometheus.HistogramVec
	handler  http.Handler
}

// newHTTPMetrics registers the API's metrics on reg (reusing them when an
// earlier New registered them on the same registry) and serves reg.
func newHTTPMetrics(reg *prometheus.Registry) *httpMetrics {
	duration := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "http_request_duration_seconds",
		Help:    "Time to answer an HTTP request, by route template, method and status code.",
		Buckets: prometheus.DefBuckets,
	}, []string{"route", "method", "code"})
	if err := reg.Register(duration); err != nil {
		var already prometheus.AlreadyRegisteredError
		if !errors.As(err, &already) {
			panic("httpapi: register metrics: " + err.Error())
		}
		duration = already.ExistingCollector.(*prometheus.HistogramVec)
	}
	return &httpMetrics{duration: duration, handler: promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})}
}

// knownMethods bounds the method label: anything else counts as OTHER.
var knownMethods = map[string]bool{
	http.MethodGet: true, http.MethodHead: true, http.MethodPost: true, http.MethodPut: true,
	http.MethodPatch: true, http.MethodDelete: true, http.MethodOptions: true,
}

func (m *httpMetrics) observe(route, method string, status int, took time.Duration) {
	if !knownMethods[method] {
		method = "OTHER"
	}
	m.duration.WithLabelValues(route, method, strconv.Itoa(status)).Observe(took.Seconds())
}

// serveMetrics is GET /metrics (Prometheus).
func (a *api) serveMetrics(c echo.Context) error {
	a.metrics.handler.ServeHTTP(c.Response(), c.Request())
	return nil
}

// MetricsHandler serves reg at /metrics, and Go's profiler under
// /debug/pprof/ when withPprof, for the private metrics listener
// (METRICS_ADDR, docs/deployment.md); every other path is 404. It carries no
// authentication: whoever reaches the listener reads deposit balances and,
// with pprof, the process's memory profile.
func MetricsHandler(reg *prometheus.Registry, withPprof bool) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	if withPprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	return mux
}
