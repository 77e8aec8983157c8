package klikoo

import (
	"context"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/ppob-orchestrator/orchestrator/internal/providers"
	"github.com/ppob-orchestrator/orchestrator/internal/providers/klikoo/klikoosim"
)

func TestClientSignerReproducesVectors(t *testing.T) {
	t.Parallel()
	v := testVectors(t)
	if got := tokenStringToSign(v.ClientID, v.Timestamp); got != v.TokenRequest.StringToSign {
		t.Fatalf("token string to sign = %q, want %q", got, v.TokenRequest.StringToSign)
	}
	sig, err := tokenSignature(testKey(t), v.ClientID, v.Timestamp)
	if err != nil {
		t.Fatalf("tokenSignature: %v", err)
	}
	if sig != v.TokenRequest.Signature {
		t.Fatalf("token signature = %q, want %q", sig, v.TokenRequest.Signature)
	}
	if len(v.Requests) != 4 {
		t.Fatalf("vectors hold %d requests, want 4", len(v.Requests))
	}
	for _, rq := range v.Requests {
		var body []byte
		if rq.Body != "" {
			body = []byte(rq.Body)
		}
		if got := requestStringToSign(rq.Method, rq.Path, v.AccessToken, body, v.Timestamp); got != rq.StringToSign {
			t.Fatalf("%s: string to sign = %q, want %q", rq.Name, got, rq.StringToSign)
		}
		got := requestSignature(v.ClientSecret, rq.Method, rq.Path, v.AccessToken, body, v.Timestamp)
		if got != rq.Signature {
			t.Fatalf("%s: signature = %q, want %q", rq.Name, got, rq.Signature)
		}
		if len(got) != 88 {
			t.Fatalf("%s: signature has %d characters, want 88", rq.Name, len(got))
		}
	}
}

// vectorSim is a simulator whose clock stands at the vectors' timestamp and
// that knows the vectors' access token.
func vectorSim(t *testing.T) (*httptest.Server, time.Time) {
	t.Helper()
	v := testVectors(t)
	at, err := time.Parse(timestampLayout, v.Timestamp)
	if err != nil {
		t.Fatalf("parse vector timestamp: %v", err)
	}
	sim, err := klikoosim.New(klikoosim.Config{
		ClientID: v.ClientID, ClientSecret: v.ClientSecret, PublicKey: vectorPublicKey(t),
		Now: func() time.Time { return at },
	})
	if err != nil {
		t.Fatalf("klikoosim.New: %v", err)
	}
	sim.IssueToken(v.AccessToken, at.Add(time.Hour))
	srv := httptest.NewServer(sim)
	t.Cleanup(func() { srv.Close(); sim.Close() })
	return srv, at
}

// TestClientSendsVectorBytes drives the real client at the vectors' clock
// and token: the simulator accepts its signatures and the bodies it sends
// are the vectors' bytes.
func TestClientSendsVectorBytes(t *testing.T) {
	t.Parallel()
	v := testVectors(t)
	srv, at := vectorSim(t)
	c, err := New(Config{
		BaseURL: srv.URL + klikoosim.DefaultPrefix, ClientID: v.ClientID, ClientSecret: v.ClientSecret,
		PrivateKey: testKey(t), Now: func() time.Time { return at }, Timeout: testClientTimeout,
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	c.tokens.store(v.AccessToken, at.Add(time.Hour))
	ctx := context.Background()

	inq := c.Inquiry(ctx, providers.InquiryRequest{
		ProductCode: "PLN20", Family: providers.FamilyPLNPrepaid, CustomerNumber: "01105691111", Phone: "01105691111",
		Amount: 20500, SellingPrice: 21000, Reference: "42323-42234-44226-96273",
	})
	if inq.Outcome != providers.Succeeded {
		t.Fatalf("inquiry: %v", inq.Result)
	}
	if got := lastCall(t, inq.Result).Request; got != v.Requests[0].Body {
		t.Fatalf("inquiry body = %s, want %s", got, v.Requests[0].Body)
	}
	pay := c.Pay(ctx, providers.PaymentRequest{
		Reference: "9d37f9ad-3b1c-4c5e-8f0a-1b2c3d4e5f60", ProductCode: "S10", Family: providers.FamilyPulsa,
		CustomerNumber: "081234567800", Amount: 10150, SellingPrice: 11000,
	})
	if pay.Outcome != providers.Pending || pay.TransactionID == "" {
		t.Fatalf("pay: %v (transaction %q)", pay.Result, pay.TransactionID)
	}
	if got := lastCall(t, pay.Result).Request; got != v.Requests[1].Body {
		t.Fatalf("buy body = %s, want %s", got, v.Requests[1].Body)
	}
	if bal, res := c.Balance(ctx); res.Outcome != providers.Succeeded || bal != klikoosim.DefaultBalance-10150 {
		t.Fatalf("balance = %d, %v", bal, res)
	}
	if got := ops(pay.Result); !slices.Equal(got, []string{opPayment}) {
		t.Fatalf("pay calls = %v, want only the buy (the token was cached)", got)
	}
}
