package flowtest

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ppob-orchestrator/orchestrator/internal/providers/simkit"
)

// The operations a Wire tells apart, as providers.Call.Operation names them.
const (
	OpToken    = "token"
	OpInquiry  = "inquiry"
	OpPayment  = "payment"
	OpLookup   = "lookup"
	OpProducts = "products"
	OpBalance  = "balance"
)

// Call is one provider call as a Wire saw it on its way to a simulator.
type Call struct {
	Provider string // klikoo.Name or snapcart.Name
	Op       string // one of the Op constants ("" when not recognised)
	Method   string
	Path     string // with the query
	Body     []byte
}

// Act is what a Wire does with a call a rule matches.
type Act int

// The acts. None of them invents an answer: the simulator answers, or
// nobody does.
const (
	// Drop keeps the call from the simulator and answers nothing until
	// the client gives up (a timeout): nothing happened at the provider.
	Drop Act = iota + 1
	// Lose lets the simulator process the call and answers nothing until
	// the client gives up: the provider acted, its answer is lost.
	Lose
	// Spoil sends the call with its credentials spoiled (Klikoo's
	// signature, Snapcart's API key): the simulator refuses it as the
	// provider refuses a call it cannot authenticate (invariant 12 of
	// docs/invariants.md).
	Spoil
)

// Wire stands between the provider clients and the simulators
// (Options.Intercept = wire.Intercept): it records every call and applies
// the test's rules to the calls they match, in the order they arrive. The
// zero value passes everything. It is safe for concurrent use.
type Wire struct {
	mu        sync.Mutex
	calls     []Call
	rules     []*rule
	observers []func(Call)
}

type rule struct {
	provider, op string
	match        func(Call) bool
	left         int // calls still to act on; -1: every one
	act          Act
	hold         *Hold
	edit         func(*http.Request)
}

// Hold is a call a Wire holds: the simulator has processed it, and its
// answer waits until the test releases it (or the client gives up).
type Hold struct {
	Call    Call
	arrived chan struct{}
	release chan bool
	once    sync.Once
}

// Wait waits until the held call has reached the simulator and been
// processed, failing t after d.
func (h *Hold) Wait(t testing.TB, d time.Duration) Call {
	t.Helper()
	select {
	case <-h.arrived:
		return h.Call
	case <-time.After(d):
		t.Fatalf("no call to hold arrived within %s", d)
		return Call{}
	}
}

// Arrived reports whether the held call has been processed.
func (h *Hold) Arrived() bool {
	select {
	case <-h.arrived:
		return true
	default:
		return false
	}
}

// Release lets the held answer go: to the client when answer is true,
// otherwise the connection is reset at once (the answer is lost, as when
// the call times out after the provider acted; hold only calls Go's client
// does not send again by itself, such as payments, to lose them so).
// Only the first release counts.
func (h *Hold) Release(answer bool) {
	h.once.Do(func() { h.release <- answer })
}

// On makes the Wire act on the next n calls (n < 0: every call) of
// provider and op (empty: any) that match (nil: all).
func (w *Wire) On(provider, op string, match func(Call) bool, n int, act Act) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.rules = append(w.rules, &rule{provider: provider, op: op, match: match, left: n, act: act})
}

// HoldNext holds the next call of provider and op that matches (nil: any).
func (w *Wire) HoldNext(provider, op string, match func(Call) bool) *Hold {
	h := &Hold{arrived: make(chan struct{}), release: make(chan bool, 1)}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.rules = append(w.rules, &rule{provider: provider, op: op, match: match, left: 1, hold: h})
	return h
}

// Redirect sends every call of provider and op whose path holds from to
// the simulator with to in its place: the provider then answers about
// another transaction than the one asked for.
func (w *Wire) Redirect(provider, op, from, to string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.rules = append(w.rules, &rule{
		provider: provider, op: op, left: -1,
		match: func(c Call) bool { return strings.Contains(c.Path, from) },
		edit: func(r *http.Request) {
			r.URL.Path = strings.ReplaceAll(r.URL.Path, from, to)
			r.URL.RawPath = ""
		},
	})
}

// Observe calls see with every call as it arrives, before any rule acts
// on it (under the Wire's lock: see must not call the Wire).
func (w *Wire) Observe(see func(Call)) {
	w.mu.Lock()
	w.observers = append(w.observers, see)
	w.mu.Unlock()
}

// Clear removes every rule not yet used up.
func (w *Wire) Clear() {
	w.mu.Lock()
	w.rules = nil
	w.mu.Unlock()
}

// Calls returns the calls of provider and op (empty: any) seen so far, in
// the order they arrived.
func (w *Wire) Calls(provider, op string) []Call {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []Call
	for _, c := range w.calls {
		if (provider == "" || c.Provider == provider) && (op == "" || c.Op == op) {
			out = append(out, c)
		}
	}
	return out
}

// Intercept is the Options.Intercept of the Wire.
func (w *Wire) Intercept(provider string, sim http.Handler) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		c := Call{Provider: provider, Op: operation(r), Method: r.Method, Path: r.URL.RequestURI(), Body: body}
		rl := w.take(c)
		r.Body = io.NopCloser(bytes.NewReader(body))
		switch {
		case rl == nil:
			sim.ServeHTTP(rw, r)
		case rl.hold != nil:
			rec := httptest.NewRecorder()
			sim.ServeHTTP(rec, r)
			rl.hold.Call = c
			close(rl.hold.arrived)
			answer := false
			select {
			case answer = <-rl.hold.release:
			case <-r.Context().Done():
			}
			if !answer {
				simkit.Drop(rw)
				return
			}
			for k, v := range rec.Header() {
				rw.Header()[k] = v
			}
			rw.WriteHeader(rec.Code)
			_, _ = rw.Write(rec.Body.Bytes())
		case rl.edit != nil:
			rl.edit(r)
			sim.ServeHTTP(rw, r)
		case rl.act == Drop:
			timeout(rw, r)
		case rl.act == Lose:
			sim.ServeHTTP(httptest.NewRecorder(), r)
			timeout(rw, r)
		case rl.act == Spoil:
			if r.Header.Get("Open-Api-Signature") != "" {
				r.Header.Set("Open-Api-Signature", "c3BvaWxlZA==")
			}
			if r.Header.Get("x-api-key") != "" {
				r.Header.Set("x-api-key", "spoiled")
			}
			sim.ServeHTTP(rw, r)
		}
	})
}

// timeout answers nothing until the client gives up on r, then closes the
// connection. An immediate reset would not do: Go's client sends an
// idempotent request (a GET lookup) again by itself when a reused
// connection closes before any answer.
func timeout(rw http.ResponseWriter, r *http.Request) {
	<-r.Context().Done()
	simkit.Drop(rw)
}

// take records c and returns the first rule that acts on it, using it up.
func (w *Wire) take(c Call) *rule {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.calls = append(w.calls, c)
	for _, see := range w.observers {
		see(c)
	}
	for i, rl := range w.rules {
		if (rl.provider != "" && rl.provider != c.Provider) || (rl.op != "" && rl.op != c.Op) || (rl.match != nil && !rl.match(c)) {
			continue
		}
		if rl.left > 0 {
			rl.left--
			if rl.left == 0 {
				w.rules = append(w.rules[:i:i], w.rules[i+1:]...)
			}
		}
		return rl
	}
	return nil
}

// operation names the provider operation of a request to either simulator.
func operation(r *http.Request) string {
	p := r.URL.Path
	switch {
	case strings.Contains(p, "access-token"):
		return OpToken
	case strings.HasSuffix(p, "/products/buy"), strings.HasSuffix(p, "/payment"):
		return OpPayment
	case strings.Contains(p, "/payment/status/"), r.Method == http.MethodGet && strings.Contains(p, "/transactions"):
		return OpLookup
	case strings.Contains(p, "inquiry"):
		return OpInquiry
	case strings.Contains(p, "/catalogs"), strings.HasSuffix(p, "/products"):
		return OpProducts
	case strings.HasSuffix(p, "/balance"):
		return OpBalance
	}
	return ""
}

// Callbacks catches the simulators' callbacks (Options.CallbackHandler =
// CallbackHandler(c)) so that a test hands each to the flow when it
// chooses. With Hold set, the simulator's delivery is answered only when
// the test calls Answer: until then the simulator counts the callback as
// not sent (its scenario 51 lookups keep saying pending). It is safe for
// concurrent use.
type Callbacks struct {
	Hold bool

	mu      sync.Mutex
	got     []*Callback
	arrived chan struct{} // closed and replaced on every arrival
}

// Callback is one callback a simulator sent.
type Callback struct {
	Provider  string
	Body      []byte
	Signature string // the X-Signature header ("" when unsigned)
	answered  chan struct{}
	once      sync.Once
}

// Answer answers the simulator's held delivery with 200.
func (c *Callback) Answer() { c.once.Do(func() { close(c.answered) }) }

// ServeHTTP catches one callback at /callbacks/{provider}.
func (c *Callbacks) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	cb := &Callback{Provider: r.PathValue("provider"), Body: body, Signature: r.Header.Get("X-Signature"), answered: make(chan struct{})}
	c.mu.Lock()
	c.got = append(c.got, cb)
	if c.arrived != nil {
		close(c.arrived)
		c.arrived = nil
	}
	c.mu.Unlock()
	if c.Hold {
		select {
		case <-cb.answered:
		case <-r.Context().Done():
			return
		}
	}
	w.WriteHeader(http.StatusOK)
}

// Next waits for the n-th (from 1) callback of provider, failing t after d.
func (c *Callbacks) Next(t testing.TB, provider string, n int, d time.Duration) *Callback {
	t.Helper()
	deadline := time.After(d)
	for {
		c.mu.Lock()
		seen := 0
		for _, cb := range c.got {
			if cb.Provider == provider {
				if seen++; seen == n {
					c.mu.Unlock()
					return cb
				}
			}
		}
		if c.arrived == nil {
			c.arrived = make(chan struct{})
		}
		arrived := c.arrived
		c.mu.Unlock()
		select {
		case <-arrived:
		case <-deadline:
			t.Fatalf("callback %d of %s never came within %s", n, provider, d)
			return nil
		}
	}
}

// AnswerAll answers every held delivery (for cleanup).
func (c *Callbacks) AnswerAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, cb := range c.got {
		cb.Answer()
	}
}
