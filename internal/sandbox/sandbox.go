// Package sandbox runs both provider simulators with matching credentials and
// provides the demo catalog they sell: what `orchestrator dev`, `orchestrator
// sim`, the flow's tests, the chaos test and the benchmark run against.
package sandbox

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/ppob-orchestrator/orchestrator/internal/flow"
	"github.com/ppob-orchestrator/orchestrator/internal/providers"
	"github.com/ppob-orchestrator/orchestrator/internal/providers/klikoo"
	"github.com/ppob-orchestrator/orchestrator/internal/providers/klikoo/klikoosim"
	"github.com/ppob-orchestrator/orchestrator/internal/providers/snapcart"
	"github.com/ppob-orchestrator/orchestrator/internal/providers/snapcart/snapcartsim"
)

// Credentials are what both sides of a provider connection must agree on.
type Credentials struct {
	KlikooClientID         string
	KlikooClientSecret     string
	KlikooPrivateKey       *rsa.PrivateKey
	SnapcartAPIKey         string
	SnapcartCallbackSecret string
}

// NewCredentials generates fresh credentials (a 2048-bit RSA key and random
// secrets), for dev and tests.
func NewCredentials() (Credentials, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return Credentials{}, err
	}
	return Credentials{
		KlikooClientID: randomHex(16), KlikooClientSecret: randomHex(32), KlikooPrivateKey: key,
		SnapcartAPIKey: randomHex(32), SnapcartCallbackSecret: randomHex(32),
	}, nil
}

// PrivateKeyPEM returns the Klikoo key as PKCS#8 PEM, the form
// KLIKOO_PRIVATE_KEY_FILE holds.
func (c Credentials) PrivateKeyPEM() ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(c.KlikooPrivateKey)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// Options tune the simulators; zero values take each simulator's defaults.
type Options struct {
	CallbackBaseURL string // callbacks go to <base>/callbacks/klikoo and /callbacks/snapcart; empty: none
	SlowAnswer      time.Duration
	IndexLag        time.Duration
	CallbackDelay   time.Duration
	Now             func() time.Time
	Logger          *slog.Logger
}

// Sims holds both simulators.
type Sims struct {
	Klikoo   *klikoosim.Simulator
	Snapcart *snapcartsim.Simulator
}

// NewSims builds both simulators with creds.
func NewSims(creds Credentials, o Options) (*Sims, error) {
	kcb, scb := "", ""
	if o.CallbackBaseURL != "" {
		kcb, scb = o.CallbackBaseURL+"/callbacks/klikoo", o.CallbackBaseURL+"/callbacks/snapcart"
	}
	k, err := klikoosim.New(klikoosim.Config{
		ClientID: creds.KlikooClientID, ClientSecret: creds.KlikooClientSecret, PublicKey: &creds.KlikooPrivateKey.PublicKey,
		Now: o.Now, SlowAnswer: o.SlowAnswer, IndexLag: o.IndexLag, CallbackURL: kcb, CallbackDelay: o.CallbackDelay, Logger: o.Logger,
	})
	if err != nil {
		return nil, fmt.Errorf("klikoo simulator: %w", err)
	}
	s, err := snapcartsim.New(snapcartsim.Config{
		APIKey: creds.SnapcartAPIKey, Now: o.Now, SlowAnswer: o.SlowAnswer, IndexLag: o.IndexLag,
		CallbackURL: scb, CallbackSecret: creds.SnapcartCallbackSecret, CallbackDelay: o.CallbackDelay, Logger: o.Logger,
	})
	if err != nil {
		k.Close()
		return nil, fmt.Errorf("snapcart simulator: %w", err)
	}
	return &Sims{Klikoo: k, Snapcart: s}, nil
}

// Close stops both simulators' timers and callbacks.
func (s *Sims) Close() {
	s.Klikoo.Close()
	s.Snapcart.Close()
}

// ClientOptions configure the provider clients.
type ClientOptions struct {
	KlikooBaseURL   string // including the /klikoo-b2b prefix
	SnapcartBaseURL string
	Timeout         time.Duration
	Now             func() time.Time
	Logger          *slog.Logger
	HTTPClient      *http.Client
}

// Clients builds both provider clients with creds.
func Clients(creds Credentials, o ClientOptions) (*klikoo.Client, *snapcart.Client, error) {
	k, err := klikoo.New(klikoo.Config{
		BaseURL: o.KlikooBaseURL, ClientID: creds.KlikooClientID, ClientSecret: creds.KlikooClientSecret,
		PrivateKey: creds.KlikooPrivateKey, Timeout: o.Timeout, Now: o.Now, Logger: o.Logger, HTTPClient: o.HTTPClient,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("klikoo client: %w", err)
	}
	s, err := snapcart.New(snapcart.Config{
		BaseURL: o.SnapcartBaseURL, APIKey: creds.SnapcartAPIKey, Timeout: o.Timeout, Now: o.Now, Logger: o.Logger,
		HTTPClient:   o.HTTPClient,
		CatalogTypes: append(append([]string{}, snapcart.CatalogTypes...), "postpaid"),
	})
	if err != nil {
		return nil, nil, fmt.Errorf("snapcart client: %w", err)
	}
	return k, s, nil
}

// Catalog returns the demo catalog: every product both simulators sell,
// under their own codes, with the simulators' prices.
func Catalog() []flow.CatalogEntry {
	var out []flow.CatalogEntry
	for _, p := range klikoosim.Products() {
		inquiry := "none"
		switch p.Family {
		case providers.FamilyPLNPrepaid, providers.FamilyEWallet:
			inquiry = "optional"
		case providers.FamilyPostpaid, providers.FamilyBPJS:
			inquiry = "required"
		}
		out = append(out, flow.CatalogEntry{
			Code: p.Code, Name: p.Name, Provider: klikoo.Name, Family: p.Family, Inquiry: inquiry,
			ProviderProductCode: p.Code, Price: p.AgentPrice,
		})
	}
	for _, p := range snapcartsim.Products() {
		if p.Inactive {
			continue
		}
		out = append(out, flow.CatalogEntry{
			Code: p.Code, Name: p.Name, Provider: snapcart.Name, Family: p.Family, Inquiry: string(p.Inquiry),
			ProviderProductCode: p.Code, ItemCode: p.ItemCode, Price: p.Price,
		})
	}
	return append(out, RoutedCatalog()...)
}

// RoutedCatalog is the demo catalog's products that both simulators sell
// (docs/routing.md): Telkomsel 10.000 routed to Klikoo first (Klikoo's S10,
// then Snapcart's TSEL10), and Telkomsel data 5 GB routed to Snapcart first
// (Snapcart's TSEL-DATA-5GB, then Klikoo's SDATA5GB).
func RoutedCatalog() []flow.CatalogEntry {
	return []flow.CatalogEntry{
		{Code: "PULSA-TSEL-10K", Name: "Telkomsel 10.000 (Klikoo, then Snapcart)", Family: providers.FamilyPulsa,
			Provider: klikoo.Name, Inquiry: "none", ProviderProductCode: "S10", Priority: 10, Price: simPrice(klikoo.Name, "S10")},
		{Code: "PULSA-TSEL-10K", Name: "Telkomsel 10.000 (Klikoo, then Snapcart)", Family: providers.FamilyPulsa,
			Provider: snapcart.Name, Inquiry: "none", ProviderProductCode: "TSEL10", Priority: 20, Price: simPrice(snapcart.Name, "TSEL10")},
		{Code: "DATA-TSEL-5GB", Name: "Telkomsel data 5 GB (Snapcart, then Klikoo)", Family: providers.FamilyPaketData,
			Provider: snapcart.Name, Inquiry: "none", ProviderProductCode: "TSEL-DATA-5GB", ItemCode: "TSELD5", Priority: 10, Price: simPrice(snapcart.Name, "TSEL-DATA-5GB")},
		{Code: "DATA-TSEL-5GB", Name: "Telkomsel data 5 GB (Snapcart, then Klikoo)", Family: providers.FamilyPaketData,
			Provider: klikoo.Name, Inquiry: "none", ProviderProductCode: "SDATA5GB", Priority: 20, Price: simPrice(klikoo.Name, "SDATA5GB")},
	}
}

// simPrice is a simulator's price of one of its products (0 if it sells none).
func simPrice(provider, code string) int64 {
	if provider == klikoo.Name {
		for _, p := range klikoosim.Products() {
			if p.Code == code {
				return p.AgentPrice
			}
		}
		return 0
	}
	for _, p := range snapcartsim.Products() {
		if p.Code == code {
			return p.Price
		}
	}
	return 0
}

// Setups returns the flow's setups of the two providers: Snapcart's
// callbacks verified with callbackSecret (empty: they are hints), and the
// deposit levels that alert.
func Setups(k *klikoo.Client, s *snapcart.Client, callbackSecret string, klikooAlertBelow, snapcartAlertBelow int64) map[string]flow.ProviderSetup {
	sc := flow.ProviderSetup{Client: s, Policy: snapcart.Policy, BalanceAlertBelow: snapcartAlertBelow}
	if callbackSecret != "" {
		secret := []byte(callbackSecret)
		sc.VerifyCallback = func(body []byte, sig string) bool { return snapcart.VerifyCallback(secret, body, sig) }
	}
	return map[string]flow.ProviderSetup{
		klikoo.Name:   {Client: k, Policy: klikoo.Policy, BalanceAlertBelow: klikooAlertBelow},
		snapcart.Name: sc,
	}
}
