package httpapi_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ppob-orchestrator/orchestrator/internal/flowtest"
)

// A Snapcart one-step payment whose answer is lost (scenario 31) ends by
// the provider's signed callback, which reaches the flow through the API's
// callback route over real HTTP.
func TestSignedCallbackThroughAPIEndsPurchase(t *testing.T) {
	t.Parallel()
	e := setup(t, flowtest.Options{Signed: true}, nil)
	r := e.create(t, e.KeyA, map[string]any{"reference_id": "cb-1", "product_code": "TSEL10", "customer_number": "0812339931"})
	want(t, r, http.StatusCreated)
	id := r.purchase(t).ID
	done := e.waitStatus(t, e.KeyA, id, 45*time.Second, "succeeded")
	if done.Result == nil || done.Result.SerialNumber == "" {
		t.Fatalf("succeeded without serial number: %+v", done)
	}
	ev := e.call(t, http.MethodGet, "/v1/purchases/"+id+"/events", e.KeyA, nil)
	if !strings.Contains(string(ev.Body), `"kind":"callback"`) {
		t.Fatalf("no callback in the timeline: %s", ev.Body)
	}
	metrics := e.call(t, http.MethodGet, "/metrics", "", nil)
	if !strings.Contains(string(metrics.Body), `http_request_duration_seconds_count{code="200",method="POST",route="/callbacks/:provider"}`) {
		t.Fatalf("the callback did not come through the API:\n%s", metrics.Body)
	}
	if e.Charges(t, e.Purchase(t, uuid.MustParse(id))) != 1 {
		t.Fatal("want exactly one charge")
	}
}

// The callback routes: any body is stored and answered 200 (an unreadable
// one too: it is kept for the audit); over 64 KiB is 413; an unknown
// provider is 404; no client key is needed.
func TestCallbackRoutes(t *testing.T) {
	t.Parallel()
	e := setup(t, flowtest.Options{NoStart: true}, nil)
	for _, p := range []string{"klikoo", "snapcart"} {
		r := e.call(t, http.MethodPost, "/callbacks/"+p, "", `{"hello":"world"}`)
		want(t, r, http.StatusOK)
		if r.json(t)["status"] != "received" {
			t.Fatalf("callback answer: %s", r)
		}
		want(t, e.call(t, http.MethodPost, "/callbacks/"+p, "", "not json at all", "Content-Type", "text/plain"), http.StatusOK)
		wantProblem(t, e.call(t, http.MethodPost, "/callbacks/"+p, "", strings.Repeat("x", 64<<10+1)), http.StatusRequestEntityTooLarge, "payload_too_large")
	}
	wantProblem(t, e.call(t, http.MethodPost, "/callbacks/acme", "", `{}`), http.StatusNotFound, "not_found")
	wantProblem(t, e.call(t, http.MethodGet, "/callbacks/klikoo", "", nil), http.StatusMethodNotAllowed, "method_not_allowed")
}

// Resolve: a purchase pending forever (scenario 41) reaches needs_review at
// its deadline; resolving it as failed is refused while the provider says
// pending, unless forced with a note; bad input is 422; a second resolve
// is 409; the decision is in the timeline.
func TestAdminResolve(t *testing.T) {
	t.Parallel()
	e := setup(t, flowtest.Options{}, nil)
	r := e.create(t, e.KeyA, map[string]any{"reference_id": "stuck-1", "product_code": "S10", "customer_number": "081211119941"})
	want(t, r, http.StatusCreated)
	id := r.purchase(t).ID
	e.waitStatus(t, e.KeyA, id, 30*time.Second, "processing")
	e.Clock.Advance(2 * time.Hour) // past STATUS_DEADLINE (1h in flowtest)
	e.waitStatus(t, e.KeyA, id, 30*time.Second, "needs_review")
	path := "/admin/purchases/" + id + "/resolve"

	bad := e.call(t, http.MethodPost, path, adminToken, map[string]any{"status": "succeeded"})
	p := wantProblem(t, bad, http.StatusUnprocessableEntity, "validation_failed")
	if s := string(bad.Body); !strings.Contains(s, `"field":"serial_number"`) || !strings.Contains(s, `"field":"note"`) {
		t.Fatalf("422 does not name serial_number and note: %v", p)
	}
	wantProblem(t, e.call(t, http.MethodPost, path, adminToken, map[string]any{"status": "failed", "note": "x", "bogus": 1}), http.StatusUnprocessableEntity, "validation_failed")
	wantProblem(t, e.call(t, http.MethodPost, path, adminToken, `{"status":"failed","note":"x"}`, "Content-Type", "text/plain"), http.StatusUnsupportedMediaType, "unsupported_media_type")
	refused := e.call(t, http.MethodPost, path, adminToken, map[string]any{"status": "failed", "note": "customer says nothing arrived"})
	if p := wantProblem(t, refused, http.StatusConflict, "invalid_state"); p["purchase_status"] != "needs_review" {
		t.Fatalf("refusal: %s", refused)
	}
	ok := e.call(t, http.MethodPost, path, adminToken, map[string]any{"status": "failed", "note": "provider confirmed by phone: not processed", "force": true, "operator": "ana"})
	want(t, ok, http.StatusOK)
	if p := ok.purchase(t); p.Status != "failed" || p.Failure == nil || p.Failure.Code != "resolved_by_operator" {
		t.Fatalf("resolved: %s", ok)
	}
	wantProblem(t, e.call(t, http.MethodPost, path, adminToken, map[string]any{"status": "failed", "note": "again", "force": true}), http.StatusConflict, "invalid_state")
	wantProblem(t, e.call(t, http.MethodPost, "/admin/purchases/"+uuid.NewString()+"/resolve", adminToken, map[string]any{"status": "failed", "note": "x"}), http.StatusNotFound, "not_found")
	ev := e.call(t, http.MethodGet, "/v1/purchases/"+id+"/events", e.KeyA, nil)
	if s := string(ev.Body); !strings.Contains(s, `"name":"resolved"`) || !strings.Contains(s, `"operator":"ana"`) {
		t.Fatalf("the resolve is not audited in the timeline: %s", s)
	}
}

// The River job list: newest first, filtered by state and kind; bad
// filters are 422. The reconciliation report: its auth, its since
// parameter, and that it answers JSON with needs_attention and its
// sections (their contents are package recon's to test).
func TestAdminRiverJobsAndReconciliationAuth(t *testing.T) {
	t.Parallel()
	e := setup(t, flowtest.Options{NoStart: true}, nil)
	r := e.create(t, e.KeyA, map[string]any{"reference_id": "job-1", "product_code": "S10", "customer_number": "081211110000"})
	id := r.purchase(t).ID
	jobs := e.call(t, http.MethodGet, "/admin/river/jobs?state=available&limit=10", adminToken, nil)
	want(t, jobs, http.StatusOK)
	list := jobs.json(t)["data"].([]any)
	if len(list) == 0 || !strings.Contains(string(jobs.Body), id) {
		t.Fatalf("the purchase's first job is not listed: %s", jobs)
	}
	j := list[0].(map[string]any)
	if j["state"] != "available" || j["kind"] == "" || j["created_at"] == nil {
		t.Fatalf("job: %v", j)
	}
	none := e.call(t, http.MethodGet, "/admin/river/jobs?state=completed", adminToken, nil)
	if d := none.json(t)["data"].([]any); len(d) != 0 {
		t.Fatalf("completed jobs while workers are stopped: %s", none)
	}
	kind := j["kind"].(string)
	if d := e.call(t, http.MethodGet, "/admin/river/jobs?kind="+kind, adminToken, nil).json(t)["data"].([]any); len(d) != len(list) {
		t.Fatalf("kind filter: %d jobs, want %d", len(d), len(list))
	}
	wantProblem(t, e.call(t, http.MethodGet, "/admin/river/jobs?state=sleepy&limit=0", adminToken, nil), http.StatusUnprocessableEntity, "validation_failed")

	wantProblem(t, e.call(t, http.MethodGet, "/admin/reconciliation", "", nil), http.StatusUnauthorized, "unauthorized")
	wantProblem(t, e.call(t, http.MethodGet, "/admin/reconciliation?since=last+week", adminToken, nil), http.StatusUnprocessableEntity, "validation_failed")
	rec := e.call(t, http.MethodGet, "/admin/reconciliation?since=2025-11-01", adminToken, nil)
	want(t, rec, http.StatusOK)
	if _, ok := rec.json(t)["needs_attention"].(bool); !ok {
		t.Fatalf("report without needs_attention: %s", rec)
	}
	// Untouched for 11 minutes (the workers are stopped), the purchase is
	// stuck: the report holds a row, which the contract checks too.
	e.Clock.Advance(11 * time.Minute)
	rec = e.call(t, http.MethodGet, "/admin/reconciliation", adminToken, nil)
	want(t, rec, http.StatusOK)
	if stuck := rec.json(t)["stuck"].(map[string]any); stuck["count"] != float64(1) || !strings.Contains(string(rec.Body), id) {
		t.Fatalf("the purchase is not reported stuck: %s", rec)
	}
}
