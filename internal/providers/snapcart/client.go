package snapcart

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Name is Snapcart's name, recorded in providers.Call.Provider and stored
// by the flow.
const Name = "snapcart"

// Default path prefixes and timeout of a Client (and of a Simulator).
const (
	DefaultPathPrefix    = "/api/v1/pre-order/"
	DefaultCatalogPrefix = "/api/v1/catalogs/"
	DefaultTimeout       = 10 * time.Second
)

// CatalogTypes are the catalog types Snapcart documents; Products reads each.
var CatalogTypes = []string{"pulsa", "paket-data", "game-voucher", "bpjs"}

// maxBody bounds how much of an answer the client reads; a longer answer is
// unreadable.
const maxBody = 1 << 20

// Config configures a Client. BaseURL and APIKey are required; every other
// field has a default.
type Config struct {
	// BaseURL is scheme and host, optionally with a path that precedes the
	// prefixes ("https://api.snapcart.example").
	BaseURL string
	// PathPrefix precedes inquiry, payment and payment/status/{id}; it starts
	// and ends with "/". Default DefaultPathPrefix.
	PathPrefix string
	// CatalogPrefix precedes the catalog types; it starts and ends with "/".
	// Default DefaultCatalogPrefix.
	CatalogPrefix string
	// CatalogTypes are the catalog types Products reads. Default CatalogTypes.
	CatalogTypes []string
	// APIKey is sent as the x-api-key header and never recorded.
	APIKey string
	// HTTPClient makes the calls. Default: a client with Timeout.
	HTTPClient *http.Client
	// Timeout bounds each call of the default HTTPClient. Default
	// DefaultTimeout. Ignored when HTTPClient is set.
	Timeout time.Duration
	// Now is the clock used to measure latency. Default time.Now.
	Now func() time.Time
	// Logger receives one record per call (no bodies, no secrets). Default:
	// discard.
	Logger *slog.Logger
}

// Client calls Snapcart. It is safe for concurrent use. Every method returns
// the normalized providers types; none returns an error, because every
// failure is an Outcome (Unknown for transport trouble).
type Client struct {
	base          string
	prefix        string
	catalogPrefix string
	catalogTypes  []string
	apiKey        string
	http          *http.Client
	now           func() time.Time
	log           *slog.Logger
}

// New validates cfg, applies the defaults and returns a Client. Errors name
// the offending Config field.
func New(cfg Config) (*Client, error) {
	if cfg.BaseURL == "" {
		return nil, errors.New("snapcart config: BaseURL is required")
	}
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("snapcart config: BaseURL must be an absolute http(s) URL, got %q", redactURL(cfg.BaseURL))
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, errors.New("snapcart config: BaseURL must not carry a query or fragment")
	}
	if cfg.APIKey == "" {
		return nil, errors.New("snapcart config: APIKey is required")
	}
	if strings.ContainsAny(cfg.APIKey, "\r\n") {
		return nil, errors.New("snapcart config: APIKey must not contain line breaks")
	}
	prefix, err := checkPrefix("PathPrefix", cfg.PathPrefix, DefaultPathPrefix)
	if err != nil {
		return nil, err
	}
	catalogPrefix, err := checkPrefix("CatalogPrefix", cfg.CatalogPrefix, DefaultCatalogPrefix)
	if err != nil {
		return nil, err
	}
	types := cfg.CatalogTypes
	if types == nil {
		types = CatalogTypes
	}
	for _, t := range types {
		if t == "" || strings.ContainsAny(t, "/?#% ") {
			return nil, fmt.Errorf("snapcart config: CatalogTypes: invalid type %q", t)
		}
	}
	if cfg.Timeout < 0 {
		return nil, fmt.Errorf("snapcart config: Timeout must not be negative, got %s", cfg.Timeout)
	}
	hc := cfg.HTTPClient
	if hc == nil {
		timeout := cfg.Timeout
		if timeout == 0 {
			timeout = DefaultTimeout
		}
		hc = &http.Client{Timeout: timeout}
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Client{
		base:          strings.TrimRight(u.String(), "/"),
		prefix:        prefix,
		catalogPrefix: catalogPrefix,
		catalogTypes:  append([]string(nil), types...),
		apiKey:        cfg.APIKey,
		http:          hc,
		now:           now,
		log:           log.With("provider", Name),
	}, nil
}

// checkPrefix applies the default and checks that a path prefix starts and
// ends with "/" and holds only path characters.
func checkPrefix(field, p, def string) (string, error) {
	if p == "" {
		return def, nil
	}
	if !strings.HasPrefix(p, "/") || !strings.HasSuffix(p, "/") {
		return "", fmt.Errorf("snapcart config: %s must start and end with \"/\", got %q", field, p)
	}
	for _, c := range p {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("/-_.~", c)) {
			return "", fmt.Errorf("snapcart config: %s holds an invalid character %q", field, c)
		}
	}
	return p, nil
}

// redactURL hides any userinfo of a URL for error messages.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}
