package klikoo

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/ppob-orchestrator/orchestrator/internal/providers"
	"github.com/ppob-orchestrator/orchestrator/internal/providers/klikoo/klikoosim"
)

// tamper is an http.RoundTripper that changes requests after the client
// signed them: a man in the middle on real HTTP, not a mock.
type tamper struct {
	base   http.RoundTripper
	mutate func(*http.Request)
}

func (tp tamper) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	tp.mutate(r)
	return tp.base.RoundTrip(r)
}

func withTamper(mutate func(*http.Request)) func(*options) {
	return withClient(func(c *Config) {
		c.HTTPClient = &http.Client{Timeout: testClientTimeout, Transport: tamper{base: http.DefaultTransport, mutate: mutate}}
	})
}

func TestRefusalsAreRejected(t *testing.T) {
	t.Parallel()
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatalf("GenerateKey: %v", err)
	}
	flipSig := func(r *http.Request) {
		sig := []byte(r.Header.Get("Open-Api-Signature"))
		sig[3] ^= 1
		r.Header.Set("Open-Api-Signature", string(sig))
	}
	cases := []struct {
		name   string
		opt    func(*options)
		reason providers.Reason
		codes  []string // codes of the calls made, in order
	}{
		{"tampered HMAC signature", withTamper(func(r *http.Request) {
			if !strings.HasSuffix(r.URL.Path, tokenPath) {
				flipSig(r)
			}
		}), providers.ReasonBadSignature, []string{"200012000", "400026508"}},
		{"body changed after signing", withTamper(func(r *http.Request) {
			if strings.HasSuffix(r.URL.Path, buyPath) {
				b, _ := io.ReadAll(r.Body)
				b = append(b, ' ')
				r.Body = io.NopCloser(bytes.NewReader(b))
				r.ContentLength = int64(len(b))
			}
		}), providers.ReasonBadSignature, []string{"200012000", "400026508"}},
		{"tampered token signature", withTamper(func(r *http.Request) {
			if strings.HasSuffix(r.URL.Path, tokenPath) {
				flipSig(r)
			}
		}), providers.ReasonBadSignature, []string{"400016508"}},
		{"skewed clock", withClient(func(c *Config) {
			c.Now = func() time.Time { return time.Now().Add(10 * time.Minute) }
		}), providers.ReasonClockSkew, []string{"400016505"}},
		{"wrong client secret", withClient(func(c *Config) { c.ClientSecret = "not-the-secret" }), providers.ReasonBadCredentials, []string{"401016570"}},
		{"wrong client id", withClient(func(c *Config) { c.ClientID = "someone-else" }), providers.ReasonBadCredentials, []string{"401016570"}},
		{"wrong private key", withClient(func(c *Config) { c.PrivateKey = other }), providers.ReasonBadSignature, []string{"400016508"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t, c.opt)
			ref := uuid.NewString()
			pay := e.pay(t, ref, s10, "081234567800", s10.price)
			if pay.Outcome != providers.Rejected || pay.Reason != c.reason {
				t.Fatalf("pay: %v", pay.Result)
			}
			var codes []string
			for _, call := range pay.Calls {
				codes = append(codes, call.Code)
			}
			if !slices.Equal(codes, c.codes) {
				t.Fatalf("codes %v, want %v", codes, c.codes)
			}
			if e.charge(ref).Count != 0 {
				t.Fatalf("a rejected buy was charged")
			}
		})
	}
}

func TestTokenCachedThenRefreshedBeforeExpiry(t *testing.T) {
	t.Parallel()
	e := setup(t) // TokenTTL 900 s: cached until 840 s by the shared clock
	ctx := context.Background()
	step := func(advance time.Duration, want []string) {
		t.Helper()
		e.clock.Advance(advance)
		_, res := e.client.Balance(ctx)
		if res.Outcome != providers.Succeeded || !slices.Equal(ops(res), want) {
			t.Fatalf("after %v: %v calls %v, want %v", advance, res, ops(res), want)
		}
	}
	step(0, []string{opToken, opBalance})
	step(800*time.Second, []string{opBalance})
	step(39*time.Second, []string{opBalance})
	step(2*time.Second, []string{opToken, opBalance}) // 841 s: inside the margin
	step(0, []string{opBalance})
}

func TestTokenExpiresAtSimulator(t *testing.T) {
	t.Parallel()
	e := setup(t, withSim(func(c *klikoosim.Config) { c.TokenTTL = 30 * time.Second }))
	ctx := context.Background()
	if _, res := e.client.Balance(ctx); !slices.Equal(ops(res), []string{opToken, opBalance}) {
		t.Fatalf("first balance calls %v", ops(res))
	}
	// expires_in 30 is cached for 15 s by the client.
	e.clock.Advance(14 * time.Second)
	if _, res := e.client.Balance(ctx); !slices.Equal(ops(res), []string{opBalance}) {
		t.Fatalf("cached balance calls %v", ops(res))
	}
	e.clock.Advance(2 * time.Second)
	if _, res := e.client.Balance(ctx); res.Outcome != providers.Succeeded || !slices.Equal(ops(res), []string{opToken, opBalance}) {
		t.Fatalf("refreshed balance: %v %v", res, ops(res))
	}
}

func TestRevokedTokenRefreshedAndRetriedOnce(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	if _, res := e.client.Balance(ctx); res.Outcome != providers.Succeeded {
		t.Fatalf("balance: %v", res)
	}
	e.sim.RevokeTokens()
	ref := uuid.NewString()
	pay := e.pay(t, ref, s10, "081234567800", s10.price)
	if pay.Outcome != providers.Pending || !slices.Equal(ops(pay.Result), []string{opPayment, opToken, opPayment}) {
		t.Fatalf("pay after revoke: %v calls %v", pay.Result, ops(pay.Result))
	}
	if pay.Calls[0].Code != "401026535" {
		t.Fatalf("first buy code %s, want 401026535", pay.Calls[0].Code)
	}
	if e.charge(ref).Count != 1 {
		t.Fatalf("charge count %d", e.charge(ref).Count)
	}
}

// steppingClock moves forward by step on every reading: with a TokenTTL
// shorter than step, every token the simulator issues has expired by the
// time it is used.
type steppingClock struct {
	mu   sync.Mutex
	t    time.Time
	step time.Duration
}

func (c *steppingClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(c.step)
	return c.t
}

func TestTokenRefusedTwiceIsRejected(t *testing.T) {
	t.Parallel()
	start := time.Now()
	sc := &steppingClock{t: start, step: 2 * time.Second}
	e := setup(t,
		withSim(func(c *klikoosim.Config) { c.Now, c.TokenTTL = sc.Now, time.Second }),
		withClient(func(c *Config) { c.Now = func() time.Time { return start } }),
	)
	ref := uuid.NewString()
	pay := e.pay(t, ref, s10, "081234567800", s10.price)
	if pay.Outcome != providers.Rejected || pay.Reason != providers.ReasonTokenInvalid {
		t.Fatalf("pay: %v", pay.Result)
	}
	if got := ops(pay.Result); !slices.Equal(got, []string{opToken, opPayment, opToken, opPayment}) {
		t.Fatalf("calls %v, want token, buy, token, buy", got)
	}
	if e.charge(ref).Count != 0 {
		t.Fatalf("refused buy charged")
	}
}

func TestConcurrentCallsShareOneTokenFetch(t *testing.T) {
	t.Parallel()
	e := setup(t)
	const n = 16
	results := make(chan providers.Result, n)
	for range n {
		go func() {
			_, res := e.client.Balance(context.Background())
			results <- res
		}()
	}
	fetches := 0
	for range n {
		res := <-results
		if res.Outcome != providers.Succeeded {
			t.Fatalf("balance: %v", res)
		}
		for _, c := range res.Calls {
			if c.Operation == opToken {
				fetches++
			}
		}
	}
	if fetches != 1 {
		t.Fatalf("%d token fetches for %d concurrent calls, want 1", fetches, n)
	}
}

// TestSecretsNeverRecorded runs every operation with a debug logger and
// checks that no secret reaches a Call, a Detail or the log.
func TestSecretsNeverRecorded(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	var mu sync.Mutex
	var sent []string // every signature and bearer token that went on the wire
	e := setup(t, withClient(func(c *Config) {
		c.Logger = slog.New(slog.NewJSONHandler(&lockedWriter{w: &logs, mu: &mu}, &slog.HandlerOptions{Level: slog.LevelDebug}))
		c.HTTPClient = &http.Client{Timeout: testClientTimeout, Transport: tamper{base: http.DefaultTransport, mutate: func(r *http.Request) {
			mu.Lock()
			defer mu.Unlock()
			sent = append(sent, r.Header.Get("Open-Api-Signature"))
			if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
				sent = append(sent, tok)
			}
		}}}
	}))
	ctx := context.Background()
	var results []providers.Result
	inq := e.inquire(t, pln20, "01105691111")
	results = append(results, inq.Result)
	ref := uuid.NewString()
	pay := e.pay(t, ref, pln20, "01105691111", pln20.price)
	results = append(results, pay.Result)
	results = append(results, e.lookup(ref, pay.TransactionID).Result, e.lookup(ref, "").Result)
	_, res := e.client.Balance(ctx)
	results = append(results, res)
	_, res = e.client.Products(ctx)
	results = append(results, res)
	e.sim.RevokeTokens()
	_, res = e.client.Balance(ctx)
	results = append(results, res)

	mu.Lock()
	defer mu.Unlock()
	secrets := append([]string{testVectors(t).ClientSecret, "PRIVATE KEY"}, sent...)
	if len(sent) < 10 {
		t.Fatalf("captured %d wire secrets, want every call's", len(sent))
	}
	var tokenCalls int
	for _, r := range results {
		if r.Outcome != providers.Succeeded && r.Outcome != providers.Pending {
			t.Fatalf("unexpected outcome %v", r)
		}
		for _, c := range r.Calls {
			for _, s := range secrets {
				for _, field := range []string{c.Request, c.Response, c.Message, c.Err, c.Path} {
					if s != "" && strings.Contains(field, s) {
						t.Fatalf("secret %q found in call %+v", s, c)
					}
				}
			}
			if c.Operation == opToken {
				tokenCalls++
				if !strings.Contains(c.Request, `"client_secret":"[redacted]"`) || !strings.Contains(c.Response, `"access_token":"[redacted]"`) {
					t.Fatalf("token call not redacted: %+v", c)
				}
			}
		}
		for _, s := range secrets {
			if s != "" && strings.Contains(r.Detail, s) {
				t.Fatalf("secret in detail %q", r.Detail)
			}
		}
	}
	if tokenCalls != 2 {
		t.Fatalf("%d token calls, want 2", tokenCalls)
	}
	if logs.Len() == 0 {
		t.Fatalf("nothing logged at debug level")
	}
	for _, s := range secrets {
		if s != "" && strings.Contains(logs.String(), s) {
			t.Fatalf("secret %q in logs", s)
		}
	}
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func TestRedactTokenAnswer(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		`{"response_code":"200012000","data":{"access_token":"abc","expires_in":900}}`: `{"data":{"access_token":"[redacted]","expires_in":900},"response_code":"200012000"}`,
		`{"response_code":"200012000","data":"abc"}`:                                   `{"data":"[redacted]","response_code":"200012000"}`,
		`not json abc`: `[unreadable access-token answer of 12 bytes, not recorded]`,
		``:             ``,
	}
	for in, want := range cases {
		if got := redactTokenAnswer([]byte(in)); got != want {
			t.Fatalf("redactTokenAnswer(%s) = %s, want %s", in, got, want)
		}
	}
}
