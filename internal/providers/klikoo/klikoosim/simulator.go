package klikoosim

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

// The Open API paths the simulator serves under its prefix, as Klikoo
// documents them. They are the simulator's own, not the client's: the two
// sides meet only on the wire.
const (
	tokenPath           = "/v1/open-api/access-token"
	productsPath        = "/v1/open-api/products"
	prepaidInquiryPath  = "/v1/open-api/products/inquiry"
	postpaidInquiryPath = "/v1/open-api/transactions/inquiry-postpaid"
	buyPath             = "/v1/open-api/products/buy"
	transactionsPath    = "/v1/open-api/transactions"
	balancePath         = "/v1/open-api/balance"
)

// providerName is the provider the simulator plays, in its log lines.
const providerName = "klikoo"

// wib is Western Indonesia Time (UTC+7), the zone of Klikoo's timestamps.
var wib = time.FixedZone("WIB", 7*60*60)

// Simulator defaults.
const (
	DefaultPrefix        = "/klikoo-b2b"
	DefaultBalance       = int64(1_000_000_000)
	DefaultMaxSkew       = 5 * time.Minute
	DefaultTokenTTL      = 900 * time.Second
	DefaultSlowAnswer    = 15 * time.Second
	DefaultIndexLag      = 60 * time.Second
	DefaultCallbackDelay = 2 * time.Second
)

// Config configures a Simulator. ClientID, ClientSecret and PublicKey are
// required; zero values elsewhere take the defaults named beside them.
type Config struct {
	// Prefix is the path prefix of the API (DefaultPrefix when empty; "/"
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
	// (DefaultMaxSkew).
	MaxSkew time.Duration
	// TokenTTL is the life of an access token (DefaultTokenTTL).
	TokenTTL time.Duration
	// InitialBalance is the deposit at start and after a reset
	// (DefaultBalance).
	InitialBalance int64
	// SlowAnswer is how long slow scenarios hold an answer
	// (DefaultSlowAnswer, real time).
	SlowAnswer time.Duration
	// IndexLag is how long after its charge a scenario-35 transaction stays
	// invisible to lookups (DefaultIndexLag, by Now).
	IndexLag time.Duration
	// CallbackURL receives callbacks; empty sends none.
	CallbackURL string
	// CallbackDelay is the real time from acceptance to the first callback
	// (DefaultCallbackDelay); scenario 01 calls back at once.
	CallbackDelay time.Duration
	// CallbackClient sends callbacks (a client with a 5 s timeout when nil).
	CallbackClient *http.Client
	// Logger records what the simulator does (discarded when nil).
	Logger *slog.Logger
}

// Simulator is an http.Handler that speaks Klikoo's Open API wire format
// with its own signature verification, a simkit.Ledger of charges, the
// scenarios of docs/simulators.md, unsigned callbacks, and the simkit /_sim/
// control routes. It is safe for concurrent use. Call Close to stop its
// callback goroutines.
type Simulator struct {
	cfg     Config
	log     *slog.Logger
	ledger  *simkit.Ledger
	faults  *simkit.Injector
	handler http.Handler
	catalog map[string]Product

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

// New validates cfg and returns a Simulator.
func New(cfg Config) (*Simulator, error) {
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
		cfg.Prefix = DefaultPrefix
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
	setDefault(&cfg.MaxSkew, DefaultMaxSkew)
	setDefault(&cfg.TokenTTL, DefaultTokenTTL)
	setDefault(&cfg.SlowAnswer, DefaultSlowAnswer)
	setDefault(&cfg.IndexLag, DefaultIndexLag)
	setDefault(&cfg.CallbackDelay, DefaultCallbackDelay)
	if cfg.InitialBalance == 0 {
		cfg.InitialBalance = DefaultBalance
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
		catalog: map[string]Product{},
		ctx:     ctx,
		cancel:  cancel,
		tokens:  map[string]time.Time{},
	}
	for _, p := range Products() {
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

// Lookups returns how many lookups (transaction detail and history rows)
// have seen the transaction of partner_reference_id ref; 0 when there is
// none. The scenarios whose answers change with the lookups count these.
func (s *Simulator) Lookups(ref string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if tx := s.txns[ref]; tx != nil {
		return tx.lookups
	}
	return 0
}

// IssueToken makes token a valid access token until expires (by Config.Now),
// as if the simulator had issued it. It is for replaying recorded exchanges
// whose token is fixed, such as the signature test vectors.
func (s *Simulator) IssueToken(token string, expires time.Time) {
	s.mu.Lock()
	s.tokens[token] = expires
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
