package snapcart

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ppob-orchestrator/orchestrator/internal/providers"
	"github.com/ppob-orchestrator/orchestrator/internal/providers/snapcart/snapcartsim"
)

const (
	testAPIKey = "sk-test-4f1d2c9a8b7e6d5c"
	testSecret = "callback-secret-for-tests"
	// clientTimeout is shorter than testSlow, so held answers time out.
	clientTimeout = 600 * time.Millisecond
	testSlow      = 5 * time.Second
	testIndexLag  = 1500 * time.Millisecond
	testCBDelay   = 20 * time.Millisecond
)

// bundle is what a test needs: a simulator over real HTTP, a client for it
// and a callback receiver.
type bundle struct {
	sim    *snapcartsim.Simulator
	srv    *httptest.Server
	client *Client
	rcv    *receiver
}

// setup starts a simulator (with callbacks to a receiver) and a client.
// mods adjust the simulator's config.
func setup(t *testing.T, mods ...func(*snapcartsim.Config)) bundle {
	t.Helper()
	rcv := newReceiver(t)
	cfg := snapcartsim.Config{
		APIKey:         testAPIKey,
		SlowAnswer:     testSlow,
		IndexLag:       testIndexLag,
		CallbackURL:    rcv.srv.URL + "/callbacks/snapcart",
		CallbackSecret: testSecret,
		CallbackDelay:  testCBDelay,
	}
	for _, m := range mods {
		m(&cfg)
	}
	sim, err := snapcartsim.New(cfg)
	if err != nil {
		t.Fatalf("snapcartsim.New: %v", err)
	}
	srv := httptest.NewServer(sim)
	t.Cleanup(func() {
		sim.Close()
		srv.Close()
	})
	c, err := New(Config{BaseURL: srv.URL, APIKey: testAPIKey, Timeout: clientTimeout})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return bundle{sim: sim, srv: srv, client: c, rcv: rcv}
}

// received is one callback the receiver got.
type received struct {
	body      []byte
	signature string
}

// receiver is our side of callbacks: an HTTP server that records them.
type receiver struct {
	srv    *httptest.Server
	mu     sync.Mutex
	got    []received
	refuse atomic.Int32 // answer 500 to this many more callbacks
}

func newReceiver(t *testing.T) *receiver {
	t.Helper()
	r := &receiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, err := io.ReadAll(req.Body)
		if err != nil {
			http.Error(w, "read", http.StatusBadRequest)
			return
		}
		r.mu.Lock()
		r.got = append(r.got, received{body: body, signature: req.Header.Get(SignatureHeader)})
		r.mu.Unlock()
		if r.refuse.Add(-1) >= 0 {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// forReference returns the callbacks whose reference_id is ref, in order.
func (r *receiver) forReference(t *testing.T, ref string) []received {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []received
	for _, g := range r.got {
		if strings.Contains(string(g.body), fmt.Sprintf("%q:%q", "reference_id", ref)) {
			out = append(out, g)
		}
	}
	return out
}

// all returns every callback received.
func (r *receiver) all() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.got...)
}

// waitCallbacks waits until at least n callbacks for ref arrived.
func (r *receiver) waitCallbacks(t *testing.T, ref string, n int) []received {
	t.Helper()
	var got []received
	eventually(t, 5*time.Second, fmt.Sprintf("%d callbacks for %s", n, ref), func() bool {
		got = r.forReference(t, ref)
		return len(got) >= n
	})
	return got
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond) // poll interval, not a wait for work
	}
}

// oc writes an outcome with its reason, "failed/customer_not_found".
func oc(r providers.Result) string {
	if r.Reason == "" {
		return string(r.Outcome)
	}
	return string(r.Outcome) + "/" + string(r.Reason)
}

// compress drops consecutive repeats: [a a b b a] is [a b a].
func compress(s []string) []string {
	var out []string
	for _, v := range s {
		if len(out) == 0 || out[len(out)-1] != v {
			out = append(out, v)
		}
	}
	return out
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// assertNoSecret fails when the API key, the callback secret or a
// signature shows up in anything a Result records.
func assertNoSecret(t *testing.T, results ...providers.Result) {
	t.Helper()
	for _, r := range results {
		texts := []string{r.Detail, r.Error()}
		for _, c := range r.Calls {
			texts = append(texts, c.Request, c.Response, c.Err, c.Message, c.Path, c.Code)
		}
		for _, s := range texts {
			if strings.Contains(s, testAPIKey) || strings.Contains(s, testSecret) {
				t.Fatalf("secret leaked into a recorded text: %q", s)
			}
		}
	}
}

// ctx returns a context bounded by the test's lifetime.
func ctx(t *testing.T) context.Context {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

var refSeq atomic.Int64

// newRef returns a fresh purchase reference (letters, digits, dash).
func newRef() string {
	return fmt.Sprintf("pur-%d-%d", time.Now().UnixNano()%1_000_000, refSeq.Add(1))
}
