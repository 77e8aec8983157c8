package snapcart

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"

	"github.com/ppob-orchestrator/orchestrator/internal/providers"
)

// exchange is one HTTP call to make.
type exchange struct {
	op        operation
	method    string
	path      string // from the root, prefix included
	reference string // our reference_id, for the audit record
	body      []byte // nil for GET
}

// send makes one HTTP call and returns its audit record and the raw answer.
// A non-nil error means no complete answer arrived (timeout, connection
// error, oversize body); the Call then carries the redacted error.
func (c *Client) send(ctx context.Context, x exchange) (providers.Call, []byte, error) {
	call := providers.Call{
		Provider:  Name,
		Operation: string(x.op),
		Method:    x.method,
		Path:      x.path,
		Reference: x.reference,
		Request:   c.scrub(string(x.body)),
	}
	var rd io.Reader
	if x.body != nil {
		rd = bytes.NewReader(x.body)
	}
	req, err := http.NewRequestWithContext(ctx, x.method, c.base+x.path, rd)
	if err != nil {
		call.Err = c.scrub(err.Error())
		return call, nil, fmt.Errorf("snapcart %s: build request: %s", x.op, call.Err)
	}
	req.Header.Set("Accept", "application/json")
	if x.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("x-api-key", c.apiKey)

	start := c.now()
	resp, err := c.http.Do(req)
	if err != nil {
		call.Latency = c.now().Sub(start)
		call.Err = c.scrub(err.Error())
		return call, nil, fmt.Errorf("snapcart %s %s: %w", x.op, x.path, scrubbedError{msg: call.Err, cause: err})
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	call.Latency = c.now().Sub(start)
	call.HTTPStatus = resp.StatusCode
	call.Response = c.scrub(truncate(string(body), maxBody))
	if err != nil {
		call.Err = c.scrub(err.Error())
		return call, nil, fmt.Errorf("snapcart %s %s: read answer: %w", x.op, x.path, scrubbedError{msg: call.Err, cause: err})
	}
	if len(body) > maxBody {
		call.Err = "answer larger than 1 MiB"
		return call, body, nil
	}
	if env, err := decodeEnvelope(body); err == nil {
		call.Code, call.Message = string(env.StatusCode), c.scrub(string(env.StatusMessage))
	}
	return call, body, nil
}

// scrubbedError carries a redacted message while keeping the cause for
// errors.Is (timeouts).
type scrubbedError struct {
	msg   string
	cause error
}

func (e scrubbedError) Error() string { return e.msg }
func (e scrubbedError) Unwrap() error { return e.cause }

// scrub removes the API key from any text we record. The key only travels in
// a header, so this is a second line of defence against an echoing server.
func (c *Client) scrub(s string) string {
	if c.apiKey == "" || s == "" {
		return s
	}
	return strings.ReplaceAll(s, c.apiKey, "[redacted]")
}

// transportResult is the Result of a call that got no complete answer:
// Unknown, because the provider may have acted.
func transportResult(call providers.Call, err error) providers.Result {
	reason := providers.ReasonConnection
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		reason = providers.ReasonTimeout
	}
	return providers.Result{Outcome: providers.Unknown, Reason: reason, Detail: err.Error(), Calls: []providers.Call{call}}
}

// answerResult classifies a complete answer under op's table, before the
// data is read. ok is false when the answer is already settled (HTTP 5xx,
// 401, an unreadable body) and the caller must not read data.
func answerResult(op operation, call providers.Call, body []byte) (res providers.Result, env envelope, ok bool) {
	res.Calls = []providers.Call{call}
	if call.Err != "" { // oversize body
		res.Outcome, res.Reason, res.Detail = providers.Unknown, providers.ReasonUnreadableAnswer, call.Err
		return res, env, false
	}
	if call.HTTPStatus == http.StatusUnauthorized {
		res.Outcome, res.Reason, res.Detail = providers.Rejected, providers.ReasonBadCredentials, "HTTP 401: API key refused"
		return res, env, false
	}
	env, err := decodeEnvelope(body)
	if call.HTTPStatus >= 500 {
		// Whatever the body says, a 5xx means the server broke mid-way.
		res.Outcome, res.Reason = providers.Unknown, providers.ReasonServerError
		res.Detail = fmt.Sprintf("HTTP %d", call.HTTPStatus)
		if err == nil {
			res.Detail += ": " + string(env.StatusMessage)
		}
		return res, env, false
	}
	if err != nil {
		res.Outcome, res.Reason = providers.Unknown, providers.ReasonUnreadableAnswer
		res.Detail = fmt.Sprintf("HTTP %d: %v", call.HTTPStatus, err)
		return res, env, false
	}
	res.Detail = string(env.StatusMessage)
	if env.Error != "" {
		res.Detail += ": " + string(env.Error)
	}
	return res, env, true
}

// unreadable turns res into an Unknown for a readable envelope whose data
// could not be read.
func unreadable(res *providers.Result, err error) {
	res.Outcome, res.Reason = providers.Unknown, providers.ReasonUnreadableAnswer
	res.Detail = truncate(err.Error(), 300)
}

// logResult writes one record per operation: codes, latency, outcome; never
// a body or a secret. Insufficient balance and refused credentials are
// warnings, because operators must act on them.
func (c *Client) logResult(ctx context.Context, op operation, res providers.Result) {
	level := slog.LevelInfo
	if res.Reason == providers.ReasonInsufficientBal || res.Reason == providers.ReasonBadCredentials {
		level = slog.LevelWarn
	}
	attrs := []slog.Attr{
		slog.String("operation", string(op)),
		slog.String("outcome", string(res.Outcome)),
		slog.String("reason", string(res.Reason)),
	}
	if n := len(res.Calls); n > 0 {
		last := res.Calls[n-1]
		attrs = append(attrs,
			slog.String("path", last.Path),
			slog.Int("http_status", last.HTTPStatus),
			slog.String("status_code", last.Code),
			slog.Duration("latency", last.Latency))
	}
	c.log.LogAttrs(ctx, level, "snapcart call", attrs...)
}
