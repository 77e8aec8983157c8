package snapcartsim

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/ppob-orchestrator/orchestrator/internal/providers"
	"github.com/ppob-orchestrator/orchestrator/internal/providers/simkit"
)

// providerName is the provider the simulator plays, in its log lines.
const providerName = "snapcart"

// The routes' default prefixes, as Snapcart's pages show them: the
// pre-order API (inquiry, payment, payment status) and the catalog.
const (
	DefaultPathPrefix    = "/api/v1/pre-order/"
	DefaultCatalogPrefix = "/api/v1/catalogs/"
)

// Simulator defaults.
const (
	DefaultBalance          = 1_000_000_000
	DefaultInquiryValidity  = 30 * time.Minute
	DefaultSlowAnswer       = 15 * time.Second
	DefaultIndexLag         = 60 * time.Second
	DefaultCallbackDelay    = 2 * time.Second
	DefaultCallbackAttempts = 3
)

// Config configures a Simulator. APIKey is required; zero values take the
// defaults above.
type Config struct {
	// APIKey is the x-api-key the simulator accepts; any other key gets 401.
	APIKey string
	// PathPrefix and CatalogPrefix are where the pre-order API and the
	// catalog are served, each starting and ending with "/" (defaults
	// DefaultPathPrefix, DefaultCatalogPrefix); the client's Config has the
	// same two. The /_sim/ control routes are at the root.
	PathPrefix, CatalogPrefix string
	// InitialBalance is the deposit (default DefaultBalance); /_sim/reset
	// restores it.
	InitialBalance int64
	// Products is the catalog (default Products()).
	Products []Product
	// Now is the clock for inquiry validity, index lag and timestamps.
	Now func() time.Time
	// InquiryValidity is how long a request_id may be paid (then 410).
	InquiryValidity time.Duration
	// SlowAnswer is how long scenarios 14, 31, 32 and 35 hold an answer;
	// it must exceed the client's timeout.
	SlowAnswer time.Duration
	// IndexLag is how long after the charge scenario 35's lookups say 404.
	IndexLag time.Duration
	// CallbackURL receives callbacks; empty disables them.
	CallbackURL string
	// CallbackSecret signs callbacks (X-Signature); empty sends them unsigned.
	CallbackSecret string
	// CallbackDelay is the wait from acceptance to the first callback, and
	// between retries; scenario 01 calls back at once.
	CallbackDelay time.Duration
	// CallbackAttempts bounds the deliveries of one callback body (retries
	// on errors and non-2xx answers).
	CallbackAttempts int
	// HTTPClient sends callbacks (default: a client with a 10 s timeout).
	HTTPClient *http.Client
	// Logger receives callback delivery problems (default: discard).
	Logger *slog.Logger
}

// Simulator is an http.Handler speaking Snapcart's wire format, with a
// ledger of charges, scenario behaviour chosen by the customer identifier
// (providers.Scenario of bill_number, or user_id for game vouchers), fault
// injection and the simkit control routes. It is safe for concurrent use.
// Close stops its callbacks.
type Simulator struct {
	cfg      Config
	handler  http.Handler
	ledger   *simkit.Ledger
	faults   *simkit.Injector
	catalog  []Product
	products map[string]Product
	types    map[string]bool
	log      *slog.Logger

	ctx    context.Context // canceled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu           sync.Mutex
	inquiries    map[string]*simInquiry // by request_id
	txns         map[string]*simTxn     // accepted payments, by request_id
	inquiryTries map[string]int         // scenario 14, by product and identifier
	dropped      map[string]bool        // scenario 32 first attempts
	seq          int
}

// simInquiry is a billing inquiry waiting for its payment.
type simInquiry struct {
	requestID, product, identifier, reference string
	amount                                    int64
	at                                        time.Time
}

// simTxn is an accepted payment.
type simTxn struct {
	requestID, reference, identifier, scenario string
	product                                    Product
	amount                                     int64
	charged                                    bool
	acceptedAt                                 time.Time
	lookups                                    int
	ack                                        []byte // the first acknowledgement, answered again on repeats
	orderID, paymentID, serial                 string
	callbackSent                               bool
}

// New validates cfg, applies the defaults and returns a Simulator.
// Errors name the offending Config field.
func New(cfg Config) (*Simulator, error) {
	if cfg.APIKey == "" {
		return nil, errors.New("snapcart sim config: APIKey is required")
	}
	var err error
	if cfg.PathPrefix, err = routePrefix("PathPrefix", cfg.PathPrefix, DefaultPathPrefix); err != nil {
		return nil, fmt.Errorf("snapcart sim config: %w", err)
	}
	if cfg.CatalogPrefix, err = routePrefix("CatalogPrefix", cfg.CatalogPrefix, DefaultCatalogPrefix); err != nil {
		return nil, fmt.Errorf("snapcart sim config: %w", err)
	}
	if cfg.PathPrefix == cfg.CatalogPrefix {
		return nil, errors.New("snapcart sim config: PathPrefix and CatalogPrefix must differ")
	}
	if cfg.InitialBalance < 0 {
		return nil, errors.New("snapcart sim config: InitialBalance must not be negative")
	}
	if cfg.InitialBalance == 0 {
		cfg.InitialBalance = DefaultBalance
	}
	for name, d := range map[string]*time.Duration{
		"InquiryValidity": &cfg.InquiryValidity, "SlowAnswer": &cfg.SlowAnswer,
		"IndexLag": &cfg.IndexLag, "CallbackDelay": &cfg.CallbackDelay,
	} {
		if *d < 0 {
			return nil, fmt.Errorf("snapcart sim config: %s must not be negative, got %s", name, *d)
		}
	}
	setDefault(&cfg.InquiryValidity, DefaultInquiryValidity)
	setDefault(&cfg.SlowAnswer, DefaultSlowAnswer)
	setDefault(&cfg.IndexLag, DefaultIndexLag)
	setDefault(&cfg.CallbackDelay, DefaultCallbackDelay)
	if cfg.CallbackAttempts < 0 {
		return nil, errors.New("snapcart sim config: CallbackAttempts must not be negative")
	}
	if cfg.CallbackAttempts == 0 {
		cfg.CallbackAttempts = DefaultCallbackAttempts
	}
	if cfg.CallbackURL != "" {
		u, err := url.Parse(cfg.CallbackURL)
		if err != nil {
			return nil, errors.New("snapcart sim config: CallbackURL must be an absolute http(s) URL")
		}
		if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("snapcart sim config: CallbackURL must be an absolute http(s) URL, got %q", u.Redacted())
		}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Products == nil {
		cfg.Products = Products()
	}
	s := &Simulator{
		cfg:      cfg,
		ledger:   simkit.NewLedger(cfg.InitialBalance, cfg.Now),
		faults:   &simkit.Injector{},
		products: map[string]Product{},
		types:    map[string]bool{"pulsa": true, "paket-data": true, "game-voucher": true, "bpjs": true},
		log:      cfg.Logger.With("simulator", providerName),
	}
	for _, p := range cfg.Products {
		if err := p.validate(); err != nil {
			return nil, fmt.Errorf("snapcart sim config: Products: %w", err)
		}
		if _, dup := s.products[p.Code]; dup {
			return nil, fmt.Errorf("snapcart sim config: Products: duplicate code %s", p.Code)
		}
		s.products[p.Code] = p
		s.catalog = append(s.catalog, p)
		s.types[p.Type] = true
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.resetState()

	mux := http.NewServeMux()
	pp, cp := cfg.PathPrefix, cfg.CatalogPrefix
	mux.Handle("POST "+pp+"inquiry", s.authed(s.handleInquiry))
	mux.Handle("POST "+pp+"payment", s.authed(s.handlePayment))
	mux.Handle("GET "+pp+"payment/status/{id}", s.authed(s.handleStatus))
	mux.Handle("GET "+cp+"{type}", s.authed(s.handleCatalogList))
	mux.Handle("GET "+cp+"{type}/{code}", s.authed(s.handleCatalogProduct))
	mux.Handle("GET "+cp+"{type}/{code}/items", s.authed(s.handleCatalogItems))
	simkit.Mount(mux, s.ledger, s.faults, cfg.InitialBalance, s.resetState)
	s.handler = s.faults.Wrap(mux)
	return s, nil
}

// routePrefix applies def to an empty prefix and checks that p is a plain
// path that starts and ends with "/", fit to mount routes under.
func routePrefix(field, p, def string) (string, error) {
	if p == "" {
		return def, nil
	}
	if !strings.HasPrefix(p, "/") || !strings.HasSuffix(p, "/") {
		return "", fmt.Errorf("%s must start and end with \"/\", got %q", field, p)
	}
	if u, err := url.Parse(p); err != nil || u.Path != p || strings.ContainsAny(p, "{} ") {
		return "", fmt.Errorf("%s must be a plain path, got %q", field, p)
	}
	return p, nil
}

func setDefault(d *time.Duration, def time.Duration) {
	if *d == 0 {
		*d = def
	}
}

// ServeHTTP implements http.Handler.
func (s *Simulator) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// Ledger returns the simulator's ledger of charges (keyed by reference_id).
func (s *Simulator) Ledger() *simkit.Ledger { return s.ledger }

// Faults returns the fault injector (also driven by POST /_sim/faults).
func (s *Simulator) Faults() *simkit.Injector { return s.faults }

// Close stops pending and future callbacks and waits for their goroutines.
// The handler keeps answering. Close is idempotent.
func (s *Simulator) Close() {
	s.mu.Lock()
	s.cancel() // under mu: scheduleCallbacks adds to wg only before this
	s.mu.Unlock()
	s.wg.Wait()
}

// resetState forgets inquiries, payments and scenario counters.
func (s *Simulator) resetState() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inquiries = map[string]*simInquiry{}
	s.txns = map[string]*simTxn{}
	s.inquiryTries = map[string]int{}
	s.dropped = map[string]bool{}
}

// authed refuses calls without the configured x-api-key.
func (s *Simulator) authed(h http.HandlerFunc) http.Handler {
	want := []byte(s.cfg.APIKey)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("x-api-key")), want) != 1 {
			writeStatus(w, http.StatusUnauthorized, "401", "Unauthorized", "Invalid API key")
			return
		}
		h(w, r)
	})
}

// simAnswer is an answer with data (data may be null).
type simAnswer struct {
	Data          any    `json:"data"`
	StatusCode    string `json:"status_code"`
	StatusMessage string `json:"status_message"`
	Error         string `json:"error,omitempty"`
}

// simError is an error answer without data, as the seed's error examples.
type simError struct {
	StatusCode    string `json:"status_code"`
	StatusMessage string `json:"status_message"`
	Error         string `json:"error"`
}

func writeAnswer(w http.ResponseWriter, httpStatus int, a simAnswer) {
	simkit.WriteJSON(w, httpStatus, a)
}

func writeStatus(w http.ResponseWriter, httpStatus int, code, message, errText string) {
	simkit.WriteJSON(w, httpStatus, simError{StatusCode: code, StatusMessage: message, Error: errText})
}

func writeBadRequest(w http.ResponseWriter, errText string) {
	writeStatus(w, http.StatusBadRequest, "400", "Bad request", errText)
}

func writeRaw(w http.ResponseWriter, httpStatus int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(httpStatus)
	_, _ = w.Write(body)
}

// simRequest is the body of an inquiry or a payment.
type simRequest struct {
	ProductCode string `json:"product_code"`
	RequestID   string `json:"request_id"`
	BillNumber  string `json:"bill_number"`
	UserID      string `json:"user_id"`
	ZoneID      string `json:"zone_id"`
	ItemCode    string `json:"item_code"`
	ReferenceID string `json:"reference_id"`
}

// decodeRequest reads a request body; on error it has answered 400.
func decodeRequest(w http.ResponseWriter, r *http.Request) (simRequest, bool) {
	var req simRequest
	body := http.MaxBytesReader(w, r.Body, 1<<16)
	err := json.NewDecoder(body).Decode(&req)
	// Read to the end so the server notices a client that goes away while a
	// scenario holds the answer.
	_, _ = io.Copy(io.Discard, body)
	if err != nil {
		writeBadRequest(w, "Invalid JSON body")
		return req, false
	}
	return req, true
}

// checkCommon validates product_code and reference_id and finds the product;
// on error it has answered.
func (s *Simulator) checkCommon(w http.ResponseWriter, req simRequest, referenceRequired bool) (Product, bool) {
	switch {
	case req.ProductCode == "":
		writeBadRequest(w, "Required field (product_code)")
		return Product{}, false
	case len(req.ProductCode) > 64:
		writeBadRequest(w, "Invalid field (product_code)")
		return Product{}, false
	case req.ReferenceID == "" && referenceRequired:
		writeBadRequest(w, "Required field (reference_id)")
		return Product{}, false
	case req.ReferenceID != "" && !simValidReference(req.ReferenceID):
		writeBadRequest(w, "Invalid field (reference_id)")
		return Product{}, false
	}
	p, ok := s.products[req.ProductCode]
	if !ok || p.Inactive {
		writeProductNotFound(w)
		return Product{}, false
	}
	return p, true
}

// writeProductNotFound answers Snapcart's refusal of a product it does not
// sell (now): 404 "Product not found".
func writeProductNotFound(w http.ResponseWriter) {
	writeStatus(w, http.StatusNotFound, "404", "Product not found", "Inactive or invalid product_code")
}

// closed reports whether Snapcart's product is closed for this customer:
// the routing scenarios 16 and 17, where Snapcart is the provider that
// cannot sell (docs/simulators.md). The other routing scenario, 15, is a
// default success here.
func closed(ident string) bool {
	switch providers.Scenario(ident) {
	case "16", "17":
		return true
	}
	return false
}

// simValidReference is Snapcart's reference_id rule: 1–100 letters, digits,
// dashes, underscores.
func simValidReference(s string) bool {
	if len(s) > 100 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return s != ""
}

// identification validates the identification set of a product and returns
// the scenario identifier (bill_number, or user_id for game vouchers), or an
// error text for a 400 "Bad request".
func identification(p Product, req simRequest) (string, string) {
	if p.Family.UsesUserID() {
		switch {
		case req.BillNumber != "":
			return "", "Provide only one identification set"
		case req.UserID == "":
			return "", "Required field (user_id)"
		case len(req.UserID) > 32:
			return "", "Invalid field (user_id)"
		case req.ZoneID == "" && p.ZoneRequired:
			return "", "Required field (zone_id)"
		case len(req.ZoneID) > 16:
			return "", "Invalid field (zone_id)"
		}
		return req.UserID, ""
	}
	switch {
	case req.UserID != "" || req.ZoneID != "":
		return "", "Provide only one identification set"
	case req.BillNumber == "":
		return "", "Required field (bill_number)"
	case len(req.BillNumber) < 8 || len(req.BillNumber) > 18:
		return "", "Invalid field (bill_number): length must be 8-18"
	}
	return req.BillNumber, ""
}
