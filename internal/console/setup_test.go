package console_test

import (
	"context"
	"crypto/sha256"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ppob-orchestrator/orchestrator/internal/console"
	"github.com/ppob-orchestrator/orchestrator/internal/flowtest"
	"github.com/ppob-orchestrator/orchestrator/internal/httpapi"
	"github.com/ppob-orchestrator/orchestrator/internal/providers/klikoo"
	"github.com/ppob-orchestrator/orchestrator/internal/providers/snapcart"
	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

const adminToken = "console-test-admin-token"

// env is what a console test needs: the flow with both simulators, the
// console over real HTTP in front of its database, and a client's API key.
type env struct {
	*flowtest.Env
	URL     string
	Console *console.Console
	Cfg     console.Config
	APIKey  string
}

// setup starts the console on top of flowtest.Setup; cfg, when given,
// changes its configuration before it is built.
func setup(t testing.TB, o flowtest.Options, cfg func(*console.Config)) *env {
	t.Helper()
	fe := flowtest.Setup(t, o)
	e := &env{Env: fe}
	key, hash, prefix, err := httpapi.NewAPIKey()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fe.Q.ClientInsert(context.Background(), store.ClientInsertParams{
		ID: uuid.New(), Name: "shop with key", KeyHash: hash, KeyPrefix: prefix, CreatedAt: time.Now(),
	}); err != nil {
		t.Fatal(err)
	}
	e.APIKey = key
	jobs, err := console.NewJobs(fe.Svc.River(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	e.Cfg = console.Config{
		Pool: fe.Pool, Flow: fe.Svc, Webhooks: fe.Webhooks, Now: fe.Clock.Now, Jobs: jobs, AdminToken: adminToken,
		BalanceAlertBelow: map[string]int64{klikoo.Name: 1000, snapcart.Name: 1000},
	}
	if cfg != nil {
		cfg(&e.Cfg)
	}
	e.Console, err = console.New(e.Cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := e.Console.Start(ctx); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(e.Console)
	t.Cleanup(srv.Close)
	e.URL = srv.URL
	return e
}

// operators returns CONSOLE_OPERATORS-like hashes of name → token.
func operators(tokens map[string]string) map[string][32]byte {
	out := map[string][32]byte{}
	for n, tok := range tokens {
		out[n] = sha256.Sum256([]byte(tok))
	}
	return out
}

// browser is a client that keeps the console's cookies (whatever their
// Secure flag: the test server is plain HTTP) and follows no redirect.
// Its POSTs say Sec-Fetch-Site: same-origin, as a browser's would.
type browser struct {
	t       testing.TB
	base    string
	cookies map[string]*http.Cookie
	client  *http.Client
}

func (e *env) browser(t testing.TB) *browser {
	return &browser{t: t, base: e.URL, cookies: map[string]*http.Cookie{},
		client: &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// page is an answer, read whole.
type page struct {
	Status int
	Header http.Header
	Body   string
}

func (p page) String() string { return p.Body }

// do sends a request; header holds name, value pairs (a value "" removes
// the header the browser would send).
func (b *browser) do(method, path string, form url.Values, header ...string) page {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.base+path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if method == http.MethodPost {
		req.Header.Set("Sec-Fetch-Site", "same-origin")
	}
	for _, c := range b.cookies {
		req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	for i := 0; i+1 < len(header); i += 2 {
		if header[i+1] == "" {
			req.Header.Del(header[i])
		} else {
			req.Header.Set(header[i], header[i+1])
		}
	}
	res, err := b.client.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	for _, c := range res.Cookies() {
		if c.MaxAge < 0 || c.Value == "" {
			delete(b.cookies, c.Name)
			continue
		}
		b.cookies[c.Name] = c
	}
	return page{Status: res.StatusCode, Header: res.Header, Body: string(raw)}
}

func (b *browser) get(path string, header ...string) page {
	return b.do(http.MethodGet, path, nil, header...)
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf returns the CSRF token of the first form of p.
func csrf(t testing.TB, p page) string {
	t.Helper()
	m := csrfField.FindStringSubmatch(p.Body)
	if m == nil {
		t.Fatalf("no csrf field in the page: %s", p.Body)
	}
	return m[1]
}

// signIn signs b in as name with token and fails t unless it worked.
func (b *browser) signIn(name, token string) {
	b.t.Helper()
	if p := b.trySignIn(name, token); p.Status != http.StatusSeeOther {
		b.t.Fatalf("sign in as %s: %d %s", name, p.Status, p.Body)
	}
}

// trySignIn fills the sign-in form as a person would.
func (b *browser) trySignIn(name, token string) page {
	b.t.Helper()
	form := b.get("/console/signin")
	if form.Status != http.StatusOK {
		b.t.Fatalf("sign-in page: %d", form.Status)
	}
	return b.do(http.MethodPost, "/console/signin", url.Values{
		"csrf": {csrf(b.t, form)}, "name": {name}, "token": {token}, "next": {"/console/"},
	})
}

// post sends a console form with the CSRF token of the page at from.
func (b *browser) post(from, path string, form url.Values, header ...string) page {
	b.t.Helper()
	p := b.get(from)
	if p.Status != http.StatusOK {
		b.t.Fatalf("GET %s: %d %s", from, p.Status, p.Body)
	}
	form.Set("csrf", csrf(b.t, p))
	return b.do(http.MethodPost, path, form, header...)
}

func wantStatus(t testing.TB, p page, status int) {
	t.Helper()
	if p.Status != status {
		t.Fatalf("status %d, want %d: %s", p.Status, status, p.Body)
	}
}

func wantSignin(t testing.TB, p page) {
	t.Helper()
	if p.Status != http.StatusSeeOther || !strings.HasPrefix(p.Header.Get("Location"), "/console/signin") {
		t.Fatalf("want a redirect to the sign-in page, got %d %s %s", p.Status, p.Header.Get("Location"), p.Body)
	}
}

// signins reads the sign-in audit, newest first.
func (e *env) signins(t testing.TB) []store.ConsoleSignin {
	t.Helper()
	rows, err := e.Q.ConsoleSigninListRecent(context.Background(), store.ConsoleSigninListRecentParams{Since: time.Time{}, RowLimit: 100})
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// httptestServer serves h over real HTTP until t ends and returns its URL.
func httptestServer(t testing.TB, h http.Handler) string {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}
