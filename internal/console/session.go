package console

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

// Cookie names. Outside dev they carry the __Host- prefix, which makes a
// browser keep them only when Secure, with Path=/ and no Domain; a browser
// refuses such a cookie without Secure, so dev (plain HTTP) uses bare names.
const (
	sessionCookie    = "__Host-console"
	signinCookie     = "__Host-console-signin"
	devSessionCookie = "console"
	devSigninCookie  = "console-signin"
)

// touchEvery is how stale last_seen_at may get before a request rewrites
// it: idle expiry is measured to this precision, at one write a minute.
const touchEvery = time.Minute

// session is a signed-in operator, as a request sees it.
type session struct {
	Operator string
	CSRF     string // the token every POST of this session must carry
	idHash   []byte
}

type sessionKey struct{}

func (c *Console) sessionCookieName() string {
	if c.cfg.Dev {
		return devSessionCookie
	}
	return sessionCookie
}

func (c *Console) signinCookieName() string {
	if c.cfg.Dev {
		return devSigninCookie
	}
	return signinCookie
}

// cookie returns a cookie of the console with the flags of docs/console.md.
func (c *Console) cookie(name, value string, expires time.Time) *http.Cookie {
	ck := &http.Cookie{
		Name: name, Value: value, Path: "/", HttpOnly: true, Secure: !c.cfg.Dev,
		SameSite: http.SameSiteStrictMode,
	}
	if expires.IsZero() {
		ck.MaxAge = -1
	} else {
		ck.Expires = expires
	}
	return ck
}

// newSecret returns 32 random bytes, base64url-encoded.
func newSecret() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("random: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// hashID is what console_sessions.id_hash stores for a session id.
func hashID(id string) []byte {
	sum := sha256.Sum256([]byte(id))
	return sum[:]
}

// csrfToken derives a session's CSRF token from its id: it changes with
// every sign-in, needs no storage, and reveals nothing of the id.
func csrfToken(id string) string {
	m := hmac.New(sha256.New, []byte(id))
	m.Write([]byte("console csrf"))
	return hex.EncodeToString(m.Sum(nil))
}

// credential is the digest a session keeps of the credential it was opened
// with; a session whose operator no longer has it ends (docs/console.md).
// The two kinds are kept apart, so an operator named "admin" is not the
// admin token.
func (c *Console) credential(operator string) ([]byte, bool) {
	if len(c.cfg.Operators) > 0 {
		h, ok := c.cfg.Operators[operator]
		if !ok {
			return nil, false
		}
		sum := sha256.Sum256(append([]byte("operator:"+operator+":"), h[:]...))
		return sum[:], true
	}
	if operator != adminOperator || c.cfg.AdminToken == "" {
		return nil, false
	}
	tok := sha256.Sum256([]byte(c.cfg.AdminToken))
	sum := sha256.Sum256(append([]byte("admin-token:"), tok[:]...))
	return sum[:], true
}

// openSession stores a new session for operator and returns its id: always
// a fresh random one, never one a browser presented.
func (c *Console) openSession(ctx context.Context, operator string, cred []byte, remote string) (string, time.Time, error) {
	id, err := newSecret()
	if err != nil {
		return "", time.Time{}, err
	}
	now := c.now()
	if _, err := c.q.ConsoleSessionDeleteStale(ctx, store.ConsoleSessionDeleteStaleParams{
		Now: now, IdleBefore: now.Add(-c.cfg.IdleTimeout),
	}); err != nil {
		return "", time.Time{}, fmt.Errorf("delete stale console sessions: %w", err)
	}
	expires := now.Add(c.cfg.SessionTTL)
	if err := c.q.ConsoleSessionInsert(ctx, store.ConsoleSessionInsertParams{
		IDHash: hashID(id), Operator: operator, Credential: cred, RemoteAddr: remote,
		CreatedAt: now, ExpiresAt: expires,
	}); err != nil {
		return "", time.Time{}, fmt.Errorf("store console session of %s: %w", operator, err)
	}
	return id, expires, nil
}

// errNoSession is a request without a live session.
var errNoSession = errors.New("no session")

// loadSession finds the live session of r's cookie: unexpired, not idle
// too long, and its operator's credential still the configured one. A
// session that fails any of these is deleted.
func (c *Console) loadSession(ctx context.Context, r *http.Request) (*session, error) {
	ck, err := r.Cookie(c.sessionCookieName())
	if err != nil || ck.Value == "" || len(ck.Value) > 100 {
		return nil, errNoSession
	}
	idHash := hashID(ck.Value)
	row, err := c.q.ConsoleSessionGet(ctx, idHash)
	if err != nil {
		if errors.Is(store.NotFound(err), store.ErrNotFound) {
			return nil, errNoSession
		}
		return nil, fmt.Errorf("read console session: %w", err)
	}
	now := c.now()
	cred, ok := c.credential(row.Operator)
	if !now.Before(row.ExpiresAt) || now.Sub(row.LastSeenAt) >= c.cfg.IdleTimeout ||
		!ok || subtle.ConstantTimeCompare(cred, row.Credential) != 1 {
		if err := c.q.ConsoleSessionDelete(ctx, idHash); err != nil {
			return nil, fmt.Errorf("end console session: %w", err)
		}
		return nil, errNoSession
	}
	if now.Sub(row.LastSeenAt) >= touchEvery {
		if err := c.q.ConsoleSessionTouch(ctx, store.ConsoleSessionTouchParams{IDHash: idHash, LastSeenAt: now}); err != nil {
			return nil, fmt.Errorf("touch console session: %w", err)
		}
	}
	return &session{Operator: row.Operator, CSRF: csrfToken(ck.Value), idHash: idHash}, nil
}

// requireSession admits requests with a live session and, for a POST, its
// CSRF token (the csrf form field, or X-CSRF-Token for htmx). A request
// without a session goes to the sign-in page (an htmx request is told to);
// a POST without the right token is 403. A bearer token opens nothing here.
func (c *Console) requireSession(h func(http.ResponseWriter, *http.Request, *session)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := c.loadSession(r.Context(), r)
		if errors.Is(err, errNoSession) {
			c.toSignin(w, r)
			return
		}
		if err != nil {
			c.internal(w, r, nil, err)
			return
		}
		// River UI's own API calls carry no token: the same-origin check
		// (sameOrigin) is what guards them.
		unsafe := r.Method != http.MethodGet && r.Method != http.MethodHead
		if unsafe && !strings.HasPrefix(r.URL.Path, "/console/river/") && !validCSRF(w, r, s.CSRF) {
			c.fail(w, r, s, http.StatusForbidden, "This form has expired or did not come from the console. Reload the page and try again.")
			return
		}
		h(w, r.WithContext(context.WithValue(r.Context(), sessionKey{}, s)), s)
	})
}

// validCSRF reports whether r carries want in its X-CSRF-Token header or
// csrf form field.
func validCSRF(w http.ResponseWriter, r *http.Request, want string) bool {
	got := r.Header.Get("X-CSRF-Token")
	if got == "" {
		r.Body = http.MaxBytesReader(w, r.Body, maxForm)
		got = r.PostFormValue("csrf")
	}
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// maxForm bounds a console form's body.
const maxForm = 64 << 10

// toSignin sends a request without a session to the sign-in page, with the
// page it wanted to come back to.
func (c *Console) toSignin(w http.ResponseWriter, r *http.Request) {
	target := "/console/signin"
	if r.Method == http.MethodGet && r.URL.Path != "/console/" && !strings.HasPrefix(r.URL.Path, "/console/river/api/") {
		target += "?next=" + url.QueryEscape(r.URL.RequestURI())
	}
	if r.Header.Get("HX-Request") == "true" {
		w.Header().Set("HX-Redirect", target)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// safeNext returns next when it is a console page to go back to after
// signing in, else the Overview: never another site.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/console/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return "/console/"
	}
	return next
}

// remoteAddr is the peer's IP address (the console trusts no forwarding
// header: behind a proxy, limit sign-ins at the proxy too).
func remoteAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
