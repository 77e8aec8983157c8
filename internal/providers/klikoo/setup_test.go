package klikoo

import (
	"crypto/rsa"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/ppob-orchestrator/orchestrator/internal/providers"
	"github.com/ppob-orchestrator/orchestrator/internal/providers/klikoo/klikoosim"
	"github.com/ppob-orchestrator/orchestrator/internal/providers/klikoo/testvectors"
	"github.com/ppob-orchestrator/orchestrator/internal/providers/simkit"
)

// Test timings: short enough for a package run of a few seconds. Tests of
// slow answers use testShortTimeout, well inside testSlowAnswer; the others
// keep a generous timeout so a busy machine does not fail them.
const (
	testClientTimeout = 5 * time.Second
	testShortTimeout  = time.Second
	testSlowAnswer    = 3 * time.Second
	testCallbackDelay = 50 * time.Millisecond
	testIndexLag      = 60 * time.Second
)

var loadVectors = sync.OnceValues(testvectors.Load)

var loadKey = sync.OnceValues(func() (*rsa.PrivateKey, error) {
	v, err := loadVectors()
	if err != nil {
		return nil, err
	}
	return ParsePrivateKeyPEM([]byte(v.PrivateKey))
})

func testVectors(t testing.TB) testvectors.Vectors {
	t.Helper()
	v, err := loadVectors()
	if err != nil {
		t.Fatalf("load vectors: %v", err)
	}
	return v
}

func testKey(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	k, err := loadKey()
	if err != nil {
		t.Fatalf("load key: %v", err)
	}
	return k
}

// vectorPublicKey is the vectors' public key, parsed on its own, so the
// simulator's verification does not lean on the private key.
func vectorPublicKey(t testing.TB) *rsa.PublicKey {
	t.Helper()
	pub, err := testVectors(t).RSAPublicKey()
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

// clock is a settable clock shared by a client and a simulator.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Now()} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// receiver collects callbacks.
type receiver struct {
	srv    *httptest.Server
	mu     sync.Mutex
	bodies [][]byte
}

func newReceiver(t *testing.T) *receiver {
	rc := &receiver{}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.bodies = append(rc.bodies, b)
		rc.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

// forRef returns the callbacks received so far for ref.
func (rc *receiver) forRef(t *testing.T, ref string) [][]byte {
	t.Helper()
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out [][]byte
	for _, b := range rc.bodies {
		var v struct {
			Ref string `json:"partner_reference_id"`
		}
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatalf("callback is not JSON: %q", b)
		}
		if v.Ref == ref {
			out = append(out, b)
		}
	}
	return out
}

// waitFor polls until ref has n callbacks, failing after a deadline.
func (rc *receiver) waitFor(t *testing.T, ref string, n int) [][]byte {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := rc.forRef(t, ref)
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("callbacks for %s: got %d, want %d", ref, len(got), n)
		}
		time.Sleep(10 * time.Millisecond) // polling a condition, not waiting for a duration
	}
}

// env is what a test needs: a simulator on a real HTTP server and a client
// speaking to it, sharing one clock.
type env struct {
	sim       *klikoosim.Simulator
	srv       *httptest.Server
	client    *Client
	clock     *clock
	callbacks *receiver
}

type options struct {
	sim       func(*klikoosim.Config)
	client    func(*Config)
	callbacks bool
}

func withSim(f func(*klikoosim.Config)) func(*options) { return func(o *options) { o.sim = f } }
func withClient(f func(*Config)) func(*options) {
	return func(o *options) { o.client = f }
}
func withShortTimeout() func(*options) {
	return func(o *options) { o.client = func(c *Config) { c.Timeout = testShortTimeout } }
}
func withCallbacks() func(*options) { return func(o *options) { o.callbacks = true } }

func setup(t *testing.T, opts ...func(*options)) *env {
	t.Helper()
	var o options
	for _, f := range opts {
		f(&o)
	}
	v := testVectors(t)
	e := &env{clock: newClock()}
	sc := klikoosim.Config{
		ClientID: v.ClientID, ClientSecret: v.ClientSecret, PublicKey: &testKey(t).PublicKey,
		Now: e.clock.Now, SlowAnswer: testSlowAnswer, IndexLag: testIndexLag, CallbackDelay: testCallbackDelay,
	}
	if o.callbacks {
		e.callbacks = newReceiver(t)
		sc.CallbackURL = e.callbacks.srv.URL + "/callbacks/klikoo"
		sc.CallbackClient = e.callbacks.srv.Client()
	}
	if o.sim != nil {
		o.sim(&sc)
	}
	sim, err := klikoosim.New(sc)
	if err != nil {
		t.Fatalf("klikoosim.New: %v", err)
	}
	e.sim = sim
	e.srv = httptest.NewServer(sim)
	t.Cleanup(func() {
		e.srv.Close()
		sim.Close()
	})
	cc := Config{
		BaseURL: e.srv.URL + klikoosim.DefaultPrefix, ClientID: v.ClientID, ClientSecret: v.ClientSecret,
		PrivateKey: testKey(t), Timeout: testClientTimeout, Now: e.clock.Now,
	}
	if o.client != nil {
		o.client(&cc)
	}
	c, err := New(cc)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	e.client = c
	return e
}

// charge returns the ledger's record of ref (Count 0 when never charged).
func (e *env) charge(ref string) simkit.Charge {
	c, _ := e.sim.Ledger().Get(ref)
	return c
}

// ops lists the operations of a result's calls.
func ops(r providers.Result) []string {
	out := make([]string, len(r.Calls))
	for i, c := range r.Calls {
		out[i] = c.Operation
	}
	return out
}

// lastCall is the final exchange of r.
func lastCall(t *testing.T, r providers.Result) providers.Call {
	t.Helper()
	if len(r.Calls) == 0 {
		t.Fatalf("no calls recorded: %+v", r)
	}
	return r.Calls[len(r.Calls)-1]
}
