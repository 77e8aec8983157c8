package flow

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"
	"golang.org/x/sync/singleflight"

	"github.com/ppob-orchestrator/orchestrator/internal/providers"
	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

// Provider is what the flow calls on a provider client. The concrete clients
// (klikoo.Client, snapcart.Client) satisfy it; cmd/orchestrator hands them in.
type Provider interface {
	Inquiry(ctx context.Context, req providers.InquiryRequest) providers.Inquiry
	Pay(ctx context.Context, req providers.PaymentRequest) providers.Payment
	Lookup(ctx context.Context, req providers.LookupRequest) providers.Status
	Products(ctx context.Context) ([]providers.Product, providers.Result)
	ParseCallback(body []byte) (providers.Status, error)
}

// BalanceReader is implemented by providers with a balance endpoint (Klikoo).
type BalanceReader interface {
	Balance(ctx context.Context) (int64, providers.Result)
}

// ProviderSetup is one provider as the flow uses it: its client, how its
// callbacks are authenticated, its policy (what the flow must know of it,
// as data: the flow never compares a provider's name), and the deposit
// level below which operators are alerted.
type ProviderSetup struct {
	Client Provider
	// VerifyCallback reports whether a callback's body and signature header
	// verify. Nil: the provider's callbacks are hints (docs/flow.md#callbacks).
	VerifyCallback    func(body []byte, signature string) bool
	Policy            providers.Policy
	BalanceAlertBelow int64
}

// Config is what the flow needs. Durations have the meanings of
// docs/configuration.md.
type Config struct {
	// Pool serves River and the workers. APIPool, if set, serves what API
	// requests and callbacks call (Create, Confirm, Cancel, Resolve,
	// HandleCallback), so they never queue behind the workers.
	Pool    *pgxpool.Pool
	APIPool *pgxpool.Pool
	// Providers are the providers by name (their Policy.Name).
	Providers map[string]ProviderSetup
	// Outbox takes the webhook messages of every status change, in its
	// transaction (nil: no messages).
	Outbox Outbox
	// Queues are River queues besides the purchase steps' (the webhook
	// deliveries'), and AddWorkers registers their workers: other packages'
	// jobs run on the flow's River client.
	Queues     map[string]river.QueueConfig
	AddWorkers func(*river.Workers)
	Logger     *slog.Logger
	Now        func() time.Time
	Metrics    *Metrics

	StatusDeadline      time.Duration
	PaymentRepeatMinAge time.Duration
	InquiryTTL          time.Duration
	InquiryRetryWindow  time.Duration
	PriceMaxAge         time.Duration
	PriceRefreshWindow  time.Duration
	// FailoverRefusedAfter, ProviderTripAfter and ProviderTripFor are
	// routing's (docs/routing.md): how long refusals last before another
	// offer is tried, and the health rule's circuit breaker.
	FailoverRefusedAfter time.Duration
	ProviderTripAfter    int
	ProviderTripFor      time.Duration
	DuplicateWindow      time.Duration
	JobTimeout           time.Duration
	RescueAfter          time.Duration
	Workers              int

	// LookupBackoff is the snooze schedule of status lookups (invariant 10);
	// the last value repeats until STATUS_DEADLINE. Tests shorten it.
	LookupBackoff []time.Duration
	// ReviewLookupEvery is how often a needs_review purchase is looked up,
	// for ReviewLookupFor after its deadline.
	ReviewLookupEvery time.Duration
	ReviewLookupFor   time.Duration
	// StepBackoff is the first delay of a step retried after a refusal or
	// an unknown inquiry answer; it doubles up to StepBackoffMax.
	StepBackoff    time.Duration
	StepBackoffMax time.Duration
	// SweepEvery and StaleAfter drive the sweeper that re-drives purchases
	// whose job went missing.
	SweepEvery time.Duration
	StaleAfter time.Duration
	// Periodic enables the periodic jobs (sweeper, catalog refresh, balance
	// check). Tests that drive time by hand turn it off.
	Periodic bool
	// StepFetchInterval is how often River looks for due purchase steps
	// (their queue's FetchPollInterval) and the least time between two of
	// its fetches (the queue's FetchCooldown): the next step of a purchase
	// waits at most about this long for its worker, whether or not an
	// insert notification came. Each look is a transaction, also when idle
	// (docs/performance.md, "Settings, and why").
	StepFetchInterval time.Duration
	// FetchCooldown is River's client-wide FetchCooldown: one process sends
	// at most one insert notification per queue per cooldown (a
	// notification wakes the queue's producers at once, and costs every
	// listening process a transaction; River drops the others, and their
	// jobs wait for the next fetch), and the other queues (webhook
	// deliveries) fetch at most this often.
	FetchCooldown time.Duration
	// FetchPollInterval is the other queues' poll interval (River's
	// client-wide one).
	FetchPollInterval time.Duration
	// JobRetention is how long River keeps a completed or cancelled job
	// (JOB_RETENTION; DefaultJobRetention when zero). The purchase's audit
	// trail is its events, calls and callbacks: a finished job is only what
	// River UI shows of it meanwhile.
	JobRetention time.Duration
	// Middleware wraps River's job inserts and work, outermost first
	// (cmd/orchestrator passes the tracing's, internal/telemetry).
	Middleware []rivertype.Middleware
}

// The River settings' defaults: see docs/performance.md ("Settings, and
// why").
const (
	DefaultWorkers           = 500
	DefaultStepFetchInterval = 20 * time.Millisecond
	DefaultFetchCooldown     = 100 * time.Millisecond
)

// DefaultJobRetention is how long River keeps finished jobs unless
// JOB_RETENTION says otherwise: an hour of history in River UI, where
// River's own default of a day would keep 24 times the rows
// (docs/configuration.md).
const DefaultJobRetention = time.Hour

// DefaultInquiryRetryWindow is how long an inquiry that gets no answer (or
// is refused) is retried before the purchase fails: long enough to ride out
// a provider's brief outage (docs/configuration.md, INQUIRY_RETRY_WINDOW).
const DefaultInquiryRetryWindow = 5 * time.Minute

// DefaultPriceRefreshWindow is how long a step with max_price waits for a
// stale catalog price to be refreshed (invariant 8, PRICE_REFRESH_WINDOW).
const DefaultPriceRefreshWindow = 2 * time.Minute

// DefaultLookupBackoff is invariant 10's schedule: about 5 s, 10 s, 30 s,
// 1 min, 2 min, 5 min, then every 15 min.
var DefaultLookupBackoff = []time.Duration{5 * time.Second, 10 * time.Second, 30 * time.Second, time.Minute, 2 * time.Minute, 5 * time.Minute, 15 * time.Minute}

func (c *Config) setDefaults() {
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Metrics == nil {
		c.Metrics = NewMetrics(nil)
	}
	if len(c.LookupBackoff) == 0 {
		c.LookupBackoff = DefaultLookupBackoff
	}
	if c.ReviewLookupEvery == 0 {
		c.ReviewLookupEvery = time.Hour
	}
	if c.ReviewLookupFor == 0 {
		c.ReviewLookupFor = 7 * 24 * time.Hour
	}
	if c.StepBackoff == 0 {
		c.StepBackoff = 2 * time.Second
	}
	if c.StepBackoffMax == 0 {
		c.StepBackoffMax = 5 * time.Minute
	}
	if c.InquiryRetryWindow == 0 {
		c.InquiryRetryWindow = DefaultInquiryRetryWindow
	}
	if c.PriceRefreshWindow == 0 {
		c.PriceRefreshWindow = DefaultPriceRefreshWindow
	}
	if c.FailoverRefusedAfter == 0 {
		c.FailoverRefusedAfter = 2 * time.Minute
	}
	if c.ProviderTripAfter == 0 {
		c.ProviderTripAfter = 5
	}
	if c.ProviderTripFor == 0 {
		c.ProviderTripFor = time.Minute
	}
	if c.SweepEvery == 0 {
		c.SweepEvery = time.Minute
	}
	if c.StaleAfter == 0 {
		c.StaleAfter = 2 * c.RescueAfter
	}
	if c.Workers == 0 {
		c.Workers = DefaultWorkers
	}
	if c.JobRetention == 0 {
		c.JobRetention = DefaultJobRetention
	}
	if c.StepFetchInterval == 0 {
		c.StepFetchInterval = DefaultStepFetchInterval
	}
	if c.FetchPollInterval == 0 {
		c.FetchPollInterval = time.Second
	}
	if c.FetchCooldown == 0 {
		c.FetchCooldown = DefaultFetchCooldown
	}
}

func (c *Config) validate() error {
	switch {
	case c.Pool == nil:
		return errors.New("flow: Config.Pool is required")
	case len(c.Providers) == 0:
		return errors.New("flow: Config.Providers is empty")
	case c.StatusDeadline <= 0 || c.PaymentRepeatMinAge <= 0 || c.InquiryTTL <= 0 || c.PriceMaxAge <= 0 || c.DuplicateWindow <= 0:
		return errors.New("flow: StatusDeadline, PaymentRepeatMinAge, InquiryTTL, PriceMaxAge and DuplicateWindow must be positive")
	case c.JobTimeout <= 0 || c.RescueAfter <= c.JobTimeout:
		return errors.New("flow: JobTimeout must be positive and shorter than RescueAfter")
	}
	for name, p := range c.Providers {
		switch {
		case p.Client == nil:
			return fmt.Errorf("flow: provider %q has no client", name)
		case !p.Policy.Valid():
			return fmt.Errorf("flow: provider %q has an incomplete policy", name)
		case p.Policy.Name != name:
			return fmt.Errorf("flow: provider %q is configured under the name %q", p.Policy.Name, name)
		}
	}
	return nil
}

// Service runs purchases: it creates them, drives them with River jobs, and
// applies confirmations, cancellations, callbacks and operator decisions.
// It is safe for concurrent use.
type Service struct {
	cfg     Config
	pool    *pgxpool.Pool // the workers'
	apiPool *pgxpool.Pool // the API's (Config.APIPool, else pool)
	q       *store.Queries
	river   *river.Client[pgx.Tx]
	log     *slog.Logger
	now     func() time.Time
	metrics *Metrics
	rules   Rules
	health  *health
	refresh singleflight.Group
}

// New builds the service and its River client. Call Start to run workers.
func New(cfg Config) (*Service, error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	s := &Service{
		cfg: cfg, pool: cfg.Pool, apiPool: cfg.Pool, q: store.New(cfg.Pool), log: cfg.Logger,
		now: func() time.Time { return cfg.Now().UTC() }, metrics: cfg.Metrics,
	}
	if cfg.APIPool != nil {
		s.apiPool = cfg.APIPool
	}
	s.rules = Rules{
		StatusDeadline: cfg.StatusDeadline, PaymentRepeatMinAge: cfg.PaymentRepeatMinAge, InquiryTTL: cfg.InquiryTTL,
		InquiryRetryWindow: cfg.InquiryRetryWindow, PriceRefreshWindow: cfg.PriceRefreshWindow,
		LookupBackoff: cfg.LookupBackoff, ReviewLookupEvery: cfg.ReviewLookupEvery, ReviewLookupFor: cfg.ReviewLookupFor,
		StepBackoff: cfg.StepBackoff, StepBackoffMax: cfg.StepBackoffMax, FailoverRefusedAfter: cfg.FailoverRefusedAfter,
	}
	s.health = newHealth(cfg.ProviderTripAfter, cfg.ProviderTripFor, cfg.Metrics)
	workers := river.NewWorkers()
	river.AddWorker(workers, &inquiryWorker{s: s})
	river.AddWorker(workers, &paymentWorker{s: s})
	river.AddWorker(workers, &lookupWorker{s: s})
	river.AddWorker(workers, &expireWorker{s: s})
	river.AddWorker(workers, &sweepWorker{s: s})
	river.AddWorker(workers, &catalogWorker{s: s})
	river.AddWorker(workers, &balanceWorker{s: s})
	river.AddWorker(workers, &partitionWorker{s: s})
	if cfg.AddWorkers != nil {
		cfg.AddWorkers(workers)
	}

	var periodic []*river.PeriodicJob
	if cfg.Periodic {
		periodic = []*river.PeriodicJob{
			river.NewPeriodicJob(river.PeriodicInterval(cfg.SweepEvery),
				func() (river.JobArgs, *river.InsertOpts) { return sweepArgs{}, nil },
				&river.PeriodicJobOpts{ID: "sweep", RunOnStart: true}),
			river.NewPeriodicJob(river.PeriodicInterval(cfg.PriceMaxAge/2),
				func() (river.JobArgs, *river.InsertOpts) { return catalogArgs{}, nil },
				&river.PeriodicJobOpts{ID: "catalog", RunOnStart: true}),
			river.NewPeriodicJob(river.PeriodicInterval(5*time.Minute),
				func() (river.JobArgs, *river.InsertOpts) { return balanceArgs{}, nil },
				&river.PeriodicJobOpts{ID: "balance", RunOnStart: true}),
			river.NewPeriodicJob(river.PeriodicInterval(24*time.Hour),
				func() (river.JobArgs, *river.InsertOpts) { return partitionArgs{}, nil },
				&river.PeriodicJobOpts{ID: "audit_partitions", RunOnStart: true}),
		}
	}
	rc := riverConfig(&cfg)
	rc.Workers = workers
	rc.PeriodicJobs = periodic
	client, err := river.NewClient(riverpgxv5.New(cfg.Pool), rc)
	if err != nil {
		return nil, fmt.Errorf("river client: %w", err)
	}
	s.river = client
	return s, nil
}

// RiverConfig returns the River settings the flow runs with for cfg (its
// defaults applied): the queue and its workers, the fetch intervals (the
// purchase steps' queue's are its own, in Queues), the timeouts and
// attempts — without workers or periodic jobs. The benchmark's engine floor
// runs its bare job chain with exactly these, so that the comparison with
// the flow is fair.
func RiverConfig(cfg Config) *river.Config {
	cfg.setDefaults()
	return riverConfig(&cfg)
}

func riverConfig(cfg *Config) *river.Config {
	queues := map[string]river.QueueConfig{river.QueueDefault: {
		MaxWorkers: cfg.Workers, FetchCooldown: cfg.StepFetchInterval, FetchPollInterval: cfg.StepFetchInterval,
	}}
	for name, q := range cfg.Queues {
		queues[name] = q
	}
	return &river.Config{
		Queues:               queues,
		JobTimeout:           cfg.JobTimeout,
		RescueStuckJobsAfter: cfg.RescueAfter,
		FetchPollInterval:    cfg.FetchPollInterval,
		FetchCooldown:        min(cfg.FetchCooldown, cfg.FetchPollInterval),
		MaxAttempts:          100,
		Logger:               cfg.Logger,
		Middleware:           cfg.Middleware,
		Hooks:                []rivertype.Hook{dueSoon},

		CompletedJobRetentionPeriod: cfg.JobRetention,
		CancelledJobRetentionPeriod: cfg.JobRetention,
		ReindexerIndexNames:         reindexed(),
	}
}

// droppedIndexes are River's indexes on river_job that
// migrations/00013_storage.sql drops: nothing reads them.
var droppedIndexes = []string{"river_job_args_index", "river_job_metadata_index"}

// reindexed is what River's reindexer rebuilds: its default list but the
// indexes we dropped, which it would otherwise warn about on every run.
func reindexed() []string {
	return slices.DeleteFunc(river.ReindexerIndexNamesDefault(), func(name string) bool {
		return slices.Contains(droppedIndexes, name)
	})
}

// Start runs the workers until Stop.
func (s *Service) Start(ctx context.Context) error { return s.river.Start(ctx) }

// Stop waits for running jobs to finish (until ctx is done) and stops.
func (s *Service) Stop(ctx context.Context) error { return s.river.Stop(ctx) }

// River returns the River client, for the job UI and tests.
func (s *Service) River() *river.Client[pgx.Tx] { return s.river }

// ProviderNames lists the configured providers, sorted.
func (s *Service) ProviderNames() []string {
	names := make([]string, 0, len(s.cfg.Providers))
	for name := range s.cfg.Providers {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// SignatureHeader is the header a provider's callbacks carry their
// signature in ("" for none), and whether the provider is configured.
func (s *Service) SignatureHeader(provider string) (string, bool) {
	p, ok := s.cfg.Providers[provider]
	return p.Policy.SignatureHeader, ok
}

// provider returns the setup of the named provider.
func (s *Service) provider(name string) (ProviderSetup, error) {
	p, ok := s.cfg.Providers[name]
	if !ok {
		return ProviderSetup{}, fmt.Errorf("provider %q is not configured", name)
	}
	return p, nil
}
