package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// checkConsoleWiring signs in to the console `dev` serves beside the API
// with the token it printed, as a browser would (dev cookies: no Secure,
// plain HTTP), and checks the two doors stay apart: the console cookie
// opens no /admin route, and the admin bearer token opens no console page.
func checkConsoleWiring(t *testing.T, consoleURL, token string) {
	t.Helper()
	base := strings.TrimSuffix(consoleURL, "/console/")
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(path string, header ...string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, base+path, nil)
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		res, err := noFollow.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	if res := get("/console/", "Authorization", "Bearer "+token); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("the admin bearer token opened the console: %d", res.StatusCode)
	}
	if res := get("/admin/reconciliation", "Authorization", "Bearer "+token); res.StatusCode != http.StatusOK {
		t.Fatalf("the admin token does not open /admin: %d", res.StatusCode)
	}

	res, err := noFollow.Get(base + "/console/signin")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindSubmatch(body)
	if m == nil || len(res.Cookies()) != 1 || res.Cookies()[0].Name != "console-signin" {
		t.Fatalf("dev's sign-in page: %v %s", res.Cookies(), body)
	}
	form := url.Values{"csrf": {string(m[1])}, "name": {"admin"}, "token": {token}}
	req, _ := http.NewRequest(http.MethodPost, base+"/console/signin", bytes.NewBufferString(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", base)
	req.AddCookie(res.Cookies()[0])
	signed, err := noFollow.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	signed.Body.Close()
	var session *http.Cookie
	for _, c := range signed.Cookies() {
		if c.Name == "console" && c.Value != "" {
			session = c
		}
	}
	if signed.StatusCode != http.StatusSeeOther || session == nil || session.Secure {
		t.Fatalf("sign-in with dev's printed token: %d %v", signed.StatusCode, signed.Cookies())
	}
	cookie := "console=" + session.Value
	if res := get("/console/", "Cookie", cookie); res.StatusCode != http.StatusOK {
		t.Fatalf("the session does not open the console: %d", res.StatusCode)
	}
	if res := get("/console/river/", "Cookie", cookie); res.StatusCode != http.StatusOK {
		t.Fatalf("River UI: %d", res.StatusCode)
	}
	if res := get("/admin/reconciliation", "Cookie", cookie); res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("the console cookie opened /admin: %d", res.StatusCode)
	}
}

// `operators create` prints a token once and the CONSOLE_OPERATORS entry
// that holds its SHA-256; a bad name is refused.
func TestOperatorsCreate(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	if err := runOperators([]string{"create", "--name", "ana"}, &out); err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?s)shown only this once:\n(\S+)\n.*CONSOLE_OPERATORS.*\n(ana:[0-9a-f]{64})\n`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("output: %s", out.String())
	}
	sum := sha256.Sum256([]byte(m[1]))
	if m[2] != "ana:"+hex.EncodeToString(sum[:]) || len(m[1]) < 32 {
		t.Fatalf("the entry %s does not hold the token's SHA-256", m[2])
	}
	for _, bad := range [][]string{{"create"}, {"create", "--name", "a b"}, {"list"}} {
		if err := runOperators(bad, io.Discard); err == nil {
			t.Fatalf("%v accepted", bad)
		}
	}
}
