// Package flowtest sets up what a test of the purchase flow needs: a fresh
// database, both provider simulators over real HTTP with callbacks routed to
// the flow, a running flow service with short timings, and a client. The
// flow's, the API's and the reconciliation's tests share it.
package flowtest

import (
	"context"
	"crypto/rand"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ppob-orchestrator/orchestrator/internal/dbtest"
	"github.com/ppob-orchestrator/orchestrator/internal/flow"
	"github.com/ppob-orchestrator/orchestrator/internal/providers/klikoo"
	"github.com/ppob-orchestrator/orchestrator/internal/providers/snapcart"
	"github.com/ppob-orchestrator/orchestrator/internal/sandbox"
	"github.com/ppob-orchestrator/orchestrator/internal/store"
	"github.com/ppob-orchestrator/orchestrator/internal/webhook"
)

// Clock is the flow's injected clock: real time plus an offset a test can
// advance (the deadline path). It is safe for concurrent use.
type Clock struct{ offset atomic.Int64 }

// Now returns the clock's time.
func (c *Clock) Now() time.Time { return time.Now().Add(time.Duration(c.offset.Load())) }

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) { c.offset.Add(int64(d)) }

var (
	credsOnce sync.Once
	creds     sandbox.Credentials
	credsErr  error
)

// Env is what a flow test needs.
type Env struct {
	Pool     *pgxpool.Pool
	Q        *store.Queries
	Svc      *flow.Service
	Sims     *sandbox.Sims
	Clock    *Clock
	ClientID uuid.UUID // a client, "test shop"
	Creds    sandbox.Credentials
	Metrics  *flow.Metrics // the service's metrics (not registered anywhere)
	// Webhooks is the flow's outbox and runs its deliveries on the flow's
	// River client: private addresses and plain http allowed (receivers
	// are httptest servers), a short retry schedule.
	Webhooks *webhook.Service
	// CallbackURL is where the simulators send callbacks: a server that
	// hands them to Svc.HandleCallback (tests of the API may point the
	// simulators elsewhere by setting Options.CallbackHandler).
	CallbackURL string

	cfg flow.Config
}

// Second builds another flow service on the same database and providers, as
// a second process would run; the caller starts and stops it.
func Second(t testing.TB, b *Env) *flow.Service {
	t.Helper()
	cfg := b.cfg
	cfg.Metrics = nil
	s, err := flow.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Options change the defaults of Setup.
type Options struct {
	StatusDeadline time.Duration // default 1h
	InquiryTTL     time.Duration // default 1h
	Signed         bool          // Snapcart callbacks are authenticated (SNAPCART_CALLBACK_SECRET set)
	NoStart        bool          // do not start the workers
	// BalanceAlertBelow is the deposit alert level of both providers (default 1000).
	BalanceAlertBelow int64
	// BadKlikooSecret gives the Klikoo client a wrong client secret: every
	// Klikoo call is refused before anything happens (invariant 12).
	BadKlikooSecret bool
	// CallbackHandler, when set, receives the simulators' callbacks instead
	// of the default handler (e.g. the HTTP API under test). It is read at
	// each callback, so it may be set after Setup returns.
	CallbackHandler *atomic.Pointer[http.Handler]
	// LookupBackoff is the lookup schedule (default 100ms, 200ms, 300ms).
	LookupBackoff []time.Duration
	// ProviderTripAfter and ProviderTripFor are routing's health breaker
	// (the flow's defaults when zero).
	ProviderTripAfter int
	ProviderTripFor   time.Duration
	// Webhook changes the webhook service's configuration before it is
	// built (default: see Env.Webhooks).
	Webhook func(*webhook.Config)
	// Logger receives the flow's and the webhooks' logs (default: discarded).
	Logger *slog.Logger
	// ProviderTimeout is the provider clients' HTTP timeout (default
	// 700ms). The job timeout is at least 5 s longer, so a call that waits
	// for the test (a held answer) ends with the client giving up, not the job.
	ProviderTimeout time.Duration
	// Intercept, when set, stands between the provider clients and each
	// simulator (provider is klikoo.Name or snapcart.Name): a test sees
	// every provider call and may hold it, lose its answer or spoil its
	// credentials (Wire.Intercept). Callbacks do not pass through it.
	Intercept func(provider string, sim http.Handler) http.Handler
	// CallbackVerifiers set providers' callback verifiers, by provider
	// name (Signed sets Snapcart's).
	CallbackVerifiers map[string]func(body []byte, signature string) bool
	// WorkerTracer, when set, sees every query of the flow's workers and
	// River before it runs (and may make it wait): they get a pool of
	// their own, while API calls (Create, Confirm, Cancel, Resolve,
	// HandleCallback) and the test's reads use Env.Pool.
	WorkerTracer pgx.QueryTracer
	// InquiryRetryWindow is how long an inquiry that goes unanswered is
	// retried before its purchase fails provider_unavailable
	// (INQUIRY_RETRY_WINDOW; default flow.DefaultInquiryRetryWindow).
	InquiryRetryWindow time.Duration
}

// CallbackHandler returns h as an Options.CallbackHandler.
func CallbackHandler(h http.Handler) *atomic.Pointer[http.Handler] {
	var p atomic.Pointer[http.Handler]
	p.Store(&h)
	return &p
}

// Setup builds an Env for t; everything stops at t's cleanup.
func Setup(t testing.TB, o Options) *Env {
	t.Helper()
	credsOnce.Do(func() { creds, credsErr = sandbox.NewCredentials() })
	if credsErr != nil {
		t.Fatal(credsErr)
	}
	ctx := context.Background()
	dbURL := dbtest.NewDatabase(t)
	b := &Env{Pool: connect(t, dbURL, nil), Clock: &Clock{}, Creds: creds}
	b.Q = store.New(b.Pool)
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	workers := b.Pool
	if o.WorkerTracer != nil {
		workers = connect(t, dbURL, o.WorkerTracer)
	}

	// Callbacks reach the flow over real HTTP.
	var svc atomic.Pointer[flow.Service]
	mux := http.NewServeMux()
	mux.HandleFunc("POST /callbacks/{provider}", func(w http.ResponseWriter, r *http.Request) {
		if o.CallbackHandler != nil {
			if h := o.CallbackHandler.Load(); h != nil {
				(*h).ServeHTTP(w, r)
				return
			}
		}
		body, _ := io.ReadAll(r.Body)
		s := svc.Load()
		if s == nil {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		if _, err := s.HandleCallback(r.Context(), r.PathValue("provider"), body, r.Header.Get("X-Signature")); err != nil {
			http.Error(w, "error", http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	cb := httptest.NewServer(mux)
	t.Cleanup(cb.Close)
	b.CallbackURL = cb.URL

	sims, err := sandbox.NewSims(creds, sandbox.Options{
		CallbackBaseURL: cb.URL, SlowAnswer: 1500 * time.Millisecond, IndexLag: 2 * time.Second,
		CallbackDelay: time.Second, Logger: logger,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sims.Close)
	b.Sims = sims
	var kh, sh http.Handler = sims.Klikoo, sims.Snapcart
	if o.Intercept != nil {
		kh, sh = o.Intercept(klikoo.Name, kh), o.Intercept(snapcart.Name, sh)
	}
	ks := httptest.NewServer(kh)
	ss := httptest.NewServer(sh)
	t.Cleanup(ks.Close)
	t.Cleanup(ss.Close)
	clientCreds := creds
	if o.BadKlikooSecret {
		clientCreds.KlikooClientSecret = "not-the-secret"
	}
	if o.ProviderTimeout == 0 {
		o.ProviderTimeout = 700 * time.Millisecond
	}
	kc, sc, err := sandbox.Clients(clientCreds, sandbox.ClientOptions{
		KlikooBaseURL: ks.URL + "/klikoo-b2b", SnapcartBaseURL: ss.URL, Timeout: o.ProviderTimeout, Logger: logger,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := flow.SeedCatalog(ctx, b.Q, sandbox.Catalog(), b.Clock.Now()); err != nil {
		t.Fatal(err)
	}
	b.ClientID = uuid.New()
	keyHash := make([]byte, 32)
	copy(keyHash, b.ClientID[:])
	if _, err := b.Q.ClientInsert(ctx, store.ClientInsertParams{ID: b.ClientID, Name: "test shop", KeyHash: keyHash, KeyPrefix: "t", CreatedAt: b.Clock.Now()}); err != nil {
		t.Fatal(err)
	}
	if o.StatusDeadline == 0 {
		o.StatusDeadline = time.Hour
	}
	if o.InquiryTTL == 0 {
		o.InquiryTTL = time.Hour
	}
	if o.LookupBackoff == nil {
		o.LookupBackoff = []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 300 * time.Millisecond}
	}
	if o.BalanceAlertBelow == 0 {
		o.BalanceAlertBelow = 1000
	}
	b.Metrics = flow.NewMetrics(nil)
	secret := ""
	if o.Signed {
		secret = creds.SnapcartCallbackSecret
	}
	wcfg := webhook.Config{
		Pool: b.Pool, SecretKey: randomKey(t), Timeout: 2 * time.Second, AllowInsecure: true, AllowPrivate: true,
		Schedule: []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 300 * time.Millisecond},
		Workers:  10, Logger: logger, Now: b.Clock.Now,
	}
	if o.Webhook != nil {
		o.Webhook(&wcfg)
	}
	if b.Webhooks, err = webhook.New(wcfg); err != nil {
		t.Fatal(err)
	}
	setups := sandbox.Setups(kc, sc, secret, o.BalanceAlertBelow, o.BalanceAlertBelow)
	for provider, v := range o.CallbackVerifiers {
		setup := setups[provider]
		setup.VerifyCallback = v
		setups[provider] = setup
	}
	jobTimeout := max(10*time.Second, o.ProviderTimeout+5*time.Second)
	b.cfg = flow.Config{
		Pool:           workers,
		APIPool:        b.Pool,
		Providers:      setups,
		Logger:         logger,
		Now:            b.Clock.Now,
		StatusDeadline: o.StatusDeadline, PaymentRepeatMinAge: 500 * time.Millisecond,
		InquiryRetryWindow: o.InquiryRetryWindow,
		InquiryTTL:         o.InquiryTTL, PriceMaxAge: time.Hour, DuplicateWindow: 2 * time.Minute,
		JobTimeout: jobTimeout, RescueAfter: jobTimeout + 5*time.Second,
		LookupBackoff:     o.LookupBackoff,
		ReviewLookupEvery: 200 * time.Millisecond,
		StepBackoff:       100 * time.Millisecond, StepBackoffMax: 500 * time.Millisecond,
		FetchPollInterval: 50 * time.Millisecond,
		Workers:           40,
		Metrics:           b.Metrics,
		ProviderTripAfter: o.ProviderTripAfter,
		ProviderTripFor:   o.ProviderTripFor,
		Outbox:            b.Webhooks,
		Queues:            b.Webhooks.Queues(),
		AddWorkers:        b.Webhooks.AddWorkers,
	}
	s, err := flow.New(b.cfg)
	if err != nil {
		t.Fatal(err)
	}
	svc.Store(s)
	b.Svc = s
	if !o.NoStart {
		startCtx, cancel := context.WithCancel(ctx)
		if err := s.Start(startCtx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			stopCtx, c := context.WithTimeout(context.Background(), 10*time.Second)
			defer c()
			_ = s.Stop(stopCtx)
			cancel()
		})
	}
	return b
}

func randomKey(t testing.TB) []byte {
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

// connect opens a pool on dbURL, closed at t's cleanup, whose connections
// trace their queries with tracer (nil: none).
func connect(t testing.TB, dbURL string, tracer pgx.QueryTracer) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.Tracer = tracer
	store.ConfigurePool(cfg) // as the service's pools are
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatalf("flowtest: connect: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// WaitFor polls cond until it holds, failing t with what() when d passes.
func WaitFor(t testing.TB, d time.Duration, what func() string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting: %s", d, what())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Purchase reads a purchase.
func (b *Env) Purchase(t testing.TB, id uuid.UUID) store.Purchase {
	t.Helper()
	p, err := b.Q.PurchaseGetByID(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Charges returns how many times the simulators charged a purchase: its
// current attempt's provider reference and every ended attempt's (a
// failover must never leave a charge behind).
func (b *Env) Charges(t testing.TB, p store.Purchase) int {
	t.Helper()
	n := 0
	if p.ProviderReference != nil {
		n += b.ChargesAt(p.Provider, *p.ProviderReference)
	}
	ended, err := b.Q.PurchaseAttemptList(context.Background(), p.ID)
	if err != nil {
		t.Fatalf("the attempts of %s: %v", p.ID, err)
	}
	for _, a := range ended {
		if a.ProviderReference != nil {
			n += b.ChargesAt(a.Provider, *a.ProviderReference)
		}
	}
	return n
}

// ChargesAt returns how many times a provider's simulator charged reference.
func (b *Env) ChargesAt(provider, reference string) int {
	l := b.Sims.Snapcart.Ledger()
	if provider == klikoo.Name {
		l = b.Sims.Klikoo.Ledger()
	}
	c, _ := l.Get(reference)
	return c.Count
}
