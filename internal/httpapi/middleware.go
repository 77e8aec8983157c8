package httpapi

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"golang.org/x/time/rate"

	"github.com/ppob-orchestrator/orchestrator/internal/flow"
	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

const (
	ctxRequestID = "request_id"
	ctxClient    = "client"
)

// routeParam is a path parameter of an echo route (":id").
var routeParam = regexp.MustCompile(`:([A-Za-z_]+)`)

// requestIDRe is what an incoming X-Request-Id must look like to be kept;
// anything else is replaced, so logs never carry a caller's arbitrary text.
var requestIDRe = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,64}$`)

// requestID gives every request an id, echoed in X-Request-Id and logged.
func (a *api) requestID(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		id := c.Request().Header.Get(echo.HeaderXRequestID)
		if !requestIDRe.MatchString(id) {
			var b [12]byte
			_, _ = rand.Read(b[:])
			id = hex.EncodeToString(b[:])
		}
		c.Set(ctxRequestID, id)
		c.Response().Header().Set(echo.HeaderXRequestID, id)
		return next(c)
	}
}

func requestID(c echo.Context) string {
	id, _ := c.Get(ctxRequestID).(string)
	return id
}

// observe answers errors (so the status is final), then logs the request and
// records its duration by route template, method and status.
func (a *api) observe(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		if err := next(c); err != nil {
			c.Error(err)
		}
		took := time.Since(start)
		status := c.Response().Status
		route := c.Path()
		if route == "" || strings.HasSuffix(route, "/*") {
			route = "unmatched"
		} else {
			// Name the request by its route, as http.ServeMux would: a
			// tracing wrapper (internal/telemetry) names its span by it.
			c.Request().Pattern = a.patterns[route]
		}
		a.metrics.observe(route, c.Request().Method, status, took)
		a.log.DebugContext(c.Request().Context(), "http request", "request_id", requestID(c),
			"method", c.Request().Method, "route", route, "status", status, "duration", took)
		return nil
	}
}

// recover turns a panic into an internal error; the stack is logged.
func (a *api) recover(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			if r := recover(); r != nil {
				if r == http.ErrAbortHandler {
					panic(r)
				}
				a.log.ErrorContext(c.Request().Context(), "panic", "request_id", requestID(c),
					"panic", fmt.Sprint(r), "stack", string(debug.Stack()))
				err = fmt.Errorf("panic: %v", r)
			}
		}()
		return next(c)
	}
}

// wired refuses, as internal, a route whose dependencies were not given.
func (a *api) wired(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if a.cfg.Flow == nil {
			return errors.New("httpapi: Config.Flow is required for this route")
		}
		return next(c)
	}
}

// bearer returns the token of an "Authorization: Bearer <token>" header.
func bearer(r *http.Request) string {
	scheme, token, ok := strings.Cut(r.Header.Get(echo.HeaderAuthorization), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(token)
}

// authClient finds the client of the request's API key; no key or an
// unknown (or disabled) one is 401.
func (a *api) authClient(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		key := bearer(c.Request())
		if key == "" || a.cfg.Flow == nil {
			return errUnauthorized
		}
		hash := HashAPIKey(key)
		cl, ok := a.keys.get(hash, a.now())
		if !ok {
			var err error
			cl, err = a.cfg.Flow.ClientByKeyHash(c.Request().Context(), hash)
			if errors.Is(err, flow.ErrNotFound) {
				return errUnauthorized
			}
			if err != nil {
				return fmt.Errorf("authenticate client: %w", err)
			}
			a.keys.put(hash, cl, a.now())
		}
		c.Set(ctxClient, cl)
		return next(c)
	}
}

func clientOf(c echo.Context) store.Client {
	cl, _ := c.Get(ctxClient).(store.Client)
	return cl
}

// authAdmin admits the admin token only, compared in constant time (of
// digests, so the length of the token does not leak either).
func (a *api) authAdmin(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		tok := bearer(c.Request())
		if a.cfg.AdminToken == "" || tok == "" {
			return errUnauthorized
		}
		got, want := sha256.Sum256([]byte(tok)), sha256.Sum256([]byte(a.cfg.AdminToken))
		if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			return errUnauthorized
		}
		return next(c)
	}
}

// limiter is a token bucket per client: perSecond tokens a second, burst
// twice that. A nil *limiter admits everything. It is safe for concurrent use.
type limiter struct {
	perSecond int
	mu        sync.Mutex
	buckets   map[uuid.UUID]*rate.Limiter
}

func newLimiter(perSecond int) *limiter {
	if perSecond <= 0 {
		return nil
	}
	return &limiter{perSecond: perSecond, buckets: map[uuid.UUID]*rate.Limiter{}}
}

// take spends a token of client's bucket, or reports how long until one is free.
func (l *limiter) take(client uuid.UUID, now time.Time) (bool, time.Duration) {
	if l == nil {
		return true, 0
	}
	l.mu.Lock()
	b, ok := l.buckets[client]
	if !ok {
		b = rate.NewLimiter(rate.Limit(l.perSecond), 2*l.perSecond)
		l.buckets[client] = b
	}
	l.mu.Unlock()
	r := b.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// rateLimit applies the client's token bucket (docs/api.md: RATE_LIMIT_PER_CLIENT).
// The bucket runs on the wall clock, not Config.Now: a test's advanced clock
// must not refill it.
func (a *api) rateLimit(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if ok, wait := a.limiter.take(clientOf(c).ID, time.Now()); !ok {
			return &rateLimitedError{RetryAfter: wait}
		}
		return next(c)
	}
}
