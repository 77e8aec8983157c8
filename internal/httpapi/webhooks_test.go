package httpapi_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ppob-orchestrator/orchestrator/internal/flowtest"
	"github.com/ppob-orchestrator/orchestrator/internal/webhook"
)

// hookServer is a receiver that answers 200 and keeps every request's
// webhook-id and body.
type hookServer struct {
	URL    string
	mu     sync.Mutex
	ids    []string
	bodies []string
}

func newHookServer(t *testing.T) *hookServer {
	h := &hookServer{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		h.ids = append(h.ids, r.Header.Get("webhook-id"))
		h.bodies = append(h.bodies, string(b))
		h.mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	h.URL = srv.URL
	return h
}

func (h *hookServer) got() ([]string, []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.ids...), append([]string(nil), h.bodies...)
}

// Every endpoint field is validated, every complaint names its field, and
// a refused request stores nothing.
func TestWebhookEndpointValidation(t *testing.T) {
	t.Parallel()
	e := setup(t, flowtest.Options{NoStart: true}, nil)
	e.Webhooks = nil
	long := "https://shop.example/" + strings.Repeat("a", 2000)
	cases := []struct {
		body  string
		field string
	}{
		{`{}`, "url"},
		{`{"url": ""}`, "url"},
		{`{"url": "shop.example/hooks"}`, "url"},
		{`{"url": "/hooks"}`, "url"},
		{`{"url": "ftp://shop.example/hooks"}`, "url"},
		{`{"url": "https://user:pw@shop.example/hooks"}`, "url"},
		{`{"url": "https://shop.example/hooks#frag"}`, "url"},
		{`{"url": "` + long + `"}`, "url"},
		{`{"url": 5}`, "url"},
		{`{"url": "https://shop.example/h", "events": []}`, "events"},
		{`{"url": "https://shop.example/h", "events": ["purchase.paid"]}`, "events"},
		{`{"url": "https://shop.example/h", "events": ["purchase.failed", "purchase.failed"]}`, "events"},
		{`{"url": "https://shop.example/h", "events": "purchase.failed"}`, "events"},
		{`{"url": "https://shop.example/h", "description": "` + strings.Repeat("d", 501) + `"}`, "description"},
		{`{"url": "https://shop.example/h", "disabled": true}`, "disabled"},
		{`{"url": "https://shop.example/h", "secret": "whsec_mine"}`, "secret"},
		{`{"url": "https://shop.example/h"} trailing`, "body"},
	}
	for _, c := range cases {
		r := e.call(t, http.MethodPost, "/v1/webhook_endpoints", e.KeyA, c.body)
		p := wantProblem(t, r, http.StatusUnprocessableEntity, "validation_failed")
		if !strings.Contains(fmt.Sprint(p["errors"]), "field:"+c.field+" ") {
			t.Errorf("%s: errors %v do not name %s", c.body, p["errors"], c.field)
		}
	}
	if n := countEndpoints(t, e); n != 0 {
		t.Fatalf("refused requests stored %d endpoints", n)
	}
	// Plain http is refused unless WEBHOOK_ALLOW_INSECURE (flowtest allows it).
	strict := setup(t, flowtest.Options{NoStart: true, Webhook: func(c *webhook.Config) { c.AllowInsecure, c.AllowPrivate = false, false }}, nil)
	for body, field := range map[string]string{
		`{"url": "http://shop.example/hooks"}`: "url",
		`{"url": "https://127.0.0.1/hooks"}`:   "url",
		`{"url": "https://[::1]:8443/hooks"}`:  "url",
	} {
		r := strict.call(t, http.MethodPost, "/v1/webhook_endpoints", strict.KeyA, body)
		p := wantProblem(t, r, http.StatusUnprocessableEntity, "validation_failed")
		if !strings.Contains(fmt.Sprint(p["errors"]), "field:"+field+" ") {
			t.Errorf("%s: errors %v", body, p["errors"])
		}
	}
	// PATCH validates the same way, and an unknown endpoint is 404.
	r := e.call(t, http.MethodPost, "/v1/webhook_endpoints", e.KeyA, `{"url": "https://shop.example/h"}`)
	want(t, r, http.StatusCreated)
	id := r.json(t)["id"].(string)
	for body, field := range map[string]string{
		`{"url": "ftp://x"}`:    "url",
		`{"events": []}`:        "events",
		`{"disabled": "yes"}`:   "disabled",
		`{"description": 1}`:    "description",
		`{"colour": "blue"}`:    "colour",
		`{"url": null, "x": 1}`: "x",
	} {
		p := wantProblem(t, e.call(t, http.MethodPatch, "/v1/webhook_endpoints/"+id, e.KeyA, body), http.StatusUnprocessableEntity, "validation_failed")
		if !strings.Contains(fmt.Sprint(p["errors"]), "field:"+field+" ") {
			t.Errorf("PATCH %s: errors %v", body, p["errors"])
		}
	}
	got := e.call(t, http.MethodGet, "/v1/webhook_endpoints/"+id, e.KeyA, nil).json(t)
	if got["url"] != "https://shop.example/h" || len(got["events"].([]any)) != 6 {
		t.Errorf("a refused PATCH changed the endpoint: %v", got)
	}
}

func countEndpoints(t *testing.T, e *env) int64 {
	t.Helper()
	var n int64
	if err := e.Pool.QueryRow(context.Background(), "SELECT count(*) FROM webhook_endpoints").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// Another client's endpoint or delivery answers 404 like a missing one,
// for every route; a client has at most 10 endpoints.
func TestWebhookTenancyAndLimit(t *testing.T) {
	t.Parallel()
	e := setup(t, flowtest.Options{}, nil)
	hooks := newHookServer(t)
	r := e.call(t, http.MethodPost, "/v1/webhook_endpoints", e.KeyA, map[string]any{"url": hooks.URL + "/a"})
	want(t, r, http.StatusCreated)
	id := r.json(t)["id"].(string)
	p := e.create(t, e.KeyA, map[string]any{"reference_id": "wh-tenancy", "product_code": "S10", "customer_number": "081211224400"}).purchase(t)
	e.waitStatus(t, e.KeyA, p.ID, time.Minute, "succeeded")
	var delivery string
	flowtest.WaitFor(t, time.Minute, func() string { return "a delivery" }, func() bool {
		ids, _ := hooks.got()
		if len(ids) > 0 {
			delivery = ids[0]
		}
		return delivery != ""
	})
	missing := "00000000-0000-4000-8000-000000000000"
	for _, c := range []struct{ method, path, body string }{
		{http.MethodGet, "/v1/webhook_endpoints/" + id, ""},
		{http.MethodPatch, "/v1/webhook_endpoints/" + id, `{"description": "mine now"}`},
		{http.MethodDelete, "/v1/webhook_endpoints/" + id, ""},
		{http.MethodPost, "/v1/webhook_endpoints/" + id + "/rotate_secret", ""},
		{http.MethodPost, "/v1/webhook_endpoints/" + id + "/recover", `{"since": "` + time.Now().Add(-time.Hour).UTC().Format(time.RFC3339) + `"}`},
		{http.MethodGet, "/v1/webhook_deliveries/" + delivery, ""},
		{http.MethodPost, "/v1/webhook_deliveries/" + delivery + "/retry", ""},
	} {
		var body any
		if c.body != "" {
			body = c.body
		}
		other := e.call(t, c.method, c.path, e.KeyB, body)
		wantProblem(t, other, http.StatusNotFound, "not_found")
		path := strings.Replace(strings.Replace(c.path, id, missing, 1), delivery, "msg_"+missing, 1)
		none := e.call(t, c.method, path, e.KeyA, body)
		wantProblem(t, none, http.StatusNotFound, "not_found")
		// The same answer as for a missing one, but for the id asked about.
		msgID := strings.TrimPrefix(delivery, "msg_")
		norm := func(r resp, ids ...string) string {
			d := r.json(t)["detail"].(string)
			for _, x := range ids {
				d = strings.ReplaceAll(d, x, "ID")
			}
			return d
		}
		if a, b := norm(other, id, msgID), norm(none, missing); a != b {
			t.Errorf("%s %s: another client's answer %q differs from a missing one's %q", c.method, c.path, a, b)
		}
	}
	if l := e.call(t, http.MethodGet, "/v1/webhook_deliveries?endpoint_id="+id, e.KeyB, nil).json(t); len(l["data"].([]any)) != 0 {
		t.Errorf("another client lists A's deliveries: %v", l)
	}
	if l := e.call(t, http.MethodGet, "/v1/webhook_endpoints", e.KeyB, nil).json(t); len(l["data"].([]any)) != 0 {
		t.Errorf("another client lists A's endpoints: %v", l)
	}
	// Still A's and untouched.
	if got := e.call(t, http.MethodGet, "/v1/webhook_endpoints/"+id, e.KeyA, nil).json(t); got["description"] != "" {
		t.Errorf("another client changed the endpoint: %v", got)
	}

	for i := 2; i <= webhook.MaxEndpoints; i++ {
		want(t, e.call(t, http.MethodPost, "/v1/webhook_endpoints", e.KeyA, map[string]any{"url": fmt.Sprintf("https://shop.example/%d", i)}), http.StatusCreated)
	}
	wantProblem(t, e.call(t, http.MethodPost, "/v1/webhook_endpoints", e.KeyA, map[string]any{"url": "https://shop.example/11"}), http.StatusUnprocessableEntity, "too_many_endpoints")
	want(t, e.call(t, http.MethodPost, "/v1/webhook_endpoints", e.KeyB, map[string]any{"url": "https://shop.example/b"}), http.StatusCreated)
	want(t, e.call(t, http.MethodDelete, "/v1/webhook_endpoints/"+id, e.KeyA, nil), http.StatusNoContent)
	want(t, e.call(t, http.MethodPost, "/v1/webhook_endpoints", e.KeyA, map[string]any{"url": "https://shop.example/again"}), http.StatusCreated)
	wantProblem(t, e.call(t, http.MethodGet, "/v1/webhook_endpoints/"+id, e.KeyA, nil), http.StatusNotFound, "not_found")
}

// Without WEBHOOK_SECRET_KEY endpoint creation and rotation answer 503
// naming the setting; everything else works.
func TestWebhooksWithoutSecretKey(t *testing.T) {
	t.Parallel()
	e := setup(t, flowtest.Options{NoStart: true, Webhook: func(c *webhook.Config) { c.SecretKey = nil }}, nil)
	p := wantProblem(t, e.call(t, http.MethodPost, "/v1/webhook_endpoints", e.KeyA, `{"url": "https://shop.example/h"}`), http.StatusServiceUnavailable, "webhooks_not_configured")
	if !strings.Contains(p["detail"].(string), "WEBHOOK_SECRET_KEY") {
		t.Errorf("the 503 does not name WEBHOOK_SECRET_KEY: %v", p)
	}
	want(t, e.call(t, http.MethodGet, "/v1/webhook_endpoints", e.KeyA, nil), http.StatusOK)
	if n := countEndpoints(t, e); n != 0 {
		t.Fatalf("%d endpoints stored", n)
	}
}

// The secret is in the creation and rotation answers only; a rotation
// gives a new one.
func TestWebhookSecretShownOnce(t *testing.T) {
	t.Parallel()
	e := setup(t, flowtest.Options{NoStart: true}, nil)
	r := e.call(t, http.MethodPost, "/v1/webhook_endpoints", e.KeyA, `{"url": "https://shop.example/h", "description": "shop", "events": ["purchase.succeeded"]}`)
	want(t, r, http.StatusCreated)
	created := r.json(t)
	secret, _ := created["secret"].(string)
	if !strings.HasPrefix(secret, "whsec_") || len(secret) != len("whsec_")+44 {
		t.Fatalf("secret %q", secret)
	}
	id := created["id"].(string)
	if r.Header.Get("Location") != "/v1/webhook_endpoints/"+id {
		t.Errorf("Location %q", r.Header.Get("Location"))
	}
	for _, a := range []resp{
		e.call(t, http.MethodGet, "/v1/webhook_endpoints/"+id, e.KeyA, nil),
		e.call(t, http.MethodGet, "/v1/webhook_endpoints", e.KeyA, nil),
		e.call(t, http.MethodPatch, "/v1/webhook_endpoints/"+id, e.KeyA, `{"disabled": true}`),
		e.call(t, http.MethodPatch, "/v1/webhook_endpoints/"+id, e.KeyA, `{"disabled": false, "url": "https://shop.example/new"}`),
	} {
		want(t, a, http.StatusOK)
		if strings.Contains(string(a.Body), "whsec_") || strings.Contains(string(a.Body), "secret") {
			t.Errorf("an answer shows a secret: %s", a.Body)
		}
	}
	r = e.call(t, http.MethodPost, "/v1/webhook_endpoints/"+id+"/rotate_secret", e.KeyA, nil)
	want(t, r, http.StatusOK)
	rotated := r.json(t)
	if s, _ := rotated["secret"].(string); !strings.HasPrefix(s, "whsec_") || s == secret {
		t.Errorf("rotation gave %q", s)
	}
	if rotated["url"] != "https://shop.example/new" || rotated["disabled"] != false {
		t.Errorf("rotated endpoint %v", rotated)
	}
}

// The deliveries API lists a client's deliveries with their attempts,
// filtered and paginated; retry sends a delivered message again with the
// same webhook-id and body; a pending one cannot be retried.
func TestWebhookDeliveriesAPI(t *testing.T) {
	t.Parallel()
	e := setup(t, flowtest.Options{}, nil)
	hooks := newHookServer(t)
	r := e.call(t, http.MethodPost, "/v1/webhook_endpoints", e.KeyA, map[string]any{"url": hooks.URL, "events": []string{"purchase.succeeded"}})
	want(t, r, http.StatusCreated)
	epID := r.json(t)["id"].(string)
	var ids []string
	for i := range 3 {
		p := e.create(t, e.KeyA, map[string]any{"reference_id": fmt.Sprintf("wh-list-%d", i), "product_code": "S10", "customer_number": "081211224400", "allow_repeat": true}).purchase(t)
		e.waitStatus(t, e.KeyA, p.ID, time.Minute, "succeeded")
		ids = append(ids, p.ID)
	}
	var all []any
	flowtest.WaitFor(t, time.Minute, func() string { return fmt.Sprintf("3 delivered, have %v", all) }, func() bool {
		all = e.call(t, http.MethodGet, "/v1/webhook_deliveries?status=delivered&endpoint_id="+epID, e.KeyA, nil).json(t)["data"].([]any)
		return len(all) == 3
	})
	first := all[0].(map[string]any)
	if first["event_type"] != "purchase.succeeded" || len(first["attempts"].([]any)) != 1 || first["purchase_id"] != ids[2] {
		t.Fatalf("newest delivery %v", first)
	}
	attempt := first["attempts"].([]any)[0].(map[string]any)
	if attempt["http_status"] != float64(200) || attempt["latency_ms"] == nil {
		t.Errorf("attempt %v", attempt)
	}
	// Pagination, newest first.
	var seen []string
	path := "/v1/webhook_deliveries?limit=1"
	for path != "" {
		page := e.call(t, http.MethodGet, path, e.KeyA, nil).json(t)
		for _, d := range page["data"].([]any) {
			seen = append(seen, d.(map[string]any)["purchase_id"].(string))
		}
		path = ""
		if c, ok := page["next_cursor"].(string); ok {
			path = "/v1/webhook_deliveries?limit=1&cursor=" + c
		}
	}
	if fmt.Sprint(seen) != fmt.Sprint([]string{ids[2], ids[1], ids[0]}) {
		t.Errorf("pages %v, want %v", seen, []string{ids[2], ids[1], ids[0]})
	}
	if l := e.call(t, http.MethodGet, "/v1/webhook_deliveries?purchase_id="+ids[0], e.KeyA, nil).json(t)["data"].([]any); len(l) != 1 {
		t.Errorf("by purchase: %v", l)
	}
	for q, field := range map[string]string{"status=lost": "status", "endpoint_id=x": "endpoint_id", "purchase_id=1": "purchase_id", "limit=0": "limit", "cursor=bogus": "cursor"} {
		p := wantProblem(t, e.call(t, http.MethodGet, "/v1/webhook_deliveries?"+q, e.KeyA, nil), http.StatusUnprocessableEntity, "validation_failed")
		if !strings.Contains(fmt.Sprint(p["errors"]), "field:"+field+" ") {
			t.Errorf("%s: %v", q, p["errors"])
		}
	}

	// Retry: the same webhook-id and body again.
	id := first["id"].(string)
	r = e.call(t, http.MethodPost, "/v1/webhook_deliveries/"+id+"/retry", e.KeyA, nil)
	want(t, r, http.StatusAccepted)
	var again []any
	flowtest.WaitFor(t, time.Minute, func() string { return "the retry delivered" }, func() bool {
		d := e.call(t, http.MethodGet, "/v1/webhook_deliveries/"+id, e.KeyA, nil).json(t)
		again = d["attempts"].([]any)
		return d["status"] == "delivered" && len(again) == 2
	})
	got, bodies := hooks.got()
	var sent []string
	for i, g := range got {
		if g == id {
			sent = append(sent, bodies[i])
		}
	}
	if len(sent) != 2 || sent[0] != sent[1] {
		t.Errorf("the retry sent %d requests with webhook-id %s; bodies identical: %v", len(sent), id, len(sent) == 2 && sent[0] == sent[1])
	}
	// Recover: nothing failed, nothing queued; since is validated.
	rec := e.call(t, http.MethodPost, "/v1/webhook_endpoints/"+epID+"/recover", e.KeyA, map[string]any{"since": time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)})
	want(t, rec, http.StatusAccepted)
	if rec.json(t)["requeued"] != float64(0) {
		t.Errorf("recover %s", rec)
	}
	for body, field := range map[string]string{
		`{}`:                                "since",
		`{"since": "yesterday"}`:            "since",
		`{"since": "2000-01-01T00:00:00Z"}`: "since",
		`{"since": "2999-01-01T00:00:00Z"}`: "since",
	} {
		p := wantProblem(t, e.call(t, http.MethodPost, "/v1/webhook_endpoints/"+epID+"/recover", e.KeyA, body), http.StatusUnprocessableEntity, "validation_failed")
		if !strings.Contains(fmt.Sprint(p["errors"]), "field:"+field+" ") {
			t.Errorf("%s: %v", body, p["errors"])
		}
	}
}
