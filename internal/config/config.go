// Package config reads the service's configuration from environment
// variables, once, at start. Every error names the variable at fault.
package config

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Config is the whole configuration. The zero value is not valid; use Load.
type Config struct {
	DatabaseURL string
	HTTPAddr    string
	AdminToken  string

	KlikooBaseURL        string
	KlikooClientID       string
	KlikooClientSecret   string
	KlikooPrivateKeyFile string

	SnapcartBaseURL        string
	SnapcartAPIKey         string
	SnapcartCallbackSecret string

	SimKlikooAddr   string
	SimSnapcartAddr string
	CallbackBaseURL string

	ProviderTimeout     time.Duration
	JobTimeout          time.Duration
	RescueAfter         time.Duration
	StatusDeadline      time.Duration
	PaymentRepeatMinAge time.Duration
	InquiryTTL          time.Duration
	InquiryRetryWindow  time.Duration
	PriceRefreshWindow  time.Duration

	FailoverRefusedAfter time.Duration // routing: refusals this long move a purchase to the next offer
	ProviderTripAfter    int           // routing's health rule: consecutive unanswered calls that trip a provider
	ProviderTripFor      time.Duration // and for how long it is left out of new routes
	PriceMaxAge          time.Duration
	DuplicateWindow      time.Duration
	LookupBackoff        []time.Duration

	RateLimitPerClient int

	KlikooBalanceAlertBelow   int64
	SnapcartBalanceAlertBelow int64

	WebhookTimeout       time.Duration   // one delivery attempt (< JobTimeout)
	WebhookWorkers       int             // River workers for the webhook queue
	WebhookSecretKey     []byte          // 32 bytes sealing the endpoints' secrets; nil when unset
	WebhookRetention     time.Duration   // how long finished messages and attempts are kept
	WebhookAllowInsecure bool            // plain http endpoint URLs are accepted
	WebhookAllowPrivate  bool            // deliveries may connect to private, loopback and reserved addresses
	WebhookRetrySchedule []time.Duration // delays between attempts after the first

	Workers           int           // River workers for the purchase queue
	StepFetchInterval time.Duration // the purchase queue's River poll interval and fetch cooldown
	FetchCooldown     time.Duration // River's client-wide FetchCooldown (insert notifications, the webhook queue)
	JobRetention      time.Duration // how long River keeps completed and cancelled jobs
	DBMaxConns        int32         // the workers' pgx pool size (River and purchase steps)
	APIMaxConns       int32         // the API's pgx pool size (requests and callbacks)
	KeyCacheTTL       time.Duration // how long a process trusts an API key it found enabled (0: never)
	LogLevel          string        // debug, info, warn, error
	LogFormat         string        // text or json

	// ConsoleAddr, when set, serves the operator console on this listener
	// alone instead of at /console/ on the API's.
	ConsoleAddr string
	// ConsoleOperators are the console's operators (CONSOLE_OPERATORS);
	// empty: ADMIN_TOKEN signs in as "admin".
	ConsoleOperators  []Operator
	ConsoleSessionTTL time.Duration // absolute lifetime of a console session

	// MetricsAddr, when set, is the only listener of /metrics (and of pprof
	// when MetricsPprof): the API's listener no longer serves them.
	MetricsAddr  string
	MetricsPprof bool
	// OTLPEndpoint is OTEL_EXPORTER_OTLP_ENDPOINT: traces are exported there
	// (OTLP over HTTP) when set, and not made at all otherwise.
	OTLPEndpoint string
}

// Operator is one entry of CONSOLE_OPERATORS: a name and the SHA-256 of the
// operator's token (the token itself is never configured).
type Operator struct {
	Name      string
	TokenHash [32]byte
}

// Var documents one configuration variable; Vars lists them all, in the
// order docs/configuration.md shows them (a test keeps the two equal).
type Var struct {
	Name, Default, Meaning string
}

// Vars is every variable Load reads.
var Vars = []Var{
	{"DATABASE_URL", "`dev`: a throwaway local cluster; otherwise required", "PostgreSQL URL"},
	{"TEST_DATABASE_URL", "`127.0.0.1:5432` as `postgres`, else a throwaway cluster", "server for `make test` (read by the tests, not the service)"},
	{"HTTP_ADDR", "127.0.0.1:8080", "API listen address"},
	{"ADMIN_TOKEN", "`dev`: generated and printed; otherwise required", "bearer token for `/admin/…`"},
	{"KLIKOO_BASE_URL", "`dev`: the in-process simulator", "Klikoo base URL, including the `/klikoo-b2b` prefix"},
	{"KLIKOO_CLIENT_ID", "`dev`: generated", "Klikoo client id"},
	{"KLIKOO_CLIENT_SECRET", "`dev`: generated", "Klikoo client secret (HMAC key)"},
	{"KLIKOO_PRIVATE_KEY_FILE", "`dev`: generated", "PKCS#8 PEM RSA key for Klikoo's access-token signature"},
	{"SNAPCART_BASE_URL", "`dev`: the in-process simulator", "Snapcart base URL"},
	{"SNAPCART_API_KEY", "`dev`: generated", "Snapcart `x-api-key`"},
	{"SNAPCART_CALLBACK_SECRET", "`dev`: generated; otherwise empty (callbacks are hints)", "HMAC-SHA256 key of Snapcart's `X-Signature`"},
	{"SIM_KLIKOO_ADDR", "127.0.0.1:8081", "where `sim` and `dev` serve the Klikoo simulator"},
	{"SIM_SNAPCART_ADDR", "127.0.0.1:8082", "where `sim` and `dev` serve the Snapcart simulator"},
	{"CALLBACK_BASE_URL", "`dev`: the API's own address", "base URL the simulators send callbacks to"},
	{"PROVIDER_TIMEOUT", "10s", "provider HTTP timeout (< JOB_TIMEOUT)"},
	{"JOB_TIMEOUT", "30s", "one job's timeout (< RESCUE_AFTER)"},
	{"RESCUE_AFTER", "45s", "a running job older than this is rescued (its worker died)"},
	{"STATUS_DEADLINE", "24h", "unresolved purchases go to `needs_review` after this"},
	{"PAYMENT_REPEAT_MIN_AGE", "5m", "earliest repeat of an unknown payment (docs/invariants.md#3-unknown-is-not-failed)"},
	{"INQUIRY_TTL", "10m", "how long a purchase may wait for confirmation"},
	{"INQUIRY_RETRY_WINDOW", "5m", "how long an inquiry without an answer (timeouts, 5xx) or refused is retried before the purchase fails `provider_unavailable` (or `provider_refused`); an inquiry moves no money, so it rides out a provider's brief outage"},
	{"PRICE_MAX_AGE", "1h", "catalog prices older than this are refreshed before use"},
	{"FAILOVER_REFUSED_AFTER", "2m", "how long every call of a purchase's step may be refused (clock, signature, token, IP) before the next offer of its route is tried ([docs/routing.md](docs/routing.md))"},
	{"PROVIDER_TRIP_AFTER", "5", "consecutive calls a provider answers with nothing usable (timeouts, 5xx, refusals) before it is left out of new routes"},
	{"PROVIDER_TRIP_FOR", "1m", "how long a tripped provider is left out of new routes before it is tried again"},
	{"PRICE_REFRESH_WINDOW", "2m", "how long a step with `max_price` keeps trying to refresh a stale catalog price before failing `provider_unavailable` (invariant 8)"},
	{"DUPLICATE_WINDOW", "2m", "the duplicate guard of the API (docs/api.md)"},
	{"LOOKUP_BACKOFF", "5s,10s,30s,1m,2m,5m,15m", "status lookup schedule (docs/invariants.md#10-nothing-waits-forever); the last value repeats until `STATUS_DEADLINE`"},
	{"API_KEY_CACHE_TTL", "10s", "how long a process trusts an API key it found enabled, saving a database read per request; a key disabled in the database still works this long; `0` turns the cache off (at most 5m)"},
	{"RATE_LIMIT_PER_CLIENT", "50", "requests per second per client (burst twice that)"},
	{"KLIKOO_BALANCE_ALERT_BELOW", "1000000", "Klikoo deposit level (rupiah) that raises an alert"},
	{"SNAPCART_BALANCE_ALERT_BELOW", "1000000", "Snapcart deposit level (rupiah) that raises an alert"},
	{"WORKERS", "500", "River workers per process for purchase steps: goroutines, cheap; a step waiting for a provider holds no database connection (`DB_MAX_CONNS` bounds those, docs/performance.md)"},
	{"STEP_FETCH_INTERVAL", "20ms", "how often a process looks for due purchase steps, and at most how often it fetches them: a purchase's next step waits at most about this long; each look is a transaction, also when idle (from 1ms to 1s, docs/performance.md)"},
	{"FETCH_COOLDOWN", "100ms", "River's FetchCooldown: a process sends at most one insert notification per queue per cooldown (each costs every listening process a transaction), and fetches webhook deliveries at most this often (from 1ms to 1s)"},
	{"JOB_RETENTION", "1h", "how long River keeps a completed or cancelled job before deleting it; the audit trail is the purchase's events and provider calls, not the jobs (from 1m to 720h, docs/performance.md#storage)"},
	{"WEBHOOK_TIMEOUT", "15s", "one webhook delivery attempt (< `JOB_TIMEOUT`); no 2xx within it is a failed attempt"},
	{"WEBHOOK_WORKERS", "50", "River workers per process for webhook deliveries, a queue apart from the purchase steps'"},
	{"WEBHOOK_SECRET_KEY", "`dev`: generated (kept in `.orchestrator/`); otherwise unset: `serve` starts, says so, and endpoint creation answers 503", "32 bytes in standard base64 that seal the endpoints' signing secrets (AES-256-GCM)"},
	{"WEBHOOK_RETENTION", "720h", "how long finished webhook messages and their attempts are kept (bounds `recover`)"},
	{"WEBHOOK_ALLOW_INSECURE", "`dev`: true; otherwise false", "accept plain `http` endpoint URLs"},
	{"WEBHOOK_ALLOW_PRIVATE", "`dev`: true; otherwise false", "let deliveries connect to loopback, private, link-local and reserved addresses (the SSRF guard is off)"},
	{"WEBHOOK_RETRY_SCHEDULE", "5s,5m,30m,2h,5h,10h,14h,20h,24h", "delays between a message's attempts after the first (each ±10 %); after the last the delivery is failed"},
	{"DB_MAX_CONNS", "3", "PostgreSQL connections per process for the workers (River, which keeps one for LISTEN, and purchase steps); about the database's cores (docs/performance.md)"},
	{"API_DB_MAX_CONNS", "8", "PostgreSQL connections per process for API requests and callbacks, apart from the workers'"},
	{"LOG_LEVEL", "info", "debug, info, warn or error"},
	{"LOG_FORMAT", "text", "text or json"},
	{"CONSOLE_ADDR", "unset: `/console/` on the API's listener", "serve the operator console on this listener only (see `docs/console.md`)"},
	{"CONSOLE_OPERATORS", "unset: `ADMIN_TOKEN` signs in as `admin`", "the console's operators, `name:sha256hex-of-token,…` (`orchestrator operators create --name NAME` prints a token and its entry)"},
	{"CONSOLE_SESSION_TTL", "12h", "absolute lifetime of a console session (from 5m to 168h; idle sessions end after 30 min)"},
	{"METRICS_ADDR", "unset: on the API's listener", "serve `/metrics` (and pprof when `METRICS_PPROF`) on this listener only; keep it private (docs/deployment.md)"},
	{"METRICS_PPROF", "false", "`true` serves Go's pprof under `/debug/pprof/` on `METRICS_ADDR` (never on the API's listener)"},
	{"OTEL_EXPORTER_OTLP_ENDPOINT", "unset: no traces", "OTLP/HTTP collector base URL traces are exported to (docs/observability.md); the SDK's other `OTEL_*` variables apply"},
}

// Load reads and validates every variable through getenv (os.LookupEnv in
// production). Missing required values are checked separately by Require,
// because `dev` fills them in.
func Load(getenv func(string) (string, bool)) (*Config, error) {
	p := parser{getenv: getenv}
	c := &Config{
		DatabaseURL:               p.str("DATABASE_URL", ""),
		HTTPAddr:                  p.addr("HTTP_ADDR", "127.0.0.1:8080"),
		AdminToken:                p.str("ADMIN_TOKEN", ""),
		KlikooBaseURL:             p.url("KLIKOO_BASE_URL"),
		KlikooClientID:            p.str("KLIKOO_CLIENT_ID", ""),
		KlikooClientSecret:        p.str("KLIKOO_CLIENT_SECRET", ""),
		KlikooPrivateKeyFile:      p.str("KLIKOO_PRIVATE_KEY_FILE", ""),
		SnapcartBaseURL:           p.url("SNAPCART_BASE_URL"),
		SnapcartAPIKey:            p.str("SNAPCART_API_KEY", ""),
		SnapcartCallbackSecret:    p.str("SNAPCART_CALLBACK_SECRET", ""),
		SimKlikooAddr:             p.addr("SIM_KLIKOO_ADDR", "127.0.0.1:8081"),
		SimSnapcartAddr:           p.addr("SIM_SNAPCART_ADDR", "127.0.0.1:8082"),
		CallbackBaseURL:           p.url("CALLBACK_BASE_URL"),
		ProviderTimeout:           p.duration("PROVIDER_TIMEOUT", 10*time.Second),
		JobTimeout:                p.duration("JOB_TIMEOUT", 30*time.Second),
		RescueAfter:               p.duration("RESCUE_AFTER", 45*time.Second),
		StatusDeadline:            p.duration("STATUS_DEADLINE", 24*time.Hour),
		PaymentRepeatMinAge:       p.duration("PAYMENT_REPEAT_MIN_AGE", 5*time.Minute),
		InquiryTTL:                p.duration("INQUIRY_TTL", 10*time.Minute),
		InquiryRetryWindow:        p.duration("INQUIRY_RETRY_WINDOW", 5*time.Minute),
		PriceMaxAge:               p.duration("PRICE_MAX_AGE", time.Hour),
		PriceRefreshWindow:        p.duration("PRICE_REFRESH_WINDOW", 2*time.Minute),
		FailoverRefusedAfter:      p.duration("FAILOVER_REFUSED_AFTER", 2*time.Minute),
		ProviderTripAfter:         int(p.int("PROVIDER_TRIP_AFTER", 5, 1, 1000)),
		ProviderTripFor:           p.duration("PROVIDER_TRIP_FOR", time.Minute),
		DuplicateWindow:           p.duration("DUPLICATE_WINDOW", 2*time.Minute),
		LookupBackoff:             p.durations("LOOKUP_BACKOFF", "5s,10s,30s,1m,2m,5m,15m"),
		RateLimitPerClient:        int(p.int("RATE_LIMIT_PER_CLIENT", 50, 1, 100_000)),
		KlikooBalanceAlertBelow:   p.int("KLIKOO_BALANCE_ALERT_BELOW", 1_000_000, 0, 1<<53),
		SnapcartBalanceAlertBelow: p.int("SNAPCART_BALANCE_ALERT_BELOW", 1_000_000, 0, 1<<53),
		WebhookTimeout:            p.duration("WEBHOOK_TIMEOUT", 15*time.Second),
		WebhookWorkers:            int(p.int("WEBHOOK_WORKERS", 50, 1, 10_000)),
		WebhookSecretKey:          p.key32("WEBHOOK_SECRET_KEY"),
		WebhookRetention:          p.duration("WEBHOOK_RETENTION", 720*time.Hour),
		WebhookAllowInsecure:      p.bool("WEBHOOK_ALLOW_INSECURE", false),
		WebhookAllowPrivate:       p.bool("WEBHOOK_ALLOW_PRIVATE", false),
		WebhookRetrySchedule:      p.durations("WEBHOOK_RETRY_SCHEDULE", "5s,5m,30m,2h,5h,10h,14h,20h,24h"),
		Workers:                   int(p.int("WORKERS", 500, 1, 10_000)),
		StepFetchInterval:         p.durationBetween("STEP_FETCH_INTERVAL", 20*time.Millisecond, time.Millisecond, time.Second),
		FetchCooldown:             p.durationBetween("FETCH_COOLDOWN", 100*time.Millisecond, time.Millisecond, time.Second),
		JobRetention:              p.durationBetween("JOB_RETENTION", time.Hour, time.Minute, 720*time.Hour),
		DBMaxConns:                int32(p.int("DB_MAX_CONNS", 3, 2, 1000)),
		APIMaxConns:               int32(p.int("API_DB_MAX_CONNS", 8, 1, 1000)),
		KeyCacheTTL:               p.durationUpTo("API_KEY_CACHE_TTL", 10*time.Second, 5*time.Minute),
		LogLevel:                  p.oneOf("LOG_LEVEL", "info", "debug", "info", "warn", "error"),
		LogFormat:                 p.oneOf("LOG_FORMAT", "text", "text", "json"),
		ConsoleAddr:               p.optionalAddr("CONSOLE_ADDR"),
		ConsoleOperators:          p.operators("CONSOLE_OPERATORS"),
		ConsoleSessionTTL:         p.durationIf("CONSOLE_SESSION_TTL", 12*time.Hour, func(d time.Duration) bool { return d >= 5*time.Minute && d <= 168*time.Hour }, "a duration from 5m to 168h like 12h"),
		MetricsAddr:               p.optionalAddr("METRICS_ADDR"),
		MetricsPprof:              p.oneOf("METRICS_PPROF", "false", "true", "false") == "true",
		OTLPEndpoint:              p.url("OTEL_EXPORTER_OTLP_ENDPOINT"),
	}
	if p.err == nil {
		p.err = c.checkOrder()
	}
	if p.err == nil {
		p.err = c.checkMetrics()
	}
	if p.err != nil {
		return nil, p.err
	}
	return c, nil
}

// checkOrder checks the timeouts are ordered: a provider call ends before its
// job times out, and a job times out before River rescues it as stuck.
func (c *Config) checkOrder() error {
	switch {
	case c.ProviderTimeout >= c.JobTimeout:
		return fmt.Errorf("PROVIDER_TIMEOUT (%s) must be shorter than JOB_TIMEOUT (%s)", c.ProviderTimeout, c.JobTimeout)
	case c.JobTimeout >= c.RescueAfter:
		return fmt.Errorf("JOB_TIMEOUT (%s) must be shorter than RESCUE_AFTER (%s)", c.JobTimeout, c.RescueAfter)
	case c.RescueAfter > time.Minute:
		return fmt.Errorf("RESCUE_AFTER (%s) must be at most 1m, so a killed worker's job is picked up quickly", c.RescueAfter)
	case c.WebhookTimeout >= c.JobTimeout:
		return fmt.Errorf("WEBHOOK_TIMEOUT (%s) must be shorter than JOB_TIMEOUT (%s)", c.WebhookTimeout, c.JobTimeout)
	case c.PaymentRepeatMinAge >= c.StatusDeadline:
		return fmt.Errorf("PAYMENT_REPEAT_MIN_AGE (%s) must be shorter than STATUS_DEADLINE (%s)", c.PaymentRepeatMinAge, c.StatusDeadline)
	}
	return nil
}

// checkMetrics keeps pprof off the API's listener: it needs a metrics
// listener of its own, and that listener is neither the API's nor the
// console's.
func (c *Config) checkMetrics() error {
	switch {
	case c.MetricsPprof && c.MetricsAddr == "":
		return errors.New("METRICS_PPROF needs METRICS_ADDR: pprof is never served on the API's listener")
	case c.MetricsAddr != "" && c.MetricsAddr == c.HTTPAddr:
		return fmt.Errorf("METRICS_ADDR (%s) must differ from HTTP_ADDR", c.MetricsAddr)
	case c.MetricsAddr != "" && c.MetricsAddr == c.ConsoleAddr:
		return fmt.Errorf("METRICS_ADDR (%s) must differ from CONSOLE_ADDR", c.MetricsAddr)
	}
	return nil
}

// Require checks the variables that have no default outside `dev`.
func (c *Config) Require(names ...string) error {
	values := map[string]string{
		"DATABASE_URL": c.DatabaseURL, "ADMIN_TOKEN": c.AdminToken,
		"KLIKOO_BASE_URL": c.KlikooBaseURL, "KLIKOO_CLIENT_ID": c.KlikooClientID,
		"KLIKOO_CLIENT_SECRET": c.KlikooClientSecret, "KLIKOO_PRIVATE_KEY_FILE": c.KlikooPrivateKeyFile,
		"SNAPCART_BASE_URL": c.SnapcartBaseURL, "SNAPCART_API_KEY": c.SnapcartAPIKey,
	}
	for _, n := range names {
		v, known := values[n]
		if !known {
			return fmt.Errorf("config: %s is not a required variable", n)
		}
		if v == "" {
			return fmt.Errorf("%s is required", n)
		}
	}
	if c.AdminToken != "" && len(c.AdminToken) < 16 {
		return errors.New("ADMIN_TOKEN must be at least 16 characters")
	}
	return nil
}

// parser accumulates the first error, so Load reads like a table.
type parser struct {
	getenv func(string) (string, bool)
	err    error
}

func (p *parser) raw(name string) (string, bool) {
	v, ok := p.getenv(name)
	v = strings.TrimSpace(v)
	return v, ok && v != ""
}

func (p *parser) fail(format string, args ...any) {
	if p.err == nil {
		p.err = fmt.Errorf(format, args...)
	}
}

func (p *parser) str(name, def string) string {
	if v, ok := p.raw(name); ok {
		return v
	}
	return def
}

func (p *parser) url(name string) string {
	v, ok := p.raw(name)
	if !ok {
		return ""
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		p.fail("%s must be an http or https URL, got %q", name, v)
		return ""
	}
	return strings.TrimRight(v, "/")
}

func (p *parser) addr(name, def string) string {
	v := p.str(name, def)
	if _, port, err := net.SplitHostPort(v); err != nil || port == "" {
		p.fail("%s must be host:port, got %q", name, v)
	}
	return v
}

// optionalAddr reads a host:port that may be unset ("").
func (p *parser) optionalAddr(name string) string {
	if _, ok := p.raw(name); !ok {
		return ""
	}
	return p.addr(name, "")
}

// operatorNameRe is what an operator's name may hold: it is shown in the
// console and written into audit events.
var operatorNameRe = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// operators reads `name:sha256hex,name2:sha256hex`: unique names, each with
// the 64 hex digits of its token's SHA-256.
func (p *parser) operators(name string) []Operator {
	v, ok := p.raw(name)
	if !ok {
		return nil
	}
	var out []Operator
	seen := map[string]bool{}
	for i, entry := range strings.Split(v, ",") {
		n, h, found := strings.Cut(strings.TrimSpace(entry), ":")
		raw, err := hex.DecodeString(h)
		switch {
		case !found || !operatorNameRe.MatchString(n):
			p.fail("%s entry %d must be name:sha256hex with a name of 1-64 of A-Z a-z 0-9 . _ -", name, i+1)
			return nil
		case err != nil || len(raw) != sha256.Size:
			p.fail("%s entry %d (%s) must carry the 64 hex digits of its token's SHA-256", name, i+1, n)
			return nil
		case seen[n]:
			p.fail("%s names %s twice", name, n)
			return nil
		}
		seen[n] = true
		op := Operator{Name: n}
		copy(op.TokenHash[:], raw)
		out = append(out, op)
	}
	return out
}

func (p *parser) duration(name string, def time.Duration) time.Duration {
	return p.durationIf(name, def, func(d time.Duration) bool { return d > 0 }, "a positive duration like 30s or 5m")
}

// durationUpTo reads a duration from 0 to max.
func (p *parser) durationUpTo(name string, def, max time.Duration) time.Duration {
	return p.durationIf(name, def, func(d time.Duration) bool { return d >= 0 && d <= max },
		fmt.Sprintf("a duration from 0 to %s like 10s", max))
}

// durationBetween reads a duration from min to max.
func (p *parser) durationBetween(name string, def, min, max time.Duration) time.Duration {
	return p.durationIf(name, def, func(d time.Duration) bool { return d >= min && d <= max },
		fmt.Sprintf("a duration from %s to %s like %s", min, max, def))
}

// durationIf reads a duration that valid accepts; want says what it must be.
func (p *parser) durationIf(name string, def time.Duration, valid func(time.Duration) bool, want string) time.Duration {
	v, ok := p.raw(name)
	if !ok {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || !valid(d) {
		p.fail("%s must be %s, got %q", name, want, v)
		return def
	}
	return d
}

func (p *parser) durations(name, def string) []time.Duration {
	v := p.str(name, def)
	var out []time.Duration
	for _, part := range strings.Split(v, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(part))
		if err != nil || d <= 0 {
			p.fail("%s must be a comma-separated list of positive durations like 5s,10s,1m, got %q", name, v)
			return nil
		}
		out = append(out, d)
	}
	return out
}

func (p *parser) int(name string, def, min, max int64) int64 {
	v, ok := p.raw(name)
	if !ok {
		return def
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < min || n > max {
		p.fail("%s must be a whole number from %d to %d, got %q", name, min, max, v)
		return def
	}
	return n
}

func (p *parser) bool(name string, def bool) bool {
	v, ok := p.raw(name)
	if !ok {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		p.fail("%s must be true or false, got %q", name, v)
		return def
	}
	return b
}

// key32 reads 32 bytes in standard base64; unset is nil. The value is a
// secret: an error never repeats it.
func (p *parser) key32(name string) []byte {
	v, ok := p.raw(name)
	if !ok {
		return nil
	}
	b, err := base64.StdEncoding.DecodeString(v)
	if err != nil || len(b) != 32 {
		p.fail("%s must be 32 bytes in standard base64 (e.g. the output of `openssl rand -base64 32`)", name)
		return nil
	}
	return b
}

func (p *parser) oneOf(name, def string, allowed ...string) string {
	v := p.str(name, def)
	for _, a := range allowed {
		if v == a {
			return v
		}
	}
	p.fail("%s must be one of %s, got %q", name, strings.Join(allowed, ", "), v)
	return def
}
