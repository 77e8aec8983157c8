package klikoo

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ppob-orchestrator/orchestrator/internal/providers"
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

func TestSimulatorVerifierReproducesVectors(t *testing.T) {
	t.Parallel()
	v := testVectors(t)
	pub := vectorPublicKey(t)
	if got := simTokenPayload(v.ClientID, v.Timestamp); got != v.TokenRequest.StringToSign {
		t.Fatalf("sim token payload = %q, want %q", got, v.TokenRequest.StringToSign)
	}
	if !simVerifyTokenSignature(pub, v.ClientID, v.Timestamp, v.TokenRequest.Signature) {
		t.Fatalf("sim rejects the vector's token signature")
	}
	tampered := []byte(v.TokenRequest.Signature)
	tampered[10] ^= 1
	if simVerifyTokenSignature(pub, v.ClientID, v.Timestamp, string(tampered)) {
		t.Fatalf("sim accepts a tampered token signature")
	}
	if simVerifyTokenSignature(pub, v.ClientID, "2024-02-07T10:28:36.000+07:00", v.TokenRequest.Signature) {
		t.Fatalf("sim accepts the token signature for another timestamp")
	}
	for _, rq := range v.Requests {
		body := []byte(rq.Body)
		if got := simRequestPayload(rq.Method, rq.Path, v.AccessToken, body, v.Timestamp); got != rq.StringToSign {
			t.Fatalf("%s: sim payload = %q, want %q", rq.Name, got, rq.StringToSign)
		}
		if got := base64.StdEncoding.EncodeToString(simRequestMAC(v.ClientSecret, rq.StringToSign)); got != rq.Signature {
			t.Fatalf("%s: sim MAC = %q, want %q", rq.Name, got, rq.Signature)
		}
		if !simVerifyRequest(v.ClientSecret, rq.Method, rq.Path, v.AccessToken, body, v.Timestamp, rq.Signature) {
			t.Fatalf("%s: sim rejects the vector signature", rq.Name)
		}
		if simVerifyRequest(v.ClientSecret, rq.Method, rq.Path, v.AccessToken, append(body, ' '), v.Timestamp, rq.Signature) {
			t.Fatalf("%s: sim accepts the signature over other body bytes", rq.Name)
		}
	}
}

// vectorSim is a simulator whose clock stands at the vectors' timestamp and
// that knows the vectors' access token.
func vectorSim(t *testing.T) (*Simulator, *httptest.Server, time.Time) {
	t.Helper()
	v := testVectors(t)
	at, err := time.Parse(timestampLayout, v.Timestamp)
	if err != nil {
		t.Fatalf("parse vector timestamp: %v", err)
	}
	sim, err := NewSimulator(SimConfig{
		ClientID: v.ClientID, ClientSecret: v.ClientSecret, PublicKey: vectorPublicKey(t),
		Now: func() time.Time { return at },
	})
	if err != nil {
		t.Fatalf("NewSimulator: %v", err)
	}
	sim.mu.Lock()
	sim.tokens[v.AccessToken] = at.Add(time.Hour)
	sim.mu.Unlock()
	srv := httptest.NewServer(sim)
	t.Cleanup(func() { srv.Close(); sim.Close() })
	return sim, srv, at
}

// TestSimulatorAcceptsVectorRequestsOverHTTP sends the vectors' requests,
// headers and signatures byte for byte to the simulator.
func TestSimulatorAcceptsVectorRequestsOverHTTP(t *testing.T) {
	t.Parallel()
	v := testVectors(t)
	_, srv, _ := vectorSim(t)
	send := func(method, path, body, auth, sig string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, srv.URL+DefaultSimPrefix+path, strings.NewReader(body))
		if err != nil {
			t.Fatalf("request: %v", err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Open-Api-Timestamp", v.Timestamp)
		req.Header.Set("Open-Api-Signature", sig)
		if auth != "" {
			req.Header.Set("Authorization", "Bearer "+auth)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		var env struct {
			Code string `json:"response_code"`
		}
		if err := json.Unmarshal(raw, &env); err != nil {
			t.Fatalf("%s %s: answer %q: %v", method, path, raw, err)
		}
		return resp.StatusCode, env.Code
	}
	tokenBody := `{"grant_type":"client_credentials","additional_info":{"client_id":"` + v.ClientID + `","client_secret":"` + v.ClientSecret + `"}}`
	if status, code := send("POST", tokenPath, tokenBody, "", v.TokenRequest.Signature); status != 200 || code != "200012000" {
		t.Fatalf("token request with the vector signature: %d %s", status, code)
	}
	want := map[string]string{
		"/v1/open-api/products/inquiry":      "200022000",
		"/v1/open-api/products/buy":          "201022001",
		"/v1/open-api/balance":               "200032000",
		"/v1/open-api/transactions/14430374": "200022000", // the buy above got the simulator's first id
	}
	for _, rq := range v.Requests {
		_, code := send(rq.Method, rq.Path, rq.Body, v.AccessToken, rq.Signature)
		if code != want[rq.Path] {
			t.Fatalf("%s: code %s, want %s", rq.Name, code, want[rq.Path])
		}
		bad := []byte(rq.Signature)
		bad[0] ^= 1
		if _, code := send(rq.Method, rq.Path, rq.Body, v.AccessToken, string(bad)); !strings.HasSuffix(code, "6508") || !strings.HasPrefix(code, "400") {
			t.Fatalf("%s with a tampered signature: code %s, want 400xx6508", rq.Name, code)
		}
	}
}

// TestClientSendsVectorBytes drives the real client at the vectors' clock
// and token: the simulator accepts its signatures and the bodies it sends
// are the vectors' bytes.
func TestClientSendsVectorBytes(t *testing.T) {
	t.Parallel()
	v := testVectors(t)
	_, srv, at := vectorSim(t)
	c, err := New(Config{
		BaseURL: srv.URL + DefaultSimPrefix, ClientID: v.ClientID, ClientSecret: v.ClientSecret,
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
	if bal, res := c.Balance(ctx); res.Outcome != providers.Succeeded || bal != DefaultSimBalance-10150 {
		t.Fatalf("balance = %d, %v", bal, res)
	}
	if got := ops(pay.Result); !slices.Equal(got, []string{opPayment}) {
		t.Fatalf("pay calls = %v, want only the buy (the token was cached)", got)
	}
}
