package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/ppob-orchestrator/orchestrator/internal/flowtest"
	"github.com/ppob-orchestrator/orchestrator/internal/httpapi"
)

// The machine routes: health, readiness (and its failure), metrics by route
// template, the OpenAPI document; echo's own 404 and 405 as problems; a
// request id on every answer, a caller's well-formed one kept.
func TestMachineRoutesAndEchoErrors(t *testing.T) {
	t.Parallel()
	e := setup(t, flowtest.Options{NoStart: true}, nil)
	h := e.call(t, http.MethodGet, "/healthz", "", nil)
	want(t, h, http.StatusOK)
	if h.json(t)["status"] != "ok" {
		t.Fatalf("healthz: %s", h)
	}
	rd := e.call(t, http.MethodGet, "/readyz", "", nil)
	want(t, rd, http.StatusOK)
	if rd.json(t)["status"] != "ready" {
		t.Fatalf("readyz: %s", rd)
	}

	wantProblem(t, e.call(t, http.MethodGet, "/nope", "", nil), http.StatusNotFound, "not_found")
	wantProblem(t, e.call(t, http.MethodGet, "/v1/nope", e.KeyA, nil), http.StatusNotFound, "not_found")
	m := e.call(t, http.MethodDelete, "/v1/products", e.KeyA, nil)
	wantProblem(t, m, http.StatusMethodNotAllowed, "method_not_allowed")

	id := e.call(t, http.MethodGet, "/v1/purchases/"+uuid.NewString(), e.KeyA, nil)
	if !regexp.MustCompile(`^[0-9a-f]{24}$`).MatchString(id.Header.Get("X-Request-Id")) || id.json(t)["request_id"] != id.Header.Get("X-Request-Id") {
		t.Fatalf("no request id, or the problem names another: %q %s", id.Header.Get("X-Request-Id"), id)
	}
	kept := e.call(t, http.MethodGet, "/healthz", "", nil, "X-Request-Id", "trace-42")
	if kept.Header.Get("X-Request-Id") != "trace-42" {
		t.Fatalf("caller's request id not echoed: %q", kept.Header.Get("X-Request-Id"))
	}
	replaced := e.call(t, http.MethodGet, "/healthz", "", nil, "X-Request-Id", "bad id\twith junk")
	if replaced.Header.Get("X-Request-Id") == "bad id\twith junk" || replaced.Header.Get("X-Request-Id") == "" {
		t.Fatalf("malformed request id kept: %q", replaced.Header.Get("X-Request-Id"))
	}

	doc := e.call(t, http.MethodGet, "/openapi.json", "", nil)
	want(t, doc, http.StatusOK)
	var d struct {
		OpenAPI string         `json:"openapi"`
		Paths   map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(doc.Body, &d); err != nil || d.OpenAPI != "3.1.0" || d.Paths["/v1/purchases"] == nil {
		t.Fatalf("openapi.json: %v %.200s", err, doc.Body)
	}

	metrics := e.call(t, http.MethodGet, "/metrics", "", nil)
	want(t, metrics, http.StatusOK)
	for _, s := range []string{
		`http_request_duration_seconds_count{code="404",method="GET",route="/v1/purchases/:id"} 1`,
		`http_request_duration_seconds_count{code="405",method="DELETE",route=`,
		`http_request_duration_seconds_bucket{code="200",method="GET",route="/healthz"`,
	} {
		if !strings.Contains(string(metrics.Body), s) {
			t.Fatalf("metrics lack %s:\n%s", s, metrics.Body)
		}
	}
}

// /readyz answers 503 with the reason when the check fails, and the routes
// that need the database answer 500 internal (no detail) when the API is
// built without it, as cmd/orchestrator did before it was wired.
func TestUnreadyAndUnwired(t *testing.T) {
	t.Parallel()
	e := setup(t, flowtest.Options{NoStart: true}, nil)
	h := httpapi.New(httpapi.Config{Ready: func(context.Context) error { return errors.New("schema version 1, want 3") }, AdminToken: adminToken})
	srv := e.httpTestServer(t, h)
	r := e.call(t, http.MethodGet, "/readyz", "", nil)
	want(t, r, http.StatusOK)
	e.URL = srv
	r = e.call(t, http.MethodGet, "/readyz", "", nil)
	want(t, r, http.StatusServiceUnavailable)
	if !strings.Contains(string(r.Body), "schema version 1, want 3") {
		t.Fatalf("readyz without the reason: %s", r)
	}
	want(t, e.call(t, http.MethodGet, "/healthz", "", nil), http.StatusOK)
	p := wantProblem(t, e.call(t, http.MethodGet, "/admin/river/jobs", adminToken, nil), http.StatusInternalServerError, "internal")
	if strings.Contains(p["detail"].(string), "Config") || strings.Contains(p["detail"].(string), "Pool") {
		t.Fatalf("internal detail sent: %v", p)
	}
	wantProblem(t, e.call(t, http.MethodGet, "/v1/products", e.KeyA, nil), http.StatusInternalServerError, "internal")
	wantProblem(t, e.call(t, http.MethodGet, "/admin/river/jobs", "", nil), http.StatusUnauthorized, "unauthorized")
}

// API keys: recognizable, long, unique, hashed as stored.
func TestNewAPIKey(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 100 {
		key, hash, prefix, err := httpapi.NewAPIKey()
		if err != nil {
			t.Fatal(err)
		}
		if !regexp.MustCompile(`^ppob_[a-z2-7]{52}$`).MatchString(key) || prefix != key[:12] || seen[key] {
			t.Fatalf("key %q prefix %q", key, prefix)
		}
		seen[key] = true
		if string(hash) != string(httpapi.HashAPIKey(key)) || len(hash) != 32 || string(httpapi.HashAPIKey(key+"x")) == string(hash) {
			t.Fatal("hash is not SHA-256 of the key")
		}
	}
}

// With the metrics served elsewhere (METRICS_ADDR), the API answers
// /metrics with a 404 problem, as its document says.
func TestMetricsElsewhere(t *testing.T) {
	t.Parallel()
	e := setup(t, flowtest.Options{NoStart: true}, func(c *httpapi.Config) { c.MetricsElsewhere = true })
	r := e.call(t, http.MethodGet, "/metrics", "", nil)
	wantProblem(t, r, http.StatusNotFound, "not_found")
	if strings.Contains(string(r.Body), "http_request_duration_seconds") {
		t.Fatalf("metrics served: %s", r)
	}
}
