package webhook

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

// Queue is the River queue of the deliveries, apart from the purchase steps'.
const Queue = "webhooks"

// MaxEndpoints is how many endpoints a client may have.
const MaxEndpoints = 10

// Errors of the client API; the HTTP API maps them to answers.
var (
	// ErrNotFound: no such endpoint or delivery for this client (another
	// client's is not found either).
	ErrNotFound = errors.New("not found")
	// ErrNotConfigured: WEBHOOK_SECRET_KEY is not set, so no secret can be
	// made or sealed.
	ErrNotConfigured = errors.New("webhooks are not configured on this server: WEBHOOK_SECRET_KEY is not set")
	// ErrTooManyEndpoints: the client has MaxEndpoints endpoints already.
	ErrTooManyEndpoints = fmt.Errorf("a client may have at most %d webhook endpoints", MaxEndpoints)
	// ErrInvalidState: the delivery or endpoint is not in a state the
	// action applies to (retrying a pending delivery, recovering a
	// disabled endpoint).
	ErrInvalidState = errors.New("invalid state")
)

// Config is what the webhook service needs. Durations have the meanings of
// docs/configuration.md; zero values take the defaults.
type Config struct {
	// Pool serves the service's own transactions: the client API and the
	// delivery jobs (Enqueue runs on the flow's transaction).
	Pool *pgxpool.Pool
	// SecretKey seals the endpoints' secrets (WEBHOOK_SECRET_KEY, 32
	// bytes). Without it endpoints cannot be created or rotated
	// (ErrNotConfigured) and deliveries wait.
	SecretKey []byte
	// Timeout bounds one attempt (WEBHOOK_TIMEOUT, 15 s).
	Timeout time.Duration
	// Retention is how long finished messages and their attempts are kept
	// (WEBHOOK_RETENTION, 720 h); it bounds Recover's since.
	Retention time.Duration
	// AllowInsecure accepts plain http URLs; AllowPrivate lets deliveries
	// connect to private, loopback and reserved addresses.
	AllowInsecure bool
	AllowPrivate  bool
	// Schedule is the delays between attempts after the first
	// (DefaultSchedule).
	Schedule []time.Duration
	// Workers is the webhook queue's River workers (WEBHOOK_WORKERS, 50).
	Workers int
	// InFlight is how many attempts one endpoint may have in flight
	// (DefaultInFlight).
	InFlight int
	// Lease is how long an attempt holds its slot of the endpoint at most:
	// the job timeout, after which River may run the job again.
	Lease time.Duration
	// DisableAfter: an endpoint whose every attempt failed this long is
	// disabled (DefaultDisableAfter).
	DisableAfter time.Duration
	// CleanupEvery is how often the cleanup job runs (10 min).
	CleanupEvery time.Duration
	// Resolver resolves endpoint names (nil: the system's).
	Resolver *net.Resolver
	// WrapTransport, when set, wraps the guarded HTTP transport of
	// deliveries (tracing): the SSRF guard stays in its dialer.
	WrapTransport func(http.RoundTripper) http.RoundTripper
	Logger        *slog.Logger
	Now           func() time.Time
	Registerer    prometheus.Registerer // nil: metrics not registered
	// Rand returns uniform numbers in [0, 1) for the jitter (math/rand/v2's
	// Float64 when nil).
	Rand func() float64
}

func (c *Config) setDefaults() {
	if c.Timeout == 0 {
		c.Timeout = 15 * time.Second
	}
	if c.Retention == 0 {
		c.Retention = 720 * time.Hour
	}
	if len(c.Schedule) == 0 {
		c.Schedule = DefaultSchedule
	}
	if c.Workers == 0 {
		c.Workers = 50
	}
	if c.InFlight == 0 {
		c.InFlight = DefaultInFlight
	}
	if c.Lease == 0 {
		c.Lease = c.Timeout + 15*time.Second
	}
	if c.DisableAfter == 0 {
		c.DisableAfter = DefaultDisableAfter
	}
	if c.CleanupEvery == 0 {
		c.CleanupEvery = 10 * time.Minute
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Rand == nil {
		c.Rand = rand.Float64
	}
}

// Service is the webhooks: the outbox the flow writes to, the client API's
// operations and the delivery jobs. It is safe for concurrent use.
type Service struct {
	cfg      Config
	pool     *pgxpool.Pool
	q        *store.Queries
	sealer   *sealer // nil without a secret key
	sender   *sender
	inserter *river.Client[pgx.Tx]
	log      *slog.Logger
	metrics  *Metrics
}

// New builds the service. It inserts its jobs with an insert-only River
// client of its own; the workers run on the flow's client (AddWorkers,
// Queues, PeriodicJobs).
func New(cfg Config) (*Service, error) {
	cfg.setDefaults()
	if cfg.Pool == nil {
		return nil, errors.New("webhook: Config.Pool is required")
	}
	if cfg.Lease <= cfg.Timeout {
		return nil, fmt.Errorf("webhook: the lease (%s) must be longer than the timeout (%s)", cfg.Lease, cfg.Timeout)
	}
	s := &Service{cfg: cfg, pool: cfg.Pool, q: store.New(cfg.Pool), log: cfg.Logger,
		sender: newSender(cfg.Timeout, cfg.AllowPrivate, cfg.Resolver, cfg.WrapTransport)}
	if cfg.SecretKey != nil {
		var err error
		if s.sealer, err = newSealer(cfg.SecretKey); err != nil {
			return nil, err
		}
	}
	inserter, err := river.NewClient(riverpgxv5.New(cfg.Pool), &river.Config{})
	if err != nil {
		return nil, fmt.Errorf("webhook: river client: %w", err)
	}
	s.inserter = inserter
	s.metrics = newMetrics(cfg.Registerer, s.oldestPending)
	return s, nil
}

// Metrics returns the service's metrics.
func (s *Service) Metrics() *Metrics { return s.metrics }

// Configured reports whether endpoints can be created (WEBHOOK_SECRET_KEY
// is set).
func (s *Service) Configured() bool { return s.sealer != nil }

// Queues is the webhook queue, for flow.Config.Queues.
func (s *Service) Queues() map[string]river.QueueConfig {
	return map[string]river.QueueConfig{Queue: {MaxWorkers: s.cfg.Workers}}
}

// AddWorkers registers the delivery and cleanup workers, for
// flow.Config.AddWorkers.
func (s *Service) AddWorkers(w *river.Workers) {
	river.AddWorker(w, &deliverWorker{s: s})
	river.AddWorker(w, &cleanupWorker{s: s})
}

// PeriodicJobs is the cleanup job, for the River client that runs the
// workers (client.PeriodicJobs().AddMany).
func (s *Service) PeriodicJobs() []*river.PeriodicJob {
	return []*river.PeriodicJob{river.NewPeriodicJob(river.PeriodicInterval(s.cfg.CleanupEvery),
		func() (river.JobArgs, *river.InsertOpts) { return cleanupArgs{}, nil },
		&river.PeriodicJobOpts{ID: "webhook_cleanup", RunOnStart: true})}
}

func (s *Service) now() time.Time { return s.cfg.Now().UTC() }

// oldestPending is the age of the oldest pending message, for the gauge.
func (s *Service) oldestPending() float64 {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	age, err := s.q.WebhookMessageOldestPendingAge(ctx, s.now())
	if err != nil {
		s.log.Warn("webhook_oldest_pending_seconds", "error", err.Error())
		return 0
	}
	return age
}

// inTx runs fn in a transaction of the service's pool.
func (s *Service) inTx(ctx context.Context, fn func(pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, s.pool, fn)
}
