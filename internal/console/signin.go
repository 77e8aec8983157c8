package console

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

// adminOperator is who ADMIN_TOKEN signs in as when CONSOLE_OPERATORS is unset.
const adminOperator = "admin"

// apiKeyPrefix starts every client API key (internal/httpapi's APIKeyPrefix):
// such a key is refused at sign-in before anything else is looked at.
const apiKeyPrefix = "ppob_"

// SigninLimit bounds sign-in attempts: Burst attempts at once and one more
// every Every, per remote address and, with OverallBurst and OverallEvery,
// over all addresses. Limits are per process.
type SigninLimit struct {
	Every        time.Duration
	Burst        int
	OverallEvery time.Duration
	OverallBurst int
}

// DefaultSigninLimit: 5 attempts per address then one every 12 s; 30 over
// all addresses then one a second.
var DefaultSigninLimit = SigninLimit{Every: 12 * time.Second, Burst: 5, OverallEvery: time.Second, OverallBurst: 30}

// signinLimiter holds the token buckets of SigninLimit. It is safe for
// concurrent use.
type signinLimiter struct {
	cfg     SigninLimit
	overall *rate.Limiter
	mu      sync.Mutex
	byAddr  map[string]*rate.Limiter
}

func newSigninLimiter(cfg SigninLimit) *signinLimiter {
	return &signinLimiter{cfg: cfg, overall: rate.NewLimiter(rate.Every(cfg.OverallEvery), cfg.OverallBurst), byAddr: map[string]*rate.Limiter{}}
}

// allow spends one attempt of addr's bucket and of the overall one.
func (l *signinLimiter) allow(addr string, now time.Time) bool {
	l.mu.Lock()
	b, ok := l.byAddr[addr]
	if !ok {
		if len(l.byAddr) > 10_000 {
			// Forget full buckets rather than grow without bound.
			for a, x := range l.byAddr {
				if x.TokensAt(now) >= float64(l.cfg.Burst) {
					delete(l.byAddr, a)
				}
			}
		}
		b = rate.NewLimiter(rate.Every(l.cfg.Every), l.cfg.Burst)
		l.byAddr[addr] = b
	}
	l.mu.Unlock()
	return b.AllowN(now, 1) && l.overall.AllowN(now, 1)
}

// signinForm is what the sign-in page shows.
type signinForm struct {
	Next, Name, SigninCSRF string
}

// signinPage shows the sign-in form with a fresh sign-in CSRF token, sent
// both in a cookie and in the form (a session does not exist yet).
func (c *Console) signinPage(w http.ResponseWriter, r *http.Request) {
	c.showSignin(w, r, http.StatusOK, signinForm{Next: safeNext(r.URL.Query().Get("next"))}, "")
}

func (c *Console) showSignin(w http.ResponseWriter, r *http.Request, status int, f signinForm, problem string) {
	tok, err := newSecret()
	if err != nil {
		c.internal(w, r, nil, err)
		return
	}
	http.SetCookie(w, c.cookie(c.signinCookieName(), tok, c.now().Add(time.Hour)))
	f.SigninCSRF = tok
	c.render(w, r, status, "signin", nil, "Sign in", f, problem)
}

// signin checks a name and token: CONSOLE_OPERATORS' when set, else
// ADMIN_TOKEN as "admin"; a client's API key never. Every attempt spends
// the rate limit; every failure is audited. On success a new session
// starts with a fresh id.
func (c *Console) signin(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		c.showSignin(w, r, http.StatusBadRequest, signinForm{}, "The form could not be read.")
		return
	}
	f := signinForm{Next: safeNext(r.PostForm.Get("next")), Name: strings.TrimSpace(r.PostForm.Get("name"))}
	token := strings.TrimSpace(r.PostForm.Get("token"))
	ck, err := r.Cookie(c.signinCookieName())
	if err != nil || ck.Value == "" || subtle.ConstantTimeCompare([]byte(ck.Value), []byte(r.PostForm.Get("csrf"))) != 1 {
		c.audit(ctx, auditName(f.Name, c.knownOperator(f.Name)), remoteAddr(r), "failed", "form_token")
		c.showSignin(w, r, http.StatusForbidden, f, "The sign-in form expired. Try again.")
		return
	}
	addr := remoteAddr(r)
	if !c.limiter.allow(addr, time.Now()) {
		c.audit(ctx, auditName(f.Name, c.knownOperator(f.Name)), addr, "rate_limited", "too many attempts")
		w.Header().Set("Retry-After", "60")
		c.showSignin(w, r, http.StatusTooManyRequests, f, "Too many sign-in attempts. Wait a minute and try again.")
		return
	}
	var problems []string
	if f.Name == "" {
		problems = append(problems, "name: is required")
	}
	if token == "" {
		problems = append(problems, "token: is required")
	}
	if len(problems) > 0 {
		c.audit(ctx, auditName(f.Name, c.knownOperator(f.Name)), addr, "failed", "incomplete form")
		c.showSignin(w, r, http.StatusUnprocessableEntity, f, strings.Join(problems, "; "))
		return
	}
	reason, err := c.check(ctx, f.Name, token)
	if err != nil {
		c.internal(w, r, nil, err)
		return
	}
	if reason != "" {
		c.audit(ctx, auditName(f.Name, c.knownOperator(f.Name)), addr, "failed", reason)
		c.log.WarnContext(ctx, "console: sign-in failed", "reason", reason, "remote_addr", addr)
		c.showSignin(w, r, http.StatusUnauthorized, f, "Sign-in failed: the name or the token is wrong.")
		return
	}
	cred, _ := c.credential(f.Name)
	id, expires, err := c.openSession(ctx, f.Name, cred, addr)
	if err != nil {
		c.internal(w, r, nil, err)
		return
	}
	c.audit(ctx, f.Name, addr, "signed_in", "")
	c.log.InfoContext(ctx, "console: signed in", "operator", f.Name, "remote_addr", addr)
	http.SetCookie(w, c.cookie(c.sessionCookieName(), id, expires))
	http.SetCookie(w, c.cookie(c.signinCookieName(), "", time.Time{}))
	http.Redirect(w, r, f.Next, http.StatusSeeOther)
}

// check returns why name and token do not sign in ("" when they do). The
// comparisons take the same time whatever the name.
func (c *Console) check(ctx context.Context, name, token string) (string, error) {
	digest := sha256.Sum256([]byte(token))
	if strings.HasPrefix(token, apiKeyPrefix) {
		return "client_api_key", nil
	}
	switch _, err := c.q.ClientGetByKeyHash(ctx, digest[:]); {
	case err == nil:
		return "client_api_key", nil
	case !errors.Is(store.NotFound(err), store.ErrNotFound):
		return "", err
	}
	var want [32]byte
	known := false
	if len(c.cfg.Operators) > 0 {
		want, known = c.cfg.Operators[name]
	} else if name == adminOperator && c.cfg.AdminToken != "" {
		want, known = sha256.Sum256([]byte(c.cfg.AdminToken)), true
	}
	match := subtle.ConstantTimeCompare(digest[:], want[:]) == 1
	switch {
	case !known && len(c.cfg.Operators) > 0:
		return "unknown_operator", nil
	case !known:
		return "not_admin", nil
	case !match:
		return "wrong_token", nil
	}
	return "", nil
}

// knownOperator reports whether name may sign in at all, so that only
// real operators' names are written into the audit (a name field can hold
// anything, even a pasted token).
func (c *Console) knownOperator(name string) bool {
	if len(c.cfg.Operators) > 0 {
		_, ok := c.cfg.Operators[name]
		return ok
	}
	return name == adminOperator
}

func auditName(name string, known bool) string {
	if known {
		return name
	}
	return "(unknown)"
}

// audit records a sign-in attempt or sign-out; a failure to record is
// logged, never shown (the answer does not depend on it).
func (c *Console) audit(ctx context.Context, operator, addr, outcome, reason string) {
	if err := c.q.ConsoleSigninInsert(ctx, store.ConsoleSigninInsertParams{
		Operator: operator, RemoteAddr: addr, Outcome: outcome, Reason: reason, CreatedAt: c.now(),
	}); err != nil {
		c.log.ErrorContext(ctx, "console: audit sign-in", "outcome", outcome, "err", err)
	}
}

// signout ends the session (a POST, with its CSRF token).
func (c *Console) signout(w http.ResponseWriter, r *http.Request, s *session) {
	if err := c.q.ConsoleSessionDelete(r.Context(), s.idHash); err != nil {
		c.internal(w, r, s, err)
		return
	}
	c.audit(r.Context(), s.Operator, remoteAddr(r), "signed_out", "")
	http.SetCookie(w, c.cookie(c.sessionCookieName(), "", time.Time{}))
	http.Redirect(w, r, "/console/signin", http.StatusSeeOther)
}
