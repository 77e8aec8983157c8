package klikoo

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"
)

// providerName is Call.Provider for every exchange of this package.
const providerName = "klikoo"

// DefaultTimeout is the HTTP timeout of a Client whose Config sets neither
// HTTPClient nor Timeout.
const DefaultTimeout = 10 * time.Second

// defaultPageSize is the page size of the product list and history search.
const defaultPageSize = 50

// Config configures a Client. BaseURL, ClientID, ClientSecret and PrivateKey
// are required; the rest have defaults.
type Config struct {
	// BaseURL is Klikoo's base URL including its path prefix, e.g.
	// "https://pvpapi.klikoo.id/klikoo-b2b". The signed path is the part of a
	// request's path after this prefix.
	BaseURL string
	// ClientID and ClientSecret are the Open API credentials. The secret keys
	// the HMAC signatures and is sent only in the access-token request body;
	// it never appears in a Call, a Detail, an error or a log.
	ClientID     string
	ClientSecret string
	// PrivateKey signs the access-token request (RSA-2048, see
	// ParsePrivateKeyPEM).
	PrivateKey *rsa.PrivateKey
	// HTTPClient makes the calls. When nil, a client with Timeout is used.
	// When set, its own Timeout governs and Timeout is ignored.
	HTTPClient *http.Client
	// Timeout bounds each HTTP exchange of the default HTTPClient
	// (DefaultTimeout when zero).
	Timeout time.Duration
	// Now is the clock of timestamps, the token cache and the history
	// window (time.Now when nil).
	Now func() time.Time
	// Logger receives one debug record per exchange and warnings for
	// unrecognised transaction statuses; it never sees a secret. Nil discards.
	Logger *slog.Logger
}

// Client calls Klikoo's Open API. It is safe for concurrent use; the access
// token is cached and shared by all calls. Every method returns the shared
// providers types with each HTTP exchange recorded, redacted, in
// Result.Calls; none returns a Go error for a provider or network failure:
// the Outcome says what happened.
type Client struct {
	baseURL  string // without a trailing slash
	clientID string
	secret   string
	key      *rsa.PrivateKey
	http     *http.Client
	now      func() time.Time
	log      *slog.Logger
	pageSize int
	newRef   func() string
	tokens   tokenCache
}

// New validates cfg and returns a Client. Errors name the offending field.
func New(cfg Config) (*Client, error) {
	if cfg.BaseURL == "" {
		return nil, errors.New("klikoo config: BaseURL is required")
	}
	u, err := url.Parse(cfg.BaseURL)
	if err != nil {
		return nil, fmt.Errorf("klikoo config: BaseURL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("klikoo config: BaseURL: scheme must be http or https, got %q", u.Scheme)
	}
	if u.Host == "" {
		return nil, errors.New("klikoo config: BaseURL: host is missing")
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, errors.New("klikoo config: BaseURL: must not carry a query or fragment")
	}
	if cfg.ClientID == "" {
		return nil, errors.New("klikoo config: ClientID is required")
	}
	if cfg.ClientSecret == "" {
		return nil, errors.New("klikoo config: ClientSecret is required")
	}
	if cfg.PrivateKey == nil {
		return nil, errors.New("klikoo config: PrivateKey is required")
	}
	if err := cfg.PrivateKey.Validate(); err != nil {
		return nil, fmt.Errorf("klikoo config: PrivateKey: %w", err)
	}
	if cfg.Timeout < 0 {
		return nil, fmt.Errorf("klikoo config: Timeout must not be negative, got %v", cfg.Timeout)
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
		baseURL:  strings.TrimRight(cfg.BaseURL, "/"),
		clientID: cfg.ClientID,
		secret:   cfg.ClientSecret,
		key:      cfg.PrivateKey,
		http:     hc,
		now:      now,
		log:      log.With("provider", providerName),
		pageSize: defaultPageSize,
		newRef:   func() string { return uuid.NewString() },
		tokens:   newTokenCache(),
	}, nil
}

// ParsePrivateKeyPEM reads an RSA private key from PEM: PKCS#8 ("PRIVATE
// KEY", what Klikoo issues) or PKCS#1 ("RSA PRIVATE KEY"). Errors never
// include key material.
func ParsePrivateKeyPEM(data []byte) (*rsa.PrivateKey, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("klikoo private key: no PEM block found")
	}
	switch block.Type {
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("klikoo private key: PKCS#8: %w", err)
		}
		rk, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("klikoo private key: PKCS#8 holds a %T, want RSA", k)
		}
		return rk, nil
	case "RSA PRIVATE KEY":
		k, err := x509.ParsePKCS1PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("klikoo private key: PKCS#1: %w", err)
		}
		return k, nil
	default:
		return nil, fmt.Errorf("klikoo private key: unexpected PEM block %q", block.Type)
	}
}
