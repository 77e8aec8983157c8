package snapcartsim

import (
	"strings"
	"testing"
)

func TestNewValidatesConfig(t *testing.T) {
	t.Parallel()
	cases := []struct {
		cfg   Config
		field string
	}{
		{Config{}, "APIKey"},
		{Config{APIKey: "k", PathPrefix: "x"}, "PathPrefix"},
		{Config{APIKey: "k", PathPrefix: "/a/", CatalogPrefix: "/a/"}, "CatalogPrefix"},
		{Config{APIKey: "k", InitialBalance: -1}, "InitialBalance"},
		{Config{APIKey: "k", SlowAnswer: -1}, "SlowAnswer"},
		{Config{APIKey: "k", CallbackURL: "not a url"}, "CallbackURL"},
		{Config{APIKey: "k", CallbackAttempts: -1}, "CallbackAttempts"},
		{Config{APIKey: "k", Products: []Product{{Code: "X", Type: "pulsa", ItemCode: "X", Inquiry: "sometimes"}}}, "Inquiry"},
		{Config{APIKey: "k", Products: []Product{{Code: "X", Type: "pulsa", ItemCode: "X", Inquiry: InquiryNone}, {Code: "X", Type: "pulsa", ItemCode: "X", Inquiry: InquiryNone}}}, "duplicate"},
	}
	for _, c := range cases {
		_, err := New(c.cfg)
		if err == nil || !strings.Contains(err.Error(), c.field) {
			t.Fatalf("New(%+v) = %v, want an error naming %s", c.cfg, err, c.field)
		}
	}
}

// The vector was computed outside Go: printf '%s' "$body" | openssl dgst
// -sha256 -hmac 'snapcart-callback-secret' (and Python's hmac agrees). The
// client's tests check its own signer against the same vector.
const (
	vectorSecret = "snapcart-callback-secret"
	vectorBody   = `{"request_id":"01KAGRHEMR0341YR52FFQ4SX1S","status_code":"200"}`
	vectorSig    = "386327359247f75f1afdaed86cff42693d10f8d3825ad4a1139ccd2af0b51c00"
)

// TestCallbackSignatureVector: the simulator signs callbacks as the vector
// says, with its own code.
func TestCallbackSignatureVector(t *testing.T) {
	t.Parallel()
	if got := simSign([]byte(vectorSecret), []byte(vectorBody)); got != vectorSig {
		t.Fatalf("simulator signature = %s, want the openssl vector %s", got, vectorSig)
	}
}
