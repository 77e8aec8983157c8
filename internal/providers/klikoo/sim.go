package klikoo

import (
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ppob-orchestrator/orchestrator/internal/providers/simkit"
)

// Simulator defaults.
const (
	DefaultSimPrefix       = "/klikoo-b2b"
	DefaultSimBalance      = int64(1_000_000_000)
	DefaultSimMaxSkew      = 5 * time.Minute
	DefaultSimTokenTTL     = 900 * time.Second
	DefaultSimSlowAnswer   = 15 * time.Second
	DefaultSimIndexLag     = 60 * time.Second
	DefaultSimCallbackWait = 2 * time.Second
)

// SimConfig configures a Simulator. ClientID, ClientSecret and PublicKey are
// required; zero values elsewhere take the defaults named beside them.
type SimConfig struct {
	// Prefix is the path prefix of the API (DefaultSimPrefix when empty; "/"
	// for none). The /_sim/ control routes are mounted at the root.
	Prefix string
	// ClientID and ClientSecret are the only credentials accepted.
	ClientID     string
	ClientSecret string
	// PublicKey verifies the access-token request's RSA signature.
	PublicKey *rsa.PublicKey
	// Now is the simulator's clock: timestamps' skew, token expiry, index
	// lag, transaction times (time.Now when nil).
	Now func() time.Time
	// MaxSkew is the tolerated distance between Open-Api-Timestamp and Now
	// (DefaultSimMaxSkew).
	MaxSkew time.Duration
	// TokenTTL is the life of an access token (DefaultSimTokenTTL).
	TokenTTL time.Duration
	// InitialBalance is the deposit at start and after a reset
	// (DefaultSimBalance).
	InitialBalance int64
	// SlowAnswer is how long slow scenarios hold an answer
	// (DefaultSimSlowAnswer, real time).
	SlowAnswer time.Duration
	// IndexLag is how long after its charge a scenario-35 transaction stays
	// invisible to lookups (DefaultSimIndexLag, by Now).
	IndexLag time.Duration
	// CallbackURL receives callbacks; empty sends none.
	CallbackURL string
	// CallbackDelay is the real time from acceptance to the first callback
	// (DefaultSimCallbackWait).
	CallbackDelay time.Duration
	// CallbackClient sends callbacks (a client with a 5 s timeout when nil).
	CallbackClient *http.Client
	// Logger records what the simulator does (discarded when nil).
	Logger *slog.Logger
}

// Simulator is an http.Handler that speaks Klikoo's Open API wire format
// with its own signature verification, a simkit.Ledger of charges, the
// scenario table of providers.md, unsigned callbacks, and the simkit /_sim/
// control routes. It is safe for concurrent use. Call Close to stop its
// callback goroutines.
type Simulator struct {
	cfg     SimConfig
	log     *slog.Logger
	ledger  *simkit.Ledger
	faults  *simkit.Injector
	handler http.Handler
	catalog map[string]SimProduct

	ctx    context.Context // canceled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu        sync.Mutex
	tokens    map[string]time.Time // access token → expiry, by Now
	txns      map[string]*simTxn   // by partner_reference_id
	byID      map[string]*simTxn   // by transaction_id
	order     []*simTxn            // in creation order
	nextID    int64
	inquiries map[string]int  // inquiries seen per value (scenario 14)
	dropped   map[string]bool // scenario-32 references whose first buy was dropped
}

// NewSimulator validates cfg and returns a Simulator.
func NewSimulator(cfg SimConfig) (*Simulator, error) {
	switch {
	case cfg.ClientID == "":
		return nil, errors.New("klikoo simulator config: ClientID is required")
	case cfg.ClientSecret == "":
		return nil, errors.New("klikoo simulator config: ClientSecret is required")
	case cfg.PublicKey == nil:
		return nil, errors.New("klikoo simulator config: PublicKey is required")
	case cfg.InitialBalance < 0:
		return nil, fmt.Errorf("klikoo simulator config: InitialBalance must not be negative, got %d", cfg.InitialBalance)
	}
	for name, d := range map[string]time.Duration{"MaxSkew": cfg.MaxSkew, "TokenTTL": cfg.TokenTTL, "SlowAnswer": cfg.SlowAnswer, "IndexLag": cfg.IndexLag, "CallbackDelay": cfg.CallbackDelay} {
		if d < 0 {
			return nil, fmt.Errorf("klikoo simulator config: %s must not be negative, got %v", name, d)
		}
	}
	if cfg.CallbackURL != "" {
		u, err := url.Parse(cfg.CallbackURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("klikoo simulator config: CallbackURL %q is not an http(s) URL", cfg.CallbackURL)
		}
	}
	switch cfg.Prefix {
	case "":
		cfg.Prefix = DefaultSimPrefix
	case "/":
		cfg.Prefix = ""
	default:
		if !strings.HasPrefix(cfg.Prefix, "/") {
			return nil, fmt.Errorf("klikoo simulator config: Prefix must start with /, got %q", cfg.Prefix)
		}
		cfg.Prefix = strings.TrimRight(cfg.Prefix, "/")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	setDefault(&cfg.MaxSkew, DefaultSimMaxSkew)
	setDefault(&cfg.TokenTTL, DefaultSimTokenTTL)
	setDefault(&cfg.SlowAnswer, DefaultSimSlowAnswer)
	setDefault(&cfg.IndexLag, DefaultSimIndexLag)
	setDefault(&cfg.CallbackDelay, DefaultSimCallbackWait)
	if cfg.InitialBalance == 0 {
		cfg.InitialBalance = DefaultSimBalance
	}
	if cfg.CallbackClient == nil {
		cfg.CallbackClient = &http.Client{Timeout: 5 * time.Second}
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Simulator{
		cfg:     cfg,
		log:     log.With("simulator", providerName),
		ledger:  simkit.NewLedger(cfg.InitialBalance, cfg.Now),
		faults:  &simkit.Injector{},
		catalog: map[string]SimProduct{},
		ctx:     ctx,
		cancel:  cancel,
		tokens:  map[string]time.Time{},
	}
	for _, p := range SimProducts() {
		s.catalog[p.Code] = p
	}
	s.resetState()

	mux := http.NewServeMux()
	p := cfg.Prefix
	mux.HandleFunc("POST "+p+tokenPath, s.handleToken)
	mux.HandleFunc("POST "+p+productsPath, s.authed("04", s.handleProducts))
	mux.HandleFunc("POST "+p+prepaidInquiryPath, s.authed("02", s.handlePrepaidInquiry))
	mux.HandleFunc("POST "+p+postpaidInquiryPath, s.authed("02", s.handlePostpaidInquiry))
	mux.HandleFunc("POST "+p+buyPath, s.authed("02", s.handleBuy))
	mux.HandleFunc("GET "+p+transactionsPath+"/{id}", s.authed("02", s.handleDetail))
	mux.HandleFunc("GET "+p+transactionsPath, s.authed("02", s.handleHistory))
	mux.HandleFunc("GET "+p+balancePath, s.authed("03", s.handleBalance))
	simkit.Mount(mux, s.ledger, s.faults, cfg.InitialBalance, s.resetState)
	s.handler = s.faults.Wrap(mux)
	return s, nil
}

func setDefault(d *time.Duration, def time.Duration) {
	if *d == 0 {
		*d = def
	}
}

// ServeHTTP serves the Klikoo API under the prefix and /_sim/ at the root.
func (s *Simulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.handler.ServeHTTP(w, r)
}

// Ledger returns the simulator's ledger of charges.
func (s *Simulator) Ledger() *simkit.Ledger { return s.ledger }

// Faults returns the simulator's fault injector (also driven by POST
// /_sim/faults).
func (s *Simulator) Faults() *simkit.Injector { return s.faults }

// RevokeTokens invalidates every access token issued so far, as Klikoo does
// when it rotates them: the next call with one answers 401xx6535.
func (s *Simulator) RevokeTokens() {
	s.mu.Lock()
	s.tokens = map[string]time.Time{}
	s.mu.Unlock()
}

// Close stops pending callbacks and waits for the callback goroutines to
// end. The handler keeps answering; it just sends no more callbacks.
func (s *Simulator) Close() {
	s.mu.Lock() // scheduleCallbacks adds to wg under mu only while not canceled
	s.cancel()
	s.mu.Unlock()
	s.wg.Wait()
}

// resetState forgets every transaction and scenario counter (POST
// /_sim/reset; the ledger and faults are reset by simkit). Access tokens
// stay valid.
func (s *Simulator) resetState() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.txns = map[string]*simTxn{}
	s.byID = map[string]*simTxn{}
	s.order = nil
	s.nextID = 14430374
	s.inquiries = map[string]int{}
	s.dropped = map[string]bool{}
}

// simAnswer is the envelope the simulator writes.
type simAnswer struct {
	ResponseCode    string `json:"response_code"`
	ResponseMessage string `json:"response_message"`
	Data            any    `json:"data,omitempty"`
}

// reply writes a Klikoo answer; the HTTP status is the code's first three
// digits.
func reply(w http.ResponseWriter, code, message string, data any) {
	status := http.StatusInternalServerError
	if len(code) >= 3 {
		if n, err := strconv.Atoi(code[:3]); err == nil && n >= 100 && n <= 599 {
			status = n
		}
	}
	simkit.WriteJSON(w, status, simAnswer{ResponseCode: code, ResponseMessage: message, Data: data})
}
