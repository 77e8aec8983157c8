package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/ppob-orchestrator/orchestrator/internal/config"
	"github.com/ppob-orchestrator/orchestrator/internal/dbtest"
	"github.com/ppob-orchestrator/orchestrator/internal/flowtest"
	"github.com/ppob-orchestrator/orchestrator/internal/sandbox"
)

// testService runs the service in this process against a fresh database
// with the environment env (LOG_LEVEL debug, JSON logs to the returned
// buffer) and calls run with it; everything stops when run returns.
func testService(t *testing.T, env map[string]string, o serveOptions, run func(s *inProcess, cfg *config.Config)) *flowtest.LogBuffer {
	t.Helper()
	env["DATABASE_URL"] = dbtest.NewDatabase(t)
	env["LOG_LEVEL"], env["LOG_FORMAT"] = "debug", "json"
	cfg, err := config.Load(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	logs := &flowtest.LogBuffer{}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	// Callbacks come 3 s after a payment: after the lookups that end the
	// purchases (LOOKUP_BACKOFF), so each purchase has its lookup job.
	sim := sandbox.Options{CallbackDelay: 3 * time.Second, Logger: newLogger(cfg, logs)}
	err = runInProcess(ctx, cfg, t.TempDir(), newLogger(cfg, logs), sim, o, func(s *inProcess) error {
		run(s, cfg)
		return nil
	})
	if err != nil {
		t.Fatalf("service: %v\n%s", err, logs)
	}
	return logs
}

// call sends one request to the API and returns the status and body.
func call(t *testing.T, method, url, token, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, b
}

// spanIndex is the finished spans by id.
type spanIndex map[trace.SpanID]tracetest.SpanStub

func indexSpans(spans tracetest.SpanStubs) spanIndex {
	idx := spanIndex{}
	for _, s := range spans {
		idx[s.SpanContext.SpanID()] = s
	}
	return idx
}

// attr returns a span attribute's value as text ("" when absent).
func attr(s tracetest.SpanStub, key string) string {
	for _, kv := range s.Attributes {
		if string(kv.Key) == key {
			return kv.Value.String()
		}
	}
	return ""
}

// parentOf returns the span's parent among the finished spans.
func (idx spanIndex) parentOf(s tracetest.SpanStub) (tracetest.SpanStub, bool) {
	if !s.Parent.IsValid() {
		return tracetest.SpanStub{}, false
	}
	p, ok := idx[s.Parent.SpanID()]
	return p, ok
}

// grandparentOf returns the parent of s's parent among the finished spans:
// for a job's work span, the span that inserted the job.
func (idx spanIndex) grandparentOf(s tracetest.SpanStub) (tracetest.SpanStub, bool) {
	if p, ok := idx.parentOf(s); ok {
		return idx.parentOf(p)
	}
	return tracetest.SpanStub{}, false
}

// hasWork reports whether a job of kind of the purchase (jobs: id → kind)
// has a work span yet.
func (idx spanIndex) hasWork(jobs map[string]string, kind string) bool {
	for _, s := range idx {
		if s.Name == "river.work/"+kind && jobs[attr(s, "id")] == kind {
			return true
		}
	}
	return false
}

// workOf returns a work span of the purchase's job of kind (jobs: id →
// kind); a lookup snoozed and worked again has several, all alike.
func (idx spanIndex) workOf(t *testing.T, jobs map[string]string, kind string) tracetest.SpanStub {
	t.Helper()
	for _, s := range idx {
		if s.Name == "river.work/"+kind && jobs[attr(s, "id")] == kind {
			return s
		}
	}
	t.Fatalf("no work span of the purchase's %s job", kind)
	return tracetest.SpanStub{}
}

// insertedBy returns the span that inserted the job worked in work: the
// parent of River's insert span, work's parent. Both are in work's trace.
func (idx spanIndex) insertedBy(t *testing.T, work tracetest.SpanStub) tracetest.SpanStub {
	t.Helper()
	insert, ok := idx.parentOf(work)
	if !ok || insert.Name != "river.insert_many" {
		t.Fatalf("%s's parent is not River's insert span but %q", work.Name, insert.Name)
	}
	by, ok := idx.grandparentOf(work)
	if !ok || by.SpanContext.TraceID() != work.SpanContext.TraceID() || insert.SpanContext.TraceID() != work.SpanContext.TraceID() {
		t.Fatalf("%s was inserted outside its trace", work.Name)
	}
	return by
}

// lookupInsertedBy returns a work span of the purchase's lookup that the
// payment's work span inserted: a callback's lookup is another job, in the
// callback's own trace, and must not be taken for it.
func (idx spanIndex) lookupInsertedBy(t *testing.T, jobs map[string]string, payment tracetest.SpanStub) tracetest.SpanStub {
	t.Helper()
	for _, s := range idx {
		if s.Name != "river.work/purchase_lookup" || jobs[attr(s, "id")] != "purchase_lookup" {
			continue
		}
		if by, ok := idx.grandparentOf(s); ok && by.SpanContext.SpanID() == payment.SpanContext.SpanID() {
			return s
		}
	}
	t.Fatalf("no work span of a lookup the payment's work inserted")
	return tracetest.SpanStub{}
}

// providerCalls returns the client spans whose parent is step.
func (idx spanIndex) providerCalls(step tracetest.SpanStub) []tracetest.SpanStub {
	var out []tracetest.SpanStub
	for _, s := range idx {
		if s.SpanKind == trace.SpanKindClient && s.Parent.SpanID() == step.SpanContext.SpanID() {
			out = append(out, s)
		}
	}
	return out
}

// One purchase is one trace: its create (the API's server span), each of its
// steps (the River work spans of inquiry, payment and lookup, each inserted
// under the one before) and every provider call (client spans, children of
// the step that made them). No span carries a secret, and log lines carry
// the trace_id of the work they log.
func TestPurchaseIsOneTrace(t *testing.T) {
	t.Parallel()
	exp := tracetest.NewInMemoryExporter()
	var (
		secrets  map[string]string
		traceIDs = map[string]trace.TraceID{}
		spans    tracetest.SpanStubs // read before the service stops: its shutdown empties exp
	)
	var reconFailed string
	logs := testService(t, map[string]string{"LOOKUP_BACKOFF": "100ms,200ms"}, serveOptions{traceExporter: exp}, func(s *inProcess, cfg *config.Config) {
		ctx := context.Background()
		key, err := createClient(ctx, s.q, "trace")
		if err != nil {
			t.Fatal(err)
		}
		secrets = map[string]string{
			"API key": key, "admin token": cfg.AdminToken, "Klikoo client secret": cfg.KlikooClientSecret,
			"Snapcart API key": cfg.SnapcartAPIKey, "Snapcart callback secret": cfg.SnapcartCallbackSecret,
		}
		purchases := map[string]string{ // provider path → purchase id
			"/klikoo-b2b/":       createPurchase(t, s.apiURL, key, `{"reference_id":"trace-k","product_code":"PLN20","customer_number":"01105691111"}`),
			"/api/v1/pre-order/": createPurchase(t, s.apiURL, key, `{"reference_id":"trace-s","product_code":"TELKOM_POSTPAID","customer_number":"081311112222"}`),
		}
		for path, id := range purchases {
			waitSucceeded(t, s.apiURL, key, id)
			// A lookup's span ends after its transaction commits. The
			// lookup may end completed, or cancelled when the provider's
			// callback ended the purchase while it slept between two
			// looks: either way it must have worked once.
			var jobs map[string]string
			flowtest.WaitFor(t, 30*time.Second, func() string { return "a lookup job of " + id + " to have worked and ended" }, func() bool {
				jobs = jobsOf(t, s.apiURL, cfg.AdminToken, id)
				ended := jobs["completed purchase_lookup"] != "" || jobs["cancelled purchase_lookup"] != ""
				return ended && indexSpans(exp.GetSpans()).hasWork(jobs, "purchase_lookup")
			})
			idx := indexSpans(exp.GetSpans())
			traceIDs[path] = checkTrace(t, idx, jobs, path)
			t.Logf("the trace of the purchase at %s (go test -v shows it):\n%s", path, idx.render(traceIDs[path]))
		}
		if code, body := call(t, http.MethodGet, s.apiURL+"/admin/reconciliation", cfg.AdminToken, ""); code != http.StatusOK {
			// The cause of a 500 is in the service's log, read once the
			// service has stopped.
			reconFailed = fmt.Sprintf("reconciliation: %d %s", code, body)
			return
		}
		// Without METRICS_ADDR the API's listener serves the metrics, the
		// reconciliation gauges among them.
		code, body := call(t, http.MethodGet, s.apiURL+"/metrics", "", "")
		for _, want := range []string{"recon_up 1", `purchases_open{status="needs_review"} 0`, `provider_balance_alert_below_rupiah{provider="snapcart"} 1e+06`} {
			if code != http.StatusOK || !strings.Contains(string(body), want) {
				t.Fatalf("API /metrics: %d, without %q", code, want)
			}
		}
		// Both simulators' callbacks come through the API, signed.
		flowtest.WaitFor(t, 30*time.Second, func() string { return "both providers' callbacks" }, func() bool {
			n := 0
			for _, sp := range exp.GetSpans() {
				if sp.SpanKind == trace.SpanKindServer && strings.HasPrefix(sp.Name, "POST /callbacks/") {
					n++
				}
			}
			return n >= 2
		})
		spans = exp.GetSpans()
	})
	if reconFailed != "" {
		t.Fatalf("%s\nthe service's errors:\n%s", reconFailed, errorLines(logs.String()))
	}

	if len(spans) < 30 {
		t.Fatalf("only %d spans recorded", len(spans))
	}
	for _, s := range spans {
		for what, secret := range secrets {
			if where := spanHolds(s, secret); where != "" {
				t.Errorf("span %q carries the %s in %s", s.Name, what, where)
			}
		}
	}
	for what, secret := range secrets {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("the log carries the %s", what)
		}
	}
	// Log lines logged within a span carry its trace: the provider clients'
	// call lines carry the trace of the purchase they called for.
	for path, op := range map[string]string{"/klikoo-b2b/": "klikoo call", "/api/v1/pre-order/": "snapcart call"} {
		if !logged(logs.String(), op, traceIDs[path]) {
			t.Errorf("no %q log line carries trace_id %s of its purchase", op, traceIDs[path])
		}
	}
}

// createPurchase creates a purchase over the API and returns its id.
func createPurchase(t *testing.T, apiURL, key, body string) string {
	t.Helper()
	code, b := call(t, http.MethodPost, apiURL+"/v1/purchases", key, body)
	var p struct{ ID string }
	if err := json.Unmarshal(b, &p); code != http.StatusCreated || err != nil {
		t.Fatalf("create: %d %s", code, b)
	}
	return p.ID
}

// waitSucceeded polls a purchase until it has succeeded.
func waitSucceeded(t *testing.T, apiURL, key, id string) {
	t.Helper()
	var last []byte
	flowtest.WaitFor(t, 60*time.Second, func() string { return fmt.Sprintf("purchase %s to succeed: %s", id, last) }, func() bool {
		_, last = call(t, http.MethodGet, apiURL+"/v1/purchases/"+id, key, "")
		return bytes.Contains(last, []byte(`"status":"succeeded"`))
	})
}

// jobsOf returns the River jobs of a purchase, read with the admin token
// from /admin/river/jobs: id → kind, and "state kind" → an id.
func jobsOf(t *testing.T, apiURL, adminToken, purchaseID string) map[string]string {
	t.Helper()
	code, b := call(t, http.MethodGet, apiURL+"/admin/river/jobs?limit=200", adminToken, "")
	var list struct {
		Data []struct {
			ID          int64
			Kind, State string
			Args        struct {
				PurchaseID string `json:"purchase_id"`
			}
		}
	}
	if err := json.Unmarshal(b, &list); code != http.StatusOK || err != nil {
		t.Fatalf("river jobs: %d %s", code, b)
	}
	out := map[string]string{}
	for _, j := range list.Data {
		if j.Args.PurchaseID == purchaseID {
			id := fmt.Sprint(j.ID)
			out[id] = j.Kind
			out[j.State+" "+j.Kind] = id
		}
	}
	return out
}

// checkTrace checks the chain of one purchase, whose provider's paths start
// with path, and returns its trace id.
func checkTrace(t *testing.T, idx spanIndex, jobs map[string]string, path string) trace.TraceID {
	t.Helper()
	inquiry := idx.workOf(t, jobs, "purchase_inquiry")
	create := idx.insertedBy(t, inquiry)
	if create.SpanKind != trace.SpanKindServer || create.Name != "POST /v1/purchases" || attr(create, "http.response.status_code") != "201" {
		t.Fatalf("the inquiry was not inserted by the create request's span: %q (%v)", create.Name, create.SpanKind)
	}
	if create.Parent.IsValid() {
		t.Fatalf("the create's span has a parent: the purchase's trace does not start there")
	}
	payment := idx.workOf(t, jobs, "purchase_payment")
	lookup := idx.lookupInsertedBy(t, jobs, payment)
	if by := idx.insertedBy(t, payment); by.SpanContext.SpanID() != inquiry.SpanContext.SpanID() {
		t.Fatalf("the payment was inserted by %q, not by the inquiry's work", by.Name)
	}
	if by := idx.insertedBy(t, lookup); by.SpanContext.SpanID() != payment.SpanContext.SpanID() {
		t.Fatalf("the lookup was inserted by %q, not by the payment's work", by.Name)
	}
	for _, step := range []tracetest.SpanStub{inquiry, payment, lookup} {
		calls := idx.providerCalls(step)
		if len(calls) == 0 {
			t.Fatalf("%s has no provider call as a child", step.Name)
		}
		for _, c := range calls {
			if u := attr(c, "url.full"); !strings.Contains(u, path) || c.SpanContext.TraceID() != create.SpanContext.TraceID() {
				t.Fatalf("%s's call %s (trace %s) is not to %s in the purchase's trace %s", step.Name, u, c.SpanContext.TraceID(), path, create.SpanContext.TraceID())
			}
		}
	}
	return create.SpanContext.TraceID()
}

// render draws the spans of one trace as a tree: name, kind and, for a
// client span, its URL's path, children in the order they started.
func (idx spanIndex) render(id trace.TraceID) string {
	children := map[trace.SpanID][]tracetest.SpanStub{}
	var roots []tracetest.SpanStub
	for _, s := range idx {
		if s.SpanContext.TraceID() != id {
			continue
		}
		if _, ok := idx.parentOf(s); ok {
			children[s.Parent.SpanID()] = append(children[s.Parent.SpanID()], s)
		} else {
			roots = append(roots, s)
		}
	}
	var b strings.Builder
	var draw func(spans []tracetest.SpanStub, depth int)
	draw = func(spans []tracetest.SpanStub, depth int) {
		sort.Slice(spans, func(i, j int) bool { return spans[i].StartTime.Before(spans[j].StartTime) })
		for _, s := range spans {
			line := strings.Repeat("  ", depth) + s.Name + " [" + s.SpanKind.String() + "]"
			if u, err := url.Parse(attr(s, "url.full")); err == nil && u.Path != "" {
				line += " " + u.Path
			}
			b.WriteString(line + "\n")
			draw(children[s.SpanContext.SpanID()], depth+1)
		}
	}
	draw(roots, 0)
	return b.String()
}

// spanHolds says where in s secret appears: its name, an attribute, an
// event, its status, a link or its resource; "" when nowhere.
func spanHolds(s tracetest.SpanStub, secret string) string {
	in := func(v string) bool { return strings.Contains(v, secret) }
	if in(s.Name) {
		return "its name"
	}
	for _, kv := range s.Attributes {
		if in(kv.Value.String()) {
			return "attribute " + string(kv.Key)
		}
	}
	for _, e := range s.Events {
		if in(e.Name) {
			return "event " + e.Name
		}
		for _, kv := range e.Attributes {
			if in(kv.Value.String()) {
				return "event " + e.Name + " attribute " + string(kv.Key)
			}
		}
	}
	if in(s.Status.Description) {
		return "its status"
	}
	for _, l := range s.Links {
		for _, kv := range l.Attributes {
			if in(kv.Value.String()) {
				return "a link's attribute " + string(kv.Key)
			}
		}
	}
	if s.Resource != nil {
		for _, kv := range s.Resource.Attributes() {
			if in(kv.Value.String()) {
				return "resource attribute " + string(kv.Key)
			}
		}
	}
	return ""
}

// logged reports whether a JSON log line with message msg carries trace id.
func logged(logs, msg string, id trace.TraceID) bool {
	sc := bufio.NewScanner(strings.NewReader(logs))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var line struct {
			Msg     string `json:"msg"`
			TraceID string `json:"trace_id"`
			SpanID  string `json:"span_id"`
		}
		if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == msg && line.TraceID == id.String() && line.SpanID != "" {
			return true
		}
	}
	return false
}

// errorLines returns the ERROR lines of a service's log, for a failure
// message: an internal error answers 500 with a request_id, and the cause
// is only in the log.
func errorLines(log string) string {
	var out []string
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, "level=ERROR") || strings.Contains(line, `"level":"ERROR"`) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}
