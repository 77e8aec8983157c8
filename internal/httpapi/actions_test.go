package httpapi_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ppob-orchestrator/orchestrator/internal/flowtest"
)

// Manual confirmation: the purchase stops at awaiting_confirmation with the
// inquiry to show; confirm pays it; confirming again answers 200; canceling
// after is 409 invalid_state naming the purchase.
func TestManualConfirmation(t *testing.T) {
	t.Parallel()
	e := setup(t, flowtest.Options{}, nil)
	r := e.create(t, e.KeyA, map[string]any{"reference_id": "man-1", "product_code": "PLN20", "customer_number": "01105691111", "confirmation": "manual"})
	want(t, r, http.StatusCreated)
	id := r.purchase(t).ID
	waiting := e.waitStatus(t, e.KeyA, id, 30*time.Second, "awaiting_confirmation")
	if waiting.Inquiry == nil || waiting.Inquiry.CustomerName == "" || waiting.Inquiry.Amount <= 0 {
		t.Fatalf("awaiting confirmation without the inquiry to show: %+v", waiting)
	}
	c := e.call(t, http.MethodPost, "/v1/purchases/"+id+"/confirm", e.KeyA, nil)
	want(t, c, http.StatusOK)
	if st := c.purchase(t).Status; st != "paying" && st != "processing" && st != "succeeded" {
		t.Fatalf("confirmed purchase is %s", st)
	}
	e.waitStatus(t, e.KeyA, id, 30*time.Second, "succeeded")
	again := e.call(t, http.MethodPost, "/v1/purchases/"+id+"/confirm", e.KeyA, nil)
	want(t, again, http.StatusOK)
	if again.purchase(t).Status != "succeeded" {
		t.Fatalf("second confirm: %s", again)
	}
	p := wantProblem(t, e.call(t, http.MethodPost, "/v1/purchases/"+id+"/cancel", e.KeyA, nil), http.StatusConflict, "invalid_state")
	if p["purchase_id"] != id || p["purchase_status"] != "succeeded" {
		t.Fatalf("invalid_state does not name the purchase: %v", p)
	}
	if e.Charges(t, e.Purchase(t, uuid.MustParse(id))) != 1 {
		t.Fatal("want exactly one charge")
	}
}

// Cancel from awaiting_confirmation: canceled, never paid; canceling again
// answers it as it is; confirming after is 409.
func TestCancelAwaitingConfirmation(t *testing.T) {
	t.Parallel()
	e := setup(t, flowtest.Options{}, nil)
	r := e.create(t, e.KeyA, map[string]any{"reference_id": "man-2", "product_code": "PLN20", "customer_number": "01105691111", "confirmation": "manual"})
	want(t, r, http.StatusCreated)
	id := r.purchase(t).ID
	e.waitStatus(t, e.KeyA, id, 30*time.Second, "awaiting_confirmation")
	c := e.call(t, http.MethodPost, "/v1/purchases/"+id+"/cancel", e.KeyA, nil)
	want(t, c, http.StatusOK)
	if c.purchase(t).Status != "canceled" || c.json(t)["completed_at"] == nil {
		t.Fatalf("cancel: %s", c)
	}
	again := e.call(t, http.MethodPost, "/v1/purchases/"+id+"/cancel", e.KeyA, nil)
	want(t, again, http.StatusOK)
	wantProblem(t, e.call(t, http.MethodPost, "/v1/purchases/"+id+"/confirm", e.KeyA, nil), http.StatusConflict, "invalid_state")
	if p := e.Purchase(t, uuid.MustParse(id)); p.ProviderReference != nil || p.PaymentAttempts != 0 {
		t.Fatalf("a canceled purchase was paid: %+v", p)
	}
	// An automatic purchase is never awaiting confirmation: confirm is 409.
	auto := e.create(t, e.KeyA, map[string]any{"reference_id": "auto-1", "product_code": "S10", "customer_number": "081211110000"})
	wantProblem(t, e.call(t, http.MethodPost, "/v1/purchases/"+auto.purchase(t).ID+"/confirm", e.KeyA, nil), http.StatusConflict, "invalid_state")
}

// Tenancy: another client's purchase answers exactly as a missing one in
// every endpoint, and is never changed.
func TestTenantIsolation(t *testing.T) {
	t.Parallel()
	e := setup(t, flowtest.Options{NoStart: true}, nil)
	r := e.create(t, e.KeyA, map[string]any{"reference_id": "mine", "product_code": "PLN20", "customer_number": "01105691111", "confirmation": "manual"})
	want(t, r, http.StatusCreated)
	id := r.purchase(t).ID
	missing := uuid.NewString()

	for _, tc := range []struct{ method, path string }{
		{http.MethodGet, "/v1/purchases/%s"},
		{http.MethodGet, "/v1/purchases/%s/events"},
		{http.MethodPost, "/v1/purchases/%s/confirm"},
		{http.MethodPost, "/v1/purchases/%s/cancel"},
	} {
		theirs := e.call(t, tc.method, strings.Replace(tc.path, "%s", id, 1), e.KeyB, nil)
		none := e.call(t, tc.method, strings.Replace(tc.path, "%s", missing, 1), e.KeyB, nil)
		pt := wantProblem(t, theirs, http.StatusNotFound, "not_found")
		pn := wantProblem(t, none, http.StatusNotFound, "not_found")
		if strings.Replace(pt["detail"].(string), id, "ID", 1) != strings.Replace(pn["detail"].(string), missing, "ID", 1) {
			t.Fatalf("%s %s: another client's purchase answers differently from a missing one:\n%s\n%s", tc.method, tc.path, theirs, none)
		}
		wantProblem(t, e.call(t, tc.method, strings.Replace(tc.path, "%s", "not-a-uuid", 1), e.KeyB, nil), http.StatusNotFound, "not_found")
	}
	// Listing and reference lookup: A's purchase is invisible to B.
	theirs := e.call(t, http.MethodGet, "/v1/purchases?reference_id=mine", e.KeyB, nil)
	none := e.call(t, http.MethodGet, "/v1/purchases?reference_id=nobody", e.KeyB, nil)
	want(t, theirs, http.StatusOK)
	if string(theirs.Body) != string(none.Body) || strings.Contains(string(theirs.Body), id) {
		t.Fatalf("reference lookup of another client's purchase: %s vs %s", theirs, none)
	}
	if all := e.call(t, http.MethodGet, "/v1/purchases", e.KeyB, nil); strings.Contains(string(all.Body), id) {
		t.Fatalf("B's listing shows A's purchase: %s", all)
	}
	// B may use the same reference_id: references are per client.
	want(t, e.create(t, e.KeyB, map[string]any{"reference_id": "mine", "product_code": "S10", "customer_number": "081211110000"}), http.StatusCreated)
	if p := e.Purchase(t, uuid.MustParse(id)); p.Status != "received" {
		t.Fatalf("B's requests changed A's purchase: %s", p.Status)
	}
	want(t, e.call(t, http.MethodGet, "/v1/purchases/"+id, e.KeyA, nil), http.StatusOK)
}

// Authentication: no key, an unknown key, a client key on /admin, and the
// admin token on /v1 are all 401.
func TestAuthentication(t *testing.T) {
	t.Parallel()
	e := setup(t, flowtest.Options{NoStart: true}, nil)
	for _, tc := range []struct{ name, method, path, token string }{
		{"no key", http.MethodGet, "/v1/products", ""},
		{"unknown key", http.MethodGet, "/v1/products", "ppob_notakey"},
		{"admin token as client key", http.MethodGet, "/v1/purchases", adminToken},
		{"no key on create", http.MethodPost, "/v1/purchases", ""},
		{"client key on admin", http.MethodGet, "/admin/river/jobs", e.KeyA},
		{"no token on admin", http.MethodGet, "/admin/reconciliation", ""},
		{"wrong admin token", http.MethodPost, "/admin/purchases/" + uuid.NewString() + "/resolve", adminToken + "x"},
		{"client key on reconciliation", http.MethodGet, "/admin/reconciliation", e.KeyA},
	} {
		wantProblem(t, e.call(t, tc.method, tc.path, tc.token, nil), http.StatusUnauthorized, "unauthorized")
	}
	if h := e.call(t, http.MethodGet, "/v1/products", "", nil).Header.Get("WWW-Authenticate"); h != "Bearer" {
		t.Fatalf("401 without WWW-Authenticate: %q", h)
	}
	// The scheme is case-insensitive; Basic is not Bearer.
	want(t, e.call(t, http.MethodGet, "/v1/products", "", nil, "Authorization", "bearer "+e.KeyA), http.StatusOK)
	wantProblem(t, e.call(t, http.MethodGet, "/v1/products", "", nil, "Authorization", "Basic "+e.KeyA), http.StatusUnauthorized, "unauthorized")
	if n := e.count(t, e.A) + e.count(t, e.B); n != 0 {
		t.Fatalf("unauthenticated requests stored %d purchases", n)
	}
}
