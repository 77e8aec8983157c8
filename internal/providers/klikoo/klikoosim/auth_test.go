package klikoosim

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

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
	at, err := time.Parse(simTimestampLayout, v.Timestamp)
	if err != nil {
		t.Fatalf("parse vector timestamp: %v", err)
	}
	sim, err := New(Config{
		ClientID: v.ClientID, ClientSecret: v.ClientSecret, PublicKey: vectorPublicKey(t),
		Now: func() time.Time { return at },
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	sim.IssueToken(v.AccessToken, at.Add(time.Hour))
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
		req, err := http.NewRequest(method, srv.URL+DefaultPrefix+path, strings.NewReader(body))
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
