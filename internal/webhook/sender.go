package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// UserAgent names the orchestrator in every delivery.
const UserAgent = "ppob-orchestrator-webhooks/1 (+docs/webhooks.md)"

// maxResponse is how much of an answer's body an attempt keeps.
const maxResponse = 4096

// maxRetryAfter caps a Retry-After (docs/webhooks.md).
const maxRetryAfter = time.Hour

// attemptRequest is one attempt's message: where, its webhook-id, this
// attempt's timestamp and signature, and the stored body.
type attemptRequest struct {
	URL       string
	ID        string
	Timestamp time.Time
	Signature string
	Body      []byte
}

// answer is what an attempt got: an HTTP status (0 when there was none),
// the Retry-After it asked for, the start of its body, or the error that
// kept it from answering; and how long it took.
type answer struct {
	Status        int
	RetryAfter    time.Duration
	HasRetryAfter bool
	Body          string
	Err           string
	Latency       time.Duration
}

// sender makes delivery attempts over HTTP: no proxy, no redirects
// followed, a timeout on the whole exchange and, unless private addresses
// are allowed, the SSRF guard on every connection. It is safe for
// concurrent use.
type sender struct {
	client  *http.Client
	timeout time.Duration
}

func newSender(timeout time.Duration, allowPrivate bool, resolver *net.Resolver, wrap func(http.RoundTripper) http.RoundTripper) *sender {
	dialer := &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second, Resolver: resolver}
	if !allowPrivate {
		dialer.Control = guardControl
	}
	transport := &http.Transport{
		Proxy:                 nil, // HTTP_PROXY and HTTPS_PROXY are ignored for deliveries
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   8,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   timeout,
		ResponseHeaderTimeout: timeout,
	}
	var rt http.RoundTripper = transport
	if wrap != nil {
		rt = wrap(transport)
	}
	return &sender{timeout: timeout, client: &http.Client{
		Transport: rt,
		Timeout:   timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse // a 3xx is a failed attempt
		},
	}}
}

// send makes one attempt.
func (s *sender) send(ctx context.Context, r attemptRequest) answer {
	start := time.Now()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.URL, bytes.NewReader(r.Body))
	if err != nil {
		return answer{Err: "bad URL: " + errText(err, s.timeout)}
	}
	h := req.Header
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", UserAgent)
	h.Set("webhook-id", r.ID)
	h.Set("webhook-timestamp", strconv.FormatInt(r.Timestamp.Unix(), 10))
	h.Set("webhook-signature", r.Signature)
	res, err := s.client.Do(req)
	if err != nil {
		return answer{Err: errText(err, s.timeout), Latency: time.Since(start)}
	}
	body, readErr := io.ReadAll(io.LimitReader(res.Body, maxResponse))
	res.Body.Close()
	a := answer{Status: res.StatusCode, Body: sanitize(string(body)), Latency: time.Since(start)}
	if readErr != nil && len(body) == 0 {
		a.Err = "reading the answer: " + errText(readErr, s.timeout)
	}
	if res.StatusCode >= 300 && res.StatusCode < 400 {
		a.Err = "redirects are not followed"
	}
	a.RetryAfter, a.HasRetryAfter = retryAfter(res.Header.Get("Retry-After"), time.Now())
	return a
}

// errText says why an attempt got no answer, without the URL (the endpoint
// is known) and without anything sent.
func errText(err error, timeout time.Duration) string {
	var refused *RefusedError
	if errors.As(err, &refused) {
		return refused.Error()
	}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return fmt.Sprintf("timeout: no answer within %s", timeout)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return truncate(err.Error(), 500)
}

// retryAfter reads a Retry-After header, in seconds or as an HTTP date,
// capped at maxRetryAfter.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	var d time.Duration
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 {
			return 0, false
		}
		d = time.Duration(min(n, int64(maxRetryAfter/time.Second))) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = max(t.Sub(now), 0)
	} else {
		return 0, false
	}
	return min(d, maxRetryAfter), true
}

// sanitize makes an answer storable as text: valid UTF-8, no NUL bytes.
func sanitize(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	return strings.ReplaceAll(s, "\x00", "\uFFFD")
}

// truncate bounds s to n bytes (on a rune boundary) and sanitizes it.
func truncate(s string, n int) string {
	if len(s) > n {
		s = s[:n]
		for len(s) > 0 && !isRuneStart(s[len(s)-1]) {
			s = s[:len(s)-1]
		}
	}
	return sanitize(s)
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }
