package contracttest_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/ppob-orchestrator/orchestrator/internal/httpapi/contracttest"
)

// doc describes one operation: POST /things takes {"name": string} and
// answers 201 with {"id": integer} or a 422 problem.
const doc = `{
  "openapi": "3.1.0",
  "info": {"title": "t", "version": "1"},
  "paths": {"/things": {"post": {
    "requestBody": {"required": true, "content": {"application/json": {"schema": {
      "type": "object", "required": ["name"], "additionalProperties": false,
      "properties": {"name": {"type": "string"}}}}}},
    "responses": {
      "201": {"description": "made", "content": {"application/json": {"schema": {
        "type": "object", "required": ["id"], "additionalProperties": false,
        "properties": {"id": {"type": "integer"}}}}}},
      "422": {"description": "bad", "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}
    }}}},
  "components": {"schemas": {"Problem": {"type": "object", "required": ["code"], "properties": {"code": {"type": "string"}}}}}
}`

// answer is what the handler under test answers.
type answer struct {
	status      int
	contentType string
	body        string
	readBody    bool // read the request body first
}

func (a answer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if a.readBody {
		_, _ = io.ReadAll(r.Body)
	}
	w.Header().Set("Content-Type", a.contentType)
	w.WriteHeader(a.status)
	_, _ = io.WriteString(w, a.body)
}

// exchange serves one request through the checker and returns the violations.
func exchange(t *testing.T, h http.Handler, method, path, contentType, body string) []string {
	t.Helper()
	c, err := contracttest.For([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu  sync.Mutex
		got []string
	)
	srv := httptest.NewServer(c.Handler(h, func(v string) { mu.Lock(); got = append(got, v); mu.Unlock() }))
	defer srv.Close()
	req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if string(b) != h.(answer).body {
		t.Fatalf("the checker changed the answer: %q", b)
	}
	mu.Lock()
	defer mu.Unlock()
	return got
}

func TestExchanges(t *testing.T) {
	t.Parallel()
	const good, json, problem = `{"name":"x"}`, "application/json", "application/problem+json"
	cases := []struct {
		name, method, path, contentType, body string
		answer                                answer
		violation                             string // "" when the exchange agrees with doc
	}{
		{"described", "POST", "/things", json, good, answer{201, json, `{"id":1}`, true}, ""},
		{"refused bad request", "POST", "/things", json, `{"name":1}`, answer{422, problem, `{"code":"validation_failed"}`, true}, ""},
		{"refused unread body", "POST", "/things", json, `{"nope":1}`, answer{422, problem, `{"code":"validation_failed"}`, false}, ""},
		{"undeclared status", "POST", "/things", json, good, answer{200, json, `{"id":1}`, true}, "response code '200' does not exist"},
		{"undeclared field", "POST", "/things", json, good, answer{201, json, `{"id":1,"extra":true}`, true}, "not what the document describes"},
		{"wrong type", "POST", "/things", json, good, answer{201, json, `{"id":"1"}`, true}, "not what the document describes"},
		{"undeclared content type", "POST", "/things", json, good, answer{201, "text/plain", `{"id":1}`, true}, "not what the document describes"},
		{"problem not a problem", "POST", "/things", json, `{}`, answer{422, problem, `{"detail":"no code"}`, true}, "not what the document describes"},
		{"accepted forbidden body", "POST", "/things", json, `{"name":"x","admin":true}`, answer{201, json, `{"id":1}`, true}, "accepted a request the document forbids"},
		{"accepted forbidden body unread", "POST", "/things", json, `{"name":2}`, answer{201, json, `{"id":1}`, false}, "accepted a request the document forbids"},
		{"undescribed path refused", "GET", "/nothing", "", "", answer{404, problem, `{"code":"not_found"}`, false}, ""},
		{"undescribed method refused", "DELETE", "/things", "", "", answer{405, problem, `{"code":"method_not_allowed"}`, false}, ""},
		{"undescribed path answered", "GET", "/nothing", "", "", answer{200, json, `{}`, false}, "describes no such operation"},
		{"undescribed path, not a problem", "GET", "/nothing", "", "", answer{404, "text/plain", "not found", false}, "not a problem"},
		{"undescribed path, bad problem", "GET", "/nothing", "", "", answer{404, problem, `{"title":"x"}`, false}, "not a Problem"},
	}
	for _, tc := range cases {
		got := exchange(t, tc.answer, tc.method, tc.path, tc.contentType, tc.body)
		switch {
		case tc.violation == "" && len(got) > 0:
			t.Errorf("%s: violations %q, want none", tc.name, got)
		case tc.violation != "" && (len(got) != 1 || !strings.Contains(got[0], tc.violation)):
			t.Errorf("%s: violations %q, want one saying %q", tc.name, got, tc.violation)
		}
	}
}

// A document that is not OpenAPI cannot serve as a contract.
func TestForRefusesABadDocument(t *testing.T) {
	t.Parallel()
	for _, d := range []string{`{`, `{"openapi":"3.1.0","info":{"title":"t","version":"1"},"paths":{}}`} {
		if _, err := contracttest.For([]byte(d)); err == nil {
			t.Errorf("For(%q) accepted it", d)
		}
	}
}
