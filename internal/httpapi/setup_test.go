package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ppob-orchestrator/orchestrator/internal/flowtest"
	"github.com/ppob-orchestrator/orchestrator/internal/httpapi"
	"github.com/ppob-orchestrator/orchestrator/internal/httpapi/contracttest"
	"github.com/ppob-orchestrator/orchestrator/internal/recon"
	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

const adminToken = "test-admin-token"

// env is what an API test needs: the flow's test environment, the API over
// real HTTP in front of it (the simulators' callbacks come through it too),
// and two clients with their API keys.
type env struct {
	*flowtest.Env
	URL        string
	KeyA, KeyB string
	A, B       uuid.UUID
	contract   *contract
}

// contract holds every exchange the API under test serves to
// openapi.json (contracttest): the disagreements wait here until a call
// of the test reports them, or the test's cleanup does (for callbacks
// and other requests no call made).
type contract struct {
	checker    *contracttest.Checker
	mu         sync.Mutex
	violations []string
}

// newContract starts a contract for t. Call it before anything that
// registers cleanups serving requests, so its report comes after them.
func newContract(t testing.TB) *contract {
	t.Helper()
	doc, err := os.ReadFile("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	chk, err := contracttest.For(doc)
	if err != nil {
		t.Fatal(err)
	}
	c := &contract{checker: chk}
	t.Cleanup(func() { c.report(t) })
	return c
}

// wrap returns h with every exchange validated.
func (c *contract) wrap(h http.Handler) http.Handler {
	return c.checker.Handler(h, func(v string) {
		c.mu.Lock()
		c.violations = append(c.violations, v)
		c.mu.Unlock()
	})
}

// report fails t with every disagreement found so far.
func (c *contract) report(t testing.TB) {
	t.Helper()
	c.mu.Lock()
	vs := c.violations
	c.violations = nil
	c.mu.Unlock()
	for _, v := range vs {
		t.Error(v)
	}
}

// setup starts the API on top of flowtest.Setup. cfg, when given, changes
// the API's configuration before it is built.
func setup(t testing.TB, o flowtest.Options, cfg func(*httpapi.Config)) *env {
	t.Helper()
	ct := newContract(t)
	var cb atomic.Pointer[http.Handler]
	o.CallbackHandler = &cb
	fe := flowtest.Setup(t, o)
	e := &env{Env: fe, contract: ct}
	e.KeyA, e.A = newClient(t, fe, "shop A")
	e.KeyB, e.B = newClient(t, fe, "shop B")
	c := httpapi.Config{
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Ready:  func(ctx context.Context) error { return fe.Pool.Ping(ctx) },
		Flow:   fe.Svc,
		Recon: func(ctx context.Context, o recon.Options) (*recon.Report, error) {
			return recon.Build(ctx, fe.Pool, o)
		},
		AdminToken:         adminToken,
		RateLimitPerClient: 100000,
		Registry:           prometheus.NewRegistry(),
		Now:                fe.Clock.Now,
		Webhooks:           fe.Webhooks,
	}
	if cfg != nil {
		cfg(&c)
	}
	h := ct.wrap(httpapi.New(c))
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	cb.Store(&h)
	e.URL = srv.URL
	return e
}

// httpTestServer serves h, its exchanges held to the contract of e.
func (e *env) httpTestServer(t testing.TB, h http.Handler) string {
	srv := httptest.NewServer(e.contract.wrap(h))
	t.Cleanup(srv.Close)
	return srv.URL
}

func newClient(t testing.TB, fe *flowtest.Env, name string) (string, uuid.UUID) {
	t.Helper()
	key, hash, prefix, err := httpapi.NewAPIKey()
	if err != nil {
		t.Fatal(err)
	}
	cl, err := fe.Q.ClientInsert(context.Background(), store.ClientInsertParams{
		ID: uuid.New(), Name: name, KeyHash: hash, KeyPrefix: prefix, CreatedAt: time.Now(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return key, cl.ID
}

// resp is an answer, read whole.
type resp struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r resp) String() string { return fmt.Sprintf("%d %s", r.Status, r.Body) }

// decode unmarshals the body into a map, failing t if it is not JSON.
func (r resp) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("answer is not a JSON object: %v: %s", err, r.Body)
	}
	return m
}

// call sends a request with the bearer token (none when empty). body is
// sent as is when it is a string or []byte, as JSON otherwise; with a body
// the Content-Type is application/json unless header sets another.
func (e *env) call(t testing.TB, method, path, token string, body any, header ...string) resp {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, e.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	e.contract.report(t)
	return resp{Status: res.StatusCode, Header: res.Header, Body: b}
}

// want fails t unless r has the status.
func want(t testing.TB, r resp, status int) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("want %d, got %s", status, r)
	}
}

// wantProblem fails t unless r is a problem document with status and code,
// and returns it.
func wantProblem(t testing.TB, r resp, status int, code string) map[string]any {
	t.Helper()
	want(t, r, status)
	if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type = %q, want application/problem+json: %s", ct, r)
	}
	p := r.json(t)
	if p["type"] != "about:blank" || p["code"] != code || p["status"] != float64(status) || p["title"] != http.StatusText(status) {
		t.Fatalf("want problem %d %s, got %s", status, code, r.Body)
	}
	if _, ok := p["detail"].(string); !ok {
		t.Fatalf("problem without detail: %s", r.Body)
	}
	return p
}

// purchase is the JSON of a purchase, as a test reads it.
type purchase struct {
	ID          string `json:"id"`
	ReferenceID string `json:"reference_id"`
	Status      string `json:"status"`
	Provider    string `json:"provider"`
	Inquiry     *struct {
		CustomerName string `json:"customer_name"`
		Amount       int64  `json:"amount"`
	} `json:"inquiry"`
	Result *struct {
		SerialNumber string `json:"serial_number"`
		Token        string `json:"token"`
	} `json:"result"`
	Failure *struct {
		Code string `json:"code"`
	} `json:"failure"`
}

func (r resp) purchase(t testing.TB) purchase {
	t.Helper()
	var p purchase
	if err := json.Unmarshal(r.Body, &p); err != nil || p.ID == "" {
		t.Fatalf("answer is not a purchase (%v): %s", err, r.Body)
	}
	return p
}

// create posts a purchase as the client of key.
func (e *env) create(t testing.TB, key string, body map[string]any) resp {
	t.Helper()
	return e.call(t, http.MethodPost, "/v1/purchases", key, body)
}

// waitStatus polls GET /v1/purchases/{id} until the status is one of want.
func (e *env) waitStatus(t testing.TB, key, id string, d time.Duration, want ...string) purchase {
	t.Helper()
	var last resp
	flowtest.WaitFor(t, d, func() string { return fmt.Sprintf("purchase %s to be %v; last answer %s", id, want, last) }, func() bool {
		last = e.call(t, http.MethodGet, "/v1/purchases/"+id, key, nil)
		if last.Status != http.StatusOK {
			return false
		}
		st := last.purchase(t).Status
		for _, w := range want {
			if st == w {
				return true
			}
		}
		return false
	})
	return last.purchase(t)
}

// count is how many purchases the client has in the database.
func (e *env) count(t testing.TB, client uuid.UUID) int64 {
	t.Helper()
	n, err := e.Q.PurchaseCountForClient(context.Background(), client)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
