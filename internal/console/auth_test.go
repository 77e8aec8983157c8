package console_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ppob-orchestrator/orchestrator/internal/console"
	"github.com/ppob-orchestrator/orchestrator/internal/flowtest"
)

// Signing in starts a session with a fresh id (never the one the browser
// presented) in a cookie with docs/console.md's flags; the session opens
// every page; signing out (a POST) ends it. Each step is audited.
func TestSignInAndOut(t *testing.T) {
	t.Parallel()
	e := setup(t, flowtest.Options{NoStart: true}, nil)
	b := e.browser(t)
	wantSignin(t, b.get("/console/"))
	b.cookies["__Host-console"] = &http.Cookie{Name: "__Host-console", Value: "chosen-by-an-attacker"}
	p := b.trySignIn("admin", adminToken)
	wantStatus(t, p, http.StatusSeeOther)
	if p.Header.Get("Location") != "/console/" {
		t.Fatalf("after sign-in: %s", p.Header.Get("Location"))
	}
	var set *http.Cookie
	for _, c := range (&http.Response{Header: p.Header}).Cookies() {
		if c.Name == "__Host-console" {
			set = c
		}
	}
	if set == nil || set.Value == "chosen-by-an-attacker" || len(set.Value) < 40 {
		t.Fatalf("session cookie: %+v", set)
	}
	if !set.HttpOnly || !set.Secure || set.SameSite != http.SameSiteStrictMode || set.Path != "/" || set.Domain != "" {
		t.Fatalf("session cookie flags: %+v", set)
	}
	home := b.get("/console/")
	wantStatus(t, home, http.StatusOK)
	if !strings.Contains(home.Body, `<span id="operator">admin</span>`) {
		t.Fatalf("the overview does not name the operator: %s", home.Body)
	}
	out := b.post("/console/", "/console/signout", url.Values{})
	wantSignin(t, out)
	b.cookies["__Host-console"] = set // the old cookie, kept by a thief
	wantSignin(t, b.get("/console/"))

	audit := e.signins(t)
	if len(audit) != 2 || audit[0].Outcome != "signed_out" || audit[1].Outcome != "signed_in" || audit[1].Operator != "admin" {
		t.Fatalf("audit: %+v", audit)
	}
}

// Without CONSOLE_OPERATORS, only ADMIN_TOKEN as "admin" signs in. A wrong
// token, another name, a client's API key, a form without its sign-in CSRF
// token or from another site are refused, each failure audited without the
// token; a burst of attempts from one address is rate-limited.
func TestSignInRefusals(t *testing.T) {
	t.Parallel()
	e := setup(t, flowtest.Options{NoStart: true}, nil)
	b := e.browser(t)
	wantStatus(t, b.trySignIn("admin", "not-the-token"), http.StatusUnauthorized)
	wantStatus(t, b.trySignIn("root", adminToken), http.StatusUnauthorized)
	refused := b.trySignIn("admin", e.APIKey)
	wantStatus(t, refused, http.StatusUnauthorized)
	if !strings.Contains(refused.Body, "Sign-in failed") {
		t.Fatalf("refusal page: %s", refused.Body)
	}
	noToken := b.do(http.MethodPost, "/console/signin", url.Values{"name": {"admin"}, "token": {adminToken}})
	wantStatus(t, noToken, http.StatusForbidden)
	form := b.get("/console/signin")
	crossSite := b.do(http.MethodPost, "/console/signin", url.Values{"csrf": {csrf(t, form)}, "name": {"admin"}, "token": {adminToken}},
		"Sec-Fetch-Site", "cross-site")
	wantStatus(t, crossSite, http.StatusForbidden)
	if _, ok := b.cookies["__Host-console"]; ok {
		t.Fatal("a refused sign-in set a session cookie")
	}

	audit := e.signins(t)
	reasons := []string{}
	for _, a := range audit {
		reasons = append(reasons, a.Operator+"/"+a.Outcome+"/"+a.Reason)
		if strings.Contains(a.Operator+a.Reason, adminToken) || strings.Contains(a.Operator+a.Reason, e.APIKey) {
			t.Fatalf("a token reached the audit: %+v", a)
		}
	}
	want := "(unknown)/failed/cross_origin admin/failed/form_token admin/failed/client_api_key (unknown)/failed/not_admin admin/failed/wrong_token"
	if got := strings.Join(reasons, " "); got != want {
		t.Fatalf("audit %q, want %q", got, want)
	}

	// Three attempts so far from this address; the default limit allows 5.
	wantStatus(t, b.trySignIn("admin", "wrong-again"), http.StatusUnauthorized)
	wantStatus(t, b.trySignIn("admin", "wrong-again"), http.StatusUnauthorized)
	limited := b.trySignIn("admin", adminToken)
	wantStatus(t, limited, http.StatusTooManyRequests)
	if limited.Header.Get("Retry-After") == "" || e.signins(t)[0].Outcome != "rate_limited" {
		t.Fatalf("rate limit: %v %+v", limited.Header, e.signins(t)[0])
	}
}

// With CONSOLE_OPERATORS, each operator signs in with its own token and
// ADMIN_TOKEN opens nothing; an operator whose token is changed in the
// configuration loses its session.
func TestOperatorsAndTokenRotation(t *testing.T) {
	t.Parallel()
	ops := map[string]string{"ana": "ana-token-0123456789", "budi": "budi-token-0123456789"}
	e := setup(t, flowtest.Options{NoStart: true}, func(c *console.Config) { c.Operators = operators(ops) })
	wantStatus(t, e.browser(t).trySignIn("admin", adminToken), http.StatusUnauthorized)
	wantStatus(t, e.browser(t).trySignIn("ana", ops["budi"]), http.StatusUnauthorized)
	ana := e.browser(t)
	ana.signIn("ana", ops["ana"])
	wantStatus(t, ana.get("/console/review"), http.StatusOK)
	if reasons := e.signins(t); reasons[1].Reason != "wrong_token" || reasons[2].Reason != "unknown_operator" || reasons[2].Operator != "(unknown)" {
		t.Fatalf("audit: %+v", reasons)
	}

	// The same database, a process restarted with ana's token rotated.
	rotated := e.Cfg
	rotated.Operators = operators(map[string]string{"ana": "ana-new-token-0123456789", "budi": ops["budi"]})
	con, err := console.New(rotated)
	if err != nil {
		t.Fatal(err)
	}
	r := httptestServer(t, con)
	ana.base = r
	wantSignin(t, ana.get("/console/review"))
}

// A session ends after 30 idle minutes, and after CONSOLE_SESSION_TTL
// however busy.
func TestSessionExpiry(t *testing.T) {
	t.Parallel()
	e := setup(t, flowtest.Options{NoStart: true}, func(c *console.Config) { c.SessionTTL = time.Hour })
	idle := e.browser(t)
	idle.signIn("admin", adminToken)
	e.Clock.Advance(29 * time.Minute)
	wantStatus(t, idle.get("/console/"), http.StatusOK)
	e.Clock.Advance(29 * time.Minute) // 29 min after the last request: still alive
	wantStatus(t, idle.get("/console/"), http.StatusOK)
	e.Clock.Advance(31 * time.Minute)
	wantSignin(t, idle.get("/console/"))

	busy := e.browser(t)
	busy.signIn("admin", adminToken)
	for i := 0; i < 3; i++ {
		e.Clock.Advance(19 * time.Minute)
		wantStatus(t, busy.get("/console/"), http.StatusOK)
	}
	e.Clock.Advance(4 * time.Minute) // 61 minutes after sign-in, 4 after the last request
	wantSignin(t, busy.get("/console/"))
}

// Every page and River UI need a session: without one (a bearer token,
// even the admin token, is not one) a browser is sent to sign in. Every
// answer, the sign-in page included, carries the security headers.
func TestPagesNeedSessionAndCarryHeaders(t *testing.T) {
	t.Parallel()
	e := setup(t, flowtest.Options{NoStart: true}, nil)
	paths := []string{"/console/", "/console/purchases", "/console/purchases/" + e.ClientID.String(), "/console/review",
		"/console/reconciliation", "/console/reconciliation/daily.csv", "/console/providers", "/console/webhooks",
		"/console/webhooks/endpoints/" + e.ClientID.String(), "/console/river/",
		"/console/river/api/jobs?state=completed", "/console/nowhere"}
	anon := e.browser(t)
	for _, p := range paths {
		wantSignin(t, anon.get(p))
		wantSignin(t, anon.get(p, "Authorization", "Bearer "+adminToken))
		wantSignin(t, anon.get(p, "Authorization", "Bearer "+e.APIKey))
	}
	if loc := anon.get("/console/review").Header.Get("Location"); loc != "/console/signin?next=%2Fconsole%2Freview" {
		t.Fatalf("the sign-in link does not lead back: %s", loc)
	}
	htmx := anon.get("/console/purchases", "HX-Request", "true")
	if htmx.Status != http.StatusUnauthorized || htmx.Header.Get("HX-Redirect") == "" {
		t.Fatalf("htmx without a session: %d %v", htmx.Status, htmx.Header)
	}

	b := e.browser(t)
	b.signIn("admin", adminToken)
	wantHeaders := func(path string, p page) {
		t.Helper()
		csp := "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
		if strings.HasPrefix(path, "/console/river/") {
			csp = strings.Replace(csp, "style-src 'self'", "style-src 'self' 'unsafe-inline'", 1)
		}
		for k, v := range map[string]string{
			"Content-Security-Policy": csp, "X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff",
			"Referrer-Policy": "same-origin", "Cache-Control": "no-store",
		} {
			if got := p.Header.Get(k); got != v {
				t.Errorf("%s: %s is %q, want %q", path, k, got, v)
			}
		}
	}
	for _, path := range paths[:len(paths)-1] {
		p := b.get(path)
		if strings.HasSuffix(path, "/"+e.ClientID.String()) {
			wantStatus(t, p, http.StatusNotFound) // no purchase or endpoint has a client's id
		} else {
			wantStatus(t, p, http.StatusOK)
		}
		wantHeaders(path, p)
	}
	wantStatus(t, b.get("/console/nowhere"), http.StatusNotFound)
	wantHeaders("/console/signin", anon.get("/console/signin"))
	if js := anon.get("/console/static/htmx.min.js"); js.Status != http.StatusOK || !strings.Contains(js.Body, "htmx") {
		t.Fatalf("htmx is not served: %d", js.Status)
	}
}

// Every POST needs the session's CSRF token and a same-origin browser
// mark; River UI's own POSTs, which carry no token, need the mark only.
func TestPostsNeedCSRFAndSameOrigin(t *testing.T) {
	t.Parallel()
	e := setup(t, flowtest.Options{NoStart: true}, nil)
	b := e.browser(t)
	b.signIn("admin", adminToken)
	token := csrf(t, b.get("/console/"))
	wantStatus(t, b.do(http.MethodPost, "/console/signout", url.Values{}), http.StatusForbidden)
	// A token differing in its first character (whatever that is).
	tampered := "0" + token[1:]
	if tampered == token {
		tampered = "1" + token[1:]
	}
	wantStatus(t, b.do(http.MethodPost, "/console/signout", url.Values{"csrf": {tampered}}), http.StatusForbidden)
	wantStatus(t, b.do(http.MethodPost, "/console/signout", url.Values{"csrf": {token}}, "Sec-Fetch-Site", "cross-site"), http.StatusForbidden)
	wantStatus(t, b.do(http.MethodPost, "/console/signout", url.Values{"csrf": {token}}, "Sec-Fetch-Site", "same-site"), http.StatusForbidden)
	wantStatus(t, b.do(http.MethodPost, "/console/signout", url.Values{"csrf": {token}}, "Sec-Fetch-Site", ""), http.StatusForbidden)
	wantStatus(t, b.do(http.MethodPost, "/console/signout", url.Values{"csrf": {token}}, "Sec-Fetch-Site", "", "Origin", "http://evil.example"), http.StatusForbidden)
	wantStatus(t, b.get("/console/"), http.StatusOK) // still signed in

	river := "/console/river/api/jobs/retry"
	wantStatus(t, b.do(http.MethodPost, river, url.Values{}, "Sec-Fetch-Site", "cross-site"), http.StatusForbidden)
	if p := b.do(http.MethodPost, river, url.Values{}); p.Status == http.StatusForbidden || p.Status == http.StatusSeeOther {
		t.Fatalf("River UI's same-origin POST did not reach River UI: %d %s", p.Status, p.Body)
	}

	// An older browser without Sec-Fetch-Site: its same-origin Origin passes.
	origin := e.URL
	wantSignin(t, b.do(http.MethodPost, "/console/signout", url.Values{"csrf": {token}}, "Sec-Fetch-Site", "", "Origin", origin))
	wantSignin(t, b.get("/console/"))
}

// In dev the cookies go without Secure, so without the __Host- prefix.
func TestDevCookies(t *testing.T) {
	t.Parallel()
	e := setup(t, flowtest.Options{NoStart: true}, func(c *console.Config) { c.Dev = true })
	b := e.browser(t)
	b.signIn("admin", adminToken)
	c, ok := b.cookies["console"]
	if !ok || c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode {
		t.Fatalf("dev session cookie: %+v (all: %v)", c, b.cookies)
	}
	wantStatus(t, b.get("/console/"), http.StatusOK)
}
