package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/ppob-orchestrator/orchestrator/internal/flowtest"
	"github.com/ppob-orchestrator/orchestrator/internal/httpapi"
)

// The README's example session: a PLN token bought on Klikoo, polled to
// success, with its timeline; the answer never shows internal fields.
func TestCreatePollAndReadEvents(t *testing.T) {
	t.Parallel()
	e := setup(t, flowtest.Options{}, nil)
	body := map[string]any{"reference_id": "order-1", "product_code": "PLN20", "customer_number": "0110-569 1111", "selling_price": 22000}
	r := e.create(t, e.KeyA, body)
	want(t, r, http.StatusCreated)
	p := r.purchase(t)
	if r.Header.Get("Location") != "/v1/purchases/"+p.ID || p.ReferenceID != "order-1" || p.Provider != "klikoo" {
		t.Fatalf("created: Location %q, %s", r.Header.Get("Location"), r.Body)
	}
	m := r.json(t)
	if m["customer_number"] != "01105691111" || m["selling_price"] != float64(22000) || m["confirmation"] != "automatic" ||
		m["failure"] != nil || m["completed_at"] != nil || m["max_price"] != nil {
		t.Fatalf("created purchase: %s", r.Body)
	}
	if _, err := time.Parse(time.RFC3339, m["created_at"].(string)); err != nil || !strings.HasSuffix(m["created_at"].(string), "Z") {
		t.Fatalf("created_at %v is not RFC 3339 UTC", m["created_at"])
	}

	done := e.waitStatus(t, e.KeyA, p.ID, 30*time.Second, "succeeded")
	if done.Result == nil || !regexp.MustCompile(`^[0-9]{20}$`).MatchString(done.Result.Token) || done.Inquiry == nil || done.Inquiry.Amount <= 0 {
		t.Fatalf("succeeded without token or inquiry: %+v", done)
	}
	got := e.call(t, http.MethodGet, "/v1/purchases/"+p.ID, e.KeyA, nil)
	row := e.Purchase(t, uuid.MustParse(p.ID))
	for _, secret := range []string{*row.ProviderReference, row.Fingerprint, row.ClientID.String()} {
		if strings.Contains(string(got.Body), secret) {
			t.Fatalf("purchase JSON exposes %q: %s", secret, got.Body)
		}
	}
	for _, field := range []string{"provider_reference", "provider_request_id", "request_id", "client_id", "fingerprint", "customer_key", "amount", "payment_attempts", "family"} {
		if _, ok := got.json(t)[field]; ok {
			t.Fatalf("purchase JSON has internal field %s: %s", field, got.Body)
		}
	}
	if c := got.json(t)["completed_at"]; c == nil {
		t.Fatalf("succeeded purchase without completed_at: %s", got.Body)
	}

	ev := e.call(t, http.MethodGet, "/v1/purchases/"+p.ID+"/events", e.KeyA, nil)
	want(t, ev, http.StatusOK)
	kinds := map[string]bool{}
	var path []string
	for i, x := range ev.json(t)["data"].([]any) {
		m := x.(map[string]any)
		if _, global := m["id"]; global || m["seq"] != float64(i+1) {
			t.Fatalf("event %d is not numbered within the purchase: %v", i, m)
		}
		kinds[m["kind"].(string)] = true
		if m["kind"] == "status" {
			path = append(path, m["to_status"].(string))
		}
	}
	if !kinds["status"] || !kinds["provider_call"] || path[len(path)-1] != "succeeded" {
		t.Fatalf("timeline lacks status changes or provider calls: %s", ev.Body)
	}
	// A provider call's event stores no data; its data is its call's code,
	// HTTP status, latency and reason.
	type callEvent struct {
		Seq          int
		Stored, Call string
	}
	rows, _ := e.Pool.Query(context.Background(), `SELECT e.seq, e.data::text,
		jsonb_build_object('code', c.code, 'http_status', c.http_status, 'latency_ms', c.latency_ms, 'reason', c.reason)::text
		FROM purchase_events e JOIN provider_calls c ON c.id = e.provider_call_id WHERE e.purchase_id = $1 ORDER BY e.seq`, row.ID)
	calls, err := pgx.CollectRows(rows, pgx.RowToStructByPos[callEvent])
	if err != nil || len(calls) == 0 {
		t.Fatalf("%d call events (%v)", len(calls), err)
	}
	for _, c := range calls {
		shown, _ := json.Marshal(ev.json(t)["data"].([]any)[c.Seq-1].(map[string]any)["data"])
		if c.Stored != "{}" || !jsonEqual(t, string(shown), c.Call) {
			t.Fatalf("call event %d: stored %s, shown %s, the call's %s", c.Seq, c.Stored, shown, c.Call)
		}
	}
	if strings.Contains(string(ev.Body), *row.ProviderReference) || strings.Contains(string(ev.Body), e.Creds.SnapcartCallbackSecret) {
		t.Fatalf("timeline exposes a provider reference or secret: %s", ev.Body)
	}
}

// Idempotency: an identical repeat answers 200 with the same purchase, also
// after normalization; other parameters under the same reference_id are a
// 409 naming it; nothing new is stored.
func TestIdenticalRepeatAndReusedReference(t *testing.T) {
	t.Parallel()
	e := setup(t, flowtest.Options{}, nil)
	body := map[string]any{"reference_id": "rep-1", "product_code": "S10", "customer_number": "081211110000"}
	first := e.create(t, e.KeyA, body)
	want(t, first, http.StatusCreated)
	id := first.purchase(t).ID

	again := e.create(t, e.KeyA, map[string]any{"reference_id": "rep-1", "product_code": "S10", "customer_number": "0812-1111-0000", "confirmation": "automatic"})
	want(t, again, http.StatusOK)
	if again.purchase(t).ID != id {
		t.Fatalf("repeat answered another purchase: %s", again)
	}
	reused := e.create(t, e.KeyA, map[string]any{"reference_id": "rep-1", "product_code": "S10", "customer_number": "081211110001"})
	p := wantProblem(t, reused, http.StatusConflict, "reference_id_reused")
	if p["purchase_id"] != id || p["purchase_status"] == nil || p["purchase_status"] == "" {
		t.Fatalf("409 does not name the existing purchase: %s", reused)
	}
	if n := e.count(t, e.A); n != 1 {
		t.Fatalf("%d purchases stored, want 1", n)
	}
}

// A failed purchase repeated identically answers 200 with the failure and
// is never tried again: no job, no provider call, no charge, no new row.
func TestFailedPurchaseRepeatIsNeverRetried(t *testing.T) {
	t.Parallel()
	e := setup(t, flowtest.Options{}, nil)
	body := map[string]any{"reference_id": "broke-1", "product_code": "S10", "customer_number": "081211119912"}
	r := e.create(t, e.KeyA, body)
	want(t, r, http.StatusCreated)
	id := r.purchase(t).ID
	failed := e.waitStatus(t, e.KeyA, id, 30*time.Second, "failed")
	if failed.Failure == nil || failed.Failure.Code != "insufficient_balance" {
		t.Fatalf("failed purchase: %+v", failed)
	}
	ctx := context.Background()
	ledger := len(e.Sims.Klikoo.Ledger().Snapshot())
	balance := e.Sims.Klikoo.Ledger().Balance()
	events := e.call(t, http.MethodGet, "/v1/purchases/"+id+"/events", e.KeyA, nil).Body
	calls, err := e.Q.ProviderCallListByPurchase(ctx, ptr(uuid.MustParse(id)))
	if err != nil || len(calls) == 0 {
		t.Fatalf("provider calls: %d, %v", len(calls), err)
	}

	again := e.create(t, e.KeyA, body)
	want(t, again, http.StatusOK)
	if p := again.purchase(t); p.ID != id || p.Status != "failed" {
		t.Fatalf("repeat of a failed purchase: %s", again)
	}
	open, err := e.Svc.River().JobList(ctx, river.NewJobListParams().States(
		rivertype.JobStateAvailable, rivertype.JobStateScheduled, rivertype.JobStateRunning,
		rivertype.JobStateRetryable, rivertype.JobStatePending))
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range open.Jobs {
		if strings.Contains(string(j.EncodedArgs), id) {
			t.Fatalf("the repeat queued job %s %s", j.Kind, j.EncodedArgs)
		}
	}
	calls2, _ := e.Q.ProviderCallListByPurchase(ctx, ptr(uuid.MustParse(id)))
	after := e.call(t, http.MethodGet, "/v1/purchases/"+id+"/events", e.KeyA, nil).Body
	if len(calls2) != len(calls) || string(after) != string(events) {
		t.Fatalf("the repeat touched the purchase: calls %d→%d", len(calls), len(calls2))
	}
	if len(e.Sims.Klikoo.Ledger().Snapshot()) != ledger || e.Sims.Klikoo.Ledger().Balance() != balance {
		t.Fatal("the repeat charged the provider")
	}
	if n := e.count(t, e.A); n != 1 {
		t.Fatalf("%d purchases stored, want 1", n)
	}
}

// 50 identical POSTs at once: exactly one purchase, one 201, 49 200s, all
// naming it.
func TestConcurrentIdenticalCreates(t *testing.T) {
	t.Parallel()
	e := setup(t, flowtest.Options{NoStart: true}, nil)
	body := map[string]any{"reference_id": "burst-1", "product_code": "S10", "customer_number": "081299990000"}
	const n = 50
	answers := make([]resp, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			answers[i] = e.create(t, e.KeyA, body)
		})
	}
	close(start)
	wg.Wait()
	created, repeated := 0, 0
	ids := map[string]bool{}
	for _, r := range answers {
		switch r.Status {
		case http.StatusCreated:
			created++
		case http.StatusOK:
			repeated++
		default:
			t.Fatalf("unexpected answer %s", r)
		}
		ids[r.purchase(t).ID] = true
	}
	if created != 1 || repeated != n-1 || len(ids) != 1 {
		t.Fatalf("created %d, repeated %d, ids %v", created, repeated, ids)
	}
	if c := e.count(t, e.A); c != 1 {
		t.Fatalf("%d purchases stored, want 1", c)
	}
}

// The duplicate guard: the same product for the same customer under a new
// reference_id is a 409 naming the first purchase, unless allow_repeat.
func TestDuplicateGuard(t *testing.T) {
	t.Parallel()
	e := setup(t, flowtest.Options{NoStart: true}, nil)
	first := e.create(t, e.KeyA, map[string]any{"reference_id": "tap-1", "product_code": "PLN20", "customer_number": "01105691111"})
	want(t, first, http.StatusCreated)
	dup := e.create(t, e.KeyA, map[string]any{"reference_id": "tap-2", "product_code": "PLN20", "customer_number": "011 0569 1111"})
	p := wantProblem(t, dup, http.StatusConflict, "possible_duplicate")
	if p["purchase_id"] != first.purchase(t).ID {
		t.Fatalf("possible_duplicate does not name the first purchase: %s", dup)
	}
	if n := e.count(t, e.A); n != 1 {
		t.Fatalf("the refused duplicate was stored: %d purchases", n)
	}
	// Another client buying for the same customer is not a duplicate.
	want(t, e.create(t, e.KeyB, map[string]any{"reference_id": "tap-2", "product_code": "PLN20", "customer_number": "01105691111"}), http.StatusCreated)
	again := e.create(t, e.KeyA, map[string]any{"reference_id": "tap-2", "product_code": "PLN20", "customer_number": "01105691111", "allow_repeat": true})
	want(t, again, http.StatusCreated)
	if again.purchase(t).ID == first.purchase(t).ID {
		t.Fatal("allow_repeat answered the first purchase")
	}
}

// A tiny rate limit answers 429 with Retry-After once the burst (twice the
// rate) is spent; another client keeps its own bucket.
func TestRateLimit(t *testing.T) {
	t.Parallel()
	e := setup(t, flowtest.Options{NoStart: true}, func(c *httpapi.Config) { c.RateLimitPerClient = 1 })
	var limited resp
	for i := range 20 {
		r := e.call(t, http.MethodGet, "/v1/products", e.KeyA, nil)
		if i < 2 {
			want(t, r, http.StatusOK) // the burst
		}
		if r.Status == http.StatusTooManyRequests {
			limited = r
			break
		}
	}
	if limited.Status == 0 {
		t.Fatal("20 requests at 1/s were never limited")
	}
	wantProblem(t, limited, http.StatusTooManyRequests, "rate_limited")
	if ra := limited.Header.Get("Retry-After"); ra != "1" {
		t.Fatalf("Retry-After = %q, want 1 (one token a second)", ra)
	}
	// POST /v1/purchases is limited too, and nothing is stored.
	wantProblem(t, e.create(t, e.KeyA, map[string]any{"reference_id": "rl", "product_code": "S10", "customer_number": "081211110000"}), http.StatusTooManyRequests, "rate_limited")
	if n := e.count(t, e.A); n != 0 {
		t.Fatalf("a limited request stored %d purchases", n)
	}
	want(t, e.call(t, http.MethodGet, "/v1/products", e.KeyB, nil), http.StatusOK)
}

// The catalog: enabled products with provider, family, inquiry and price.
func TestProducts(t *testing.T) {
	t.Parallel()
	e := setup(t, flowtest.Options{NoStart: true}, nil)
	r := e.call(t, http.MethodGet, "/v1/products", e.KeyA, nil)
	want(t, r, http.StatusOK)
	found := map[string]map[string]any{}
	for _, x := range r.json(t)["data"].([]any) {
		m := x.(map[string]any)
		found[m["code"].(string)] = m
	}
	pln, ok := found["PLN20"]
	if !ok || pln["provider"] != "klikoo" || pln["family"] == "" || pln["inquiry"] != "optional" || pln["price"] == nil || pln["name"] == "" {
		t.Fatalf("PLN20 in the catalog: %v", pln)
	}
	if tsel := found["TSEL10"]; tsel == nil || tsel["provider"] != "snapcart" {
		t.Fatalf("TSEL10 in the catalog: %v", tsel)
	}
}

// Listing: newest first, pages through an opaque cursor, filters by status
// and reference_id; bad parameters are 422 naming each.
func TestListPurchases(t *testing.T) {
	t.Parallel()
	e := setup(t, flowtest.Options{NoStart: true}, nil)
	var ids []string
	for i := range 5 {
		r := e.create(t, e.KeyA, map[string]any{"reference_id": fmt.Sprintf("list-%d", i), "product_code": "S10", "customer_number": fmt.Sprintf("08121111000%d", i)})
		want(t, r, http.StatusCreated)
		ids = append(ids, r.purchase(t).ID)
	}
	want(t, e.create(t, e.KeyB, map[string]any{"reference_id": "other", "product_code": "S10", "customer_number": "081211110009"}), http.StatusCreated)

	var seen []string
	path := "/v1/purchases?limit=2"
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("pagination does not end")
		}
		r := e.call(t, http.MethodGet, path, e.KeyA, nil)
		want(t, r, http.StatusOK)
		m := r.json(t)
		for _, x := range m["data"].([]any) {
			seen = append(seen, x.(map[string]any)["id"].(string))
		}
		next, _ := m["next_cursor"].(string)
		if next == "" {
			break
		}
		path = "/v1/purchases?limit=2&cursor=" + next
	}
	if len(seen) != 5 {
		t.Fatalf("paged through %d purchases, want 5: %v", len(seen), seen)
	}
	for i := range seen {
		if seen[i] != ids[len(ids)-1-i] {
			t.Fatalf("not newest first: %v, created %v", seen, ids)
		}
	}
	r := e.call(t, http.MethodGet, "/v1/purchases?reference_id=list-3", e.KeyA, nil)
	if d := r.json(t)["data"].([]any); len(d) != 1 || d[0].(map[string]any)["id"] != ids[3] {
		t.Fatalf("by reference_id: %s", r)
	}
	r = e.call(t, http.MethodGet, "/v1/purchases?status=received", e.KeyA, nil)
	if d := r.json(t)["data"].([]any); len(d) != 5 {
		t.Fatalf("status=received: %s", r)
	}
	r = e.call(t, http.MethodGet, "/v1/purchases?status=succeeded", e.KeyA, nil)
	if d := r.json(t)["data"].([]any); len(d) != 0 || r.json(t)["next_cursor"] != nil {
		t.Fatalf("status=succeeded: %s", r)
	}
	r = e.call(t, http.MethodGet, "/v1/purchases?created_after="+time.Now().Add(time.Hour).UTC().Format(time.RFC3339), e.KeyA, nil)
	if d := r.json(t)["data"].([]any); len(d) != 0 {
		t.Fatalf("created_after the future: %s", r)
	}

	bad := e.call(t, http.MethodGet, "/v1/purchases?limit=500&status=nope&created_after=yesterday&cursor=xyz", e.KeyA, nil)
	p := wantProblem(t, bad, http.StatusUnprocessableEntity, "validation_failed")
	fields := map[string]bool{}
	for _, x := range p["errors"].([]any) {
		fields[x.(map[string]any)["field"].(string)] = true
	}
	for _, f := range []string{"limit", "status", "created_after", "cursor"} {
		if !fields[f] {
			t.Fatalf("422 does not name %s: %s", f, bad)
		}
	}
	wantProblem(t, e.call(t, http.MethodGet, "/v1/purchases?limit=0", e.KeyA, nil), http.StatusUnprocessableEntity, "validation_failed")
}

func ptr[T any](v T) *T { return &v }

// jsonEqual reports whether two JSON texts hold the same value.
func jsonEqual(t *testing.T, a, b string) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal([]byte(a), &x); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(b), &y); err != nil {
		t.Fatal(err)
	}
	return reflect.DeepEqual(x, y)
}
