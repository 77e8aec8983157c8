package console

import (
	"context"
	"embed"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"riverqueue.com/riverui"

	"github.com/ppob-orchestrator/orchestrator/internal/flow"
	"github.com/ppob-orchestrator/orchestrator/internal/store"
	"github.com/ppob-orchestrator/orchestrator/internal/webhook"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Prefix is where the console is served; every route lives under it.
const Prefix = "/console/"

// Config is what the console needs. Pool, Flow and Logger are required.
type Config struct {
	// Pool serves every read and the sessions (the API's pool: the console
	// never queues behind the workers).
	Pool *pgxpool.Pool
	// Flow applies operators' decisions (Resolve, pausing a provider) with
	// their rules.
	Flow *flow.Service
	// Webhooks sends a delivery again when an operator retries it (the
	// Webhooks page); nil: deliveries are shown but cannot be retried.
	Webhooks *webhook.Service
	Logger   *slog.Logger
	Now      func() time.Time // time.Now when nil
	// Jobs is River UI (NewJobs), served under /console/river/; nil: the
	// Jobs link says it is not configured.
	Jobs *riverui.Handler
	// Operators maps each operator's name to the SHA-256 of its token
	// (CONSOLE_OPERATORS). When empty, AdminToken signs in as "admin";
	// when not, AdminToken opens nothing.
	Operators  map[string][32]byte
	AdminToken string
	// SessionTTL is a session's absolute lifetime (CONSOLE_SESSION_TTL,
	// default 12h); IdleTimeout ends a session unused that long (30m).
	SessionTTL  time.Duration
	IdleTimeout time.Duration
	// Dev drops the cookies' Secure attribute, for plain HTTP on a
	// laptop (`orchestrator dev`); the cookies then lose their __Host-
	// prefix, which browsers refuse without Secure.
	Dev bool
	// BalanceAlertBelow is each provider's deposit alert level; its keys
	// are the providers the Overview and Providers pages show.
	BalanceAlertBelow map[string]int64
	// SigninLimit bounds sign-in attempts; the zero value takes
	// DefaultSigninLimit.
	SigninLimit SigninLimit
}

// Console serves the operator console. Build it with New, start River UI's
// background work with Start, and serve it at Prefix. It is safe for
// concurrent use.
type Console struct {
	cfg     Config
	q       *store.Queries
	log     *slog.Logger
	now     func() time.Time
	pages   *pages
	limiter *signinLimiter
	handler http.Handler
}

// New builds the console from cfg.
func New(cfg Config) (*Console, error) {
	switch {
	case cfg.Pool == nil:
		return nil, errors.New("console: Config.Pool is required")
	case cfg.Flow == nil:
		return nil, errors.New("console: Config.Flow is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 12 * time.Hour
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 30 * time.Minute
	}
	if cfg.SigninLimit == (SigninLimit{}) {
		cfg.SigninLimit = DefaultSigninLimit
	}
	p, err := parsePages()
	if err != nil {
		return nil, err
	}
	c := &Console{
		cfg: cfg, q: store.New(cfg.Pool), log: cfg.Logger, now: func() time.Time { return cfg.Now().UTC() },
		pages: p, limiter: newSigninLimiter(cfg.SigninLimit),
	}
	c.handler = c.routes()
	return c, nil
}

// ServeHTTP serves every path under Prefix.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) { c.handler.ServeHTTP(w, r) }

// Start starts River UI's background services until ctx is done.
func (c *Console) Start(ctx context.Context) error {
	if c.cfg.Jobs == nil {
		return nil
	}
	return c.cfg.Jobs.Start(ctx)
}

// routes is the console's whole surface. Every response carries the
// security headers; every POST passes the same-origin check; everything
// but the sign-in page and the static files needs a session, and every
// POST with a session its CSRF token.
func (c *Console) routes() http.Handler {
	mux := http.NewServeMux()
	static, _ := fs.Sub(staticFS, "static")
	mux.Handle("GET /console/static/", http.StripPrefix("/console/static/", http.FileServerFS(static)))
	mux.HandleFunc("GET /console/signin", c.signinPage)
	mux.HandleFunc("POST /console/signin", c.signin)

	authed := func(pattern string, h func(http.ResponseWriter, *http.Request, *session)) {
		mux.Handle(pattern, c.requireSession(h))
	}
	authed("POST /console/signout", c.signout)
	authed("GET /console/{$}", c.overview)
	authed("GET /console/purchases", c.purchases)
	authed("GET /console/purchases/{id}", c.purchase)
	authed("GET /console/review", c.review)
	authed("POST /console/purchases/{id}/resolve", c.resolve)
	authed("GET /console/reconciliation", c.reconciliation)
	authed("GET /console/reconciliation/daily.csv", c.dailyCSV)
	authed("GET /console/providers", c.providers)
	authed("POST /console/providers/{name}/pause", c.pause)
	authed("POST /console/providers/{name}/resume", c.resume)
	authed("GET /console/webhooks", c.webhooks)
	authed("GET /console/webhooks/endpoints/{id}", c.endpoint)
	authed("POST /console/webhooks/deliveries/{id}/retry", c.retry)
	if c.cfg.Jobs != nil {
		jobs := c.cfg.Jobs
		authed("/console/river/", func(w http.ResponseWriter, r *http.Request, _ *session) { jobs.ServeHTTP(w, r) })
		authed("/console/river", func(w http.ResponseWriter, r *http.Request, _ *session) { jobs.ServeHTTP(w, r) })
	} else {
		authed("/console/river/", c.jobsMissing)
	}
	authed("/console/", func(w http.ResponseWriter, r *http.Request, s *session) {
		c.fail(w, r, s, http.StatusNotFound, "There is no such page in the console.")
	})
	return securityHeaders(c.sameOrigin(mux))
}

// jobsMissing answers the Jobs link when River UI is not configured.
func (c *Console) jobsMissing(w http.ResponseWriter, r *http.Request, s *session) {
	c.fail(w, r, s, http.StatusNotFound, "River UI is not configured in this process.")
}
