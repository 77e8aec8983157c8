package klikoosim

import (
	"strings"
	"testing"

	"github.com/ppob-orchestrator/orchestrator/internal/providers"
)

func TestNewValidatesConfig(t *testing.T) {
	t.Parallel()
	good := Config{ClientID: "id", ClientSecret: "secret", PublicKey: vectorPublicKey(t)}
	s, err := New(good)
	if err != nil {
		t.Fatalf("good config: %v", err)
	}
	s.Close()
	cases := []struct {
		field  string
		mutate func(*Config)
	}{
		{"ClientID", func(c *Config) { c.ClientID = "" }},
		{"ClientSecret", func(c *Config) { c.ClientSecret = "" }},
		{"PublicKey", func(c *Config) { c.PublicKey = nil }},
		{"InitialBalance", func(c *Config) { c.InitialBalance = -1 }},
		{"TokenTTL", func(c *Config) { c.TokenTTL = -1 }},
		{"CallbackURL", func(c *Config) { c.CallbackURL = "not a url" }},
		{"Prefix", func(c *Config) { c.Prefix = "klikoo" }},
	}
	for _, c := range cases {
		cfg := good
		c.mutate(&cfg)
		if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), c.field) {
			t.Fatalf("%s: error %v does not name the field", c.field, err)
		}
	}
}

func TestProductsCatalog(t *testing.T) {
	t.Parallel()
	ps := Products()
	want := map[string]providers.Family{
		"PLN20": providers.FamilyPLNPrepaid, "PLN50": providers.FamilyPLNPrepaid, "PLN100": providers.FamilyPLNPrepaid,
		"OVO10": providers.FamilyEWallet, "GOPAY10": providers.FamilyEWallet, "DN1": providers.FamilyEWallet, "MAX5000": providers.FamilyEWallet,
		"S10": providers.FamilyPulsa, "S25": providers.FamilyPulsa, "TELKOMPSTN": providers.FamilyPostpaid, "PDAM": providers.FamilyPostpaid,
		"BPJSKS": providers.FamilyBPJS, "SDATA5GB": providers.FamilyPaketData,
	}
	seen := map[string]bool{}
	for _, p := range ps {
		seen[p.Code] = true
		if f, ok := want[p.Code]; ok && (f != p.Family || !p.Enabled || p.AgentPrice <= 0) {
			t.Fatalf("product %+v", p)
		}
		if p.HasInquiry() != (p.Family != providers.FamilyPulsa && p.Family != providers.FamilyPaketData) {
			t.Fatalf("%s HasInquiry = %v", p.Code, p.HasInquiry())
		}
	}
	for code := range want {
		if !seen[code] {
			t.Fatalf("catalog lacks %s", code)
		}
	}
	ps[0].Code = "CHANGED"
	if Products()[0].Code == "CHANGED" {
		t.Fatalf("Products shares its slice")
	}
}

// TestNoCallbackPlanFor41: scenario 41 (pending forever) plans no callback.
func TestNoCallbackPlanFor41(t *testing.T) {
	t.Parallel()
	if callbackPlan("41") != nil {
		t.Fatalf("41 plans callbacks")
	}
}
