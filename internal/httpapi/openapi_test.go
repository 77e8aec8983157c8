package httpapi

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/ppob-orchestrator/orchestrator/internal/httpapi/contracttest"
)

// The OpenAPI document and the registered routes agree: every route is
// described, and every described path and method is a route.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	t.Parallel()
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(openAPI, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Fatalf("openapi = %q, want 3.1.0", doc.OpenAPI)
	}
	routes := map[string]bool{}
	for _, r := range newEcho(Config{}).Routes() {
		if r.Method == echo.RouteNotFound {
			continue
		}
		routes[strings.ToLower(r.Method)+" "+routeParam.ReplaceAllString(r.Path, "{$1}")] = true
	}
	described := map[string]bool{}
	for path, ops := range doc.Paths {
		for method := range ops {
			switch method {
			case "get", "put", "post", "delete", "options", "head", "patch", "trace":
				described[method+" "+path] = true
			}
		}
	}
	var missing, extra []string
	for r := range routes {
		if !described[r] {
			missing = append(missing, r)
		}
	}
	for d := range described {
		if !routes[d] {
			extra = append(extra, d)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 || len(extra) > 0 {
		t.Fatalf("routes missing from openapi.json: %v; described but not routes: %v", missing, extra)
	}
	if len(routes) < 15 {
		t.Fatalf("only %d routes registered", len(routes))
	}
	// Every $ref points at something the document defines.
	var whole map[string]any
	_ = json.Unmarshal(openAPI, &whole)
	for _, ref := range regexp.MustCompile(`"\$ref":\s*"#/([^"]+)"`).FindAllStringSubmatch(string(openAPI), -1) {
		var node any = whole
		for _, part := range strings.Split(ref[1], "/") {
			m, ok := node.(map[string]any)
			if !ok || m[part] == nil {
				t.Fatalf("dangling $ref #/%s", ref[1])
			}
			node = m[part]
		}
	}
}

// A panic in a handler answers a 500 problem without its detail, with the
// request id, and the server keeps serving.
func TestPanicBecomesInternalProblem(t *testing.T) {
	t.Parallel()
	e := newEcho(Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	e.GET("/boom", func(echo.Context) error { panic("secret internal detail") })
	srv := httptest.NewServer(contracttest.Handler(t, openAPI, e))
	t.Cleanup(srv.Close)
	res, err := http.Get(srv.URL + "/boom")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	var p Problem
	if err := json.Unmarshal(body, &p); err != nil || res.StatusCode != 500 || p.Code != "internal" ||
		res.Header.Get("Content-Type") != "application/problem+json" || p.RequestID != res.Header.Get("X-Request-Id") || p.RequestID == "" {
		t.Fatalf("panic answer: %d %s", res.StatusCode, body)
	}
	if strings.Contains(string(body), "secret") {
		t.Fatalf("internal detail sent: %s", body)
	}
	res, err = http.Get(srv.URL + "/healthz")
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("after a panic: %v %v", res, err)
	}
	res.Body.Close()
}
