package klikoo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ppob-orchestrator/orchestrator/internal/providers"
)

// Call.Operation values.
const (
	opToken    = "token"
	opInquiry  = "inquiry"
	opPayment  = "payment"
	opLookup   = "lookup"
	opBalance  = "balance"
	opProducts = "products"
)

// maxAnswer bounds how much of an answer is read; a longer one is unreadable.
const maxAnswer = 1 << 20

// redacted replaces every secret in audit records.
const redacted = "[redacted]"

// request is one Klikoo call before signing.
type request struct {
	op        string // Call.Operation
	method    string
	path      string     // the signed path, e.g. /v1/open-api/products/buy
	query     url.Values // GET only; not part of the signed path
	body      []byte     // the exact bytes sent; nil for GET
	reference string     // Call.Reference
	table     codeTable  // how to read the answer's code
	// auditBody is the body recorded in Call.Request; nil means body.
	auditBody []byte
}

// answer is what came back from one exchange.
type answer struct {
	status int    // HTTP status; 0 when no answer arrived
	body   []byte // raw answer body
	err    error  // transport error (timeout, connection)
	env    envelope
	envErr error // the body is not a Klikoo envelope
	token  string
}

// envelope is the frame of every Klikoo answer.
type envelope struct {
	Code    string
	Message string
	Data    json.RawMessage
}

// decodeEnvelope reads response_code (a string or an integer), the message
// and the raw data of an answer.
func decodeEnvelope(body []byte) (envelope, error) {
	var raw struct {
		Code    json.RawMessage `json:"response_code"`
		Message json.RawMessage `json:"response_message"`
		Data    json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		return envelope{}, fmt.Errorf("answer is not a JSON object: %w", err)
	}
	code, err := scalarText(raw.Code)
	if err != nil || code == "" {
		return envelope{}, errors.New("answer has no readable response_code")
	}
	msg, _ := scalarText(raw.Message)
	return envelope{Code: code, Message: msg, Data: raw.Data}, nil
}

// answerFrom builds the answer of an HTTP status and a body, as send does.
func answerFrom(status int, body []byte) answer {
	a := answer{status: status, body: body}
	a.env, a.envErr = decodeEnvelope(body)
	return a
}

// verdict classifies a with t; transport errors and unreadable bodies are
// Unknown.
func (a answer) verdict(t codeTable) verdict {
	switch {
	case a.err != nil:
		return vUnknown(transportReason(a.err))
	case a.envErr != nil && a.status >= 500:
		return vUnknown(providers.ReasonServerError)
	case a.envErr != nil:
		return vUnknown(providers.ReasonUnreadableAnswer)
	}
	return t.classify(a.status, a.env.Code, a.env.Message)
}

// detail is the operator message of a: the provider's message or the error.
func (a answer) detail() string {
	switch {
	case a.err != nil:
		return a.err.Error()
	case a.envErr != nil:
		return fmt.Sprintf("HTTP %d: %v", a.status, a.envErr)
	}
	return a.env.Message
}

// transportReason tells a timeout from other connection failures.
func transportReason(err error) providers.Reason {
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return providers.ReasonTimeout
	}
	return providers.ReasonConnection
}

// do sends rq with a valid access token. When the answer refuses the token
// (401xx6500, 401xx6535) it fetches a new token and sends rq once more.
// Every exchange is appended to res.Calls. ok is false when no token could
// be had: the last attempt of rq was never sent and res holds a Rejected
// outcome naming why.
func (c *Client) do(ctx context.Context, rq request, res *providers.Result) (answer, bool) {
	tok, ok := c.accessToken(ctx, "", res)
	if !ok {
		return answer{}, false
	}
	a := c.send(ctx, rq, tok, res)
	if !a.verdict(rq.table).Refresh {
		return a, true
	}
	c.log.LogAttrs(ctx, slog.LevelInfo, "access token refused; refreshing", slog.String("op", rq.op), slog.String("code", a.env.Code))
	tok, ok = c.accessToken(ctx, tok, res)
	if !ok {
		return answer{}, false
	}
	return c.send(ctx, rq, tok, res), true
}

// send makes one signed exchange and records it in res.Calls. token is
// empty for the access-token request, which is RSA-signed instead.
func (c *Client) send(ctx context.Context, rq request, token string, res *providers.Result) answer {
	ts := timestamp(c.now())
	target := c.baseURL + rq.path
	if len(rq.query) > 0 {
		target += "?" + rq.query.Encode()
	}
	call := providers.Call{
		Provider:  providerName,
		Operation: rq.op,
		Method:    rq.method,
		Path:      strings.TrimPrefix(target, c.baseURL),
		Reference: rq.reference,
		Request:   string(rq.body),
	}
	if rq.auditBody != nil {
		call.Request = string(rq.auditBody)
	}
	a := answer{token: token}
	defer func() {
		c.record(ctx, &call, a, res)
	}()

	var body io.Reader = http.NoBody
	if rq.body != nil {
		body = bytes.NewReader(rq.body)
	}
	req, err := http.NewRequestWithContext(ctx, rq.method, target, body)
	if err != nil {
		a.err = fmt.Errorf("klikoo %s: build request: %w", rq.op, err)
		return a
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Open-Api-Timestamp", ts)
	if token == "" {
		sig, err := tokenSignature(c.key, c.clientID, ts)
		if err != nil {
			a.err = fmt.Errorf("klikoo %s: %w", rq.op, err)
			return a
		}
		req.Header.Set("Open-Api-Signature", sig)
	} else {
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Open-Api-Signature", requestSignature(c.secret, rq.method, rq.path, token, rq.body, ts))
	}

	start := time.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		call.Latency = time.Since(start)
		a.err = fmt.Errorf("klikoo %s %s: %w", rq.method, rq.path, scrubURLError(err))
		return a
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
	call.Latency = time.Since(start)
	a.status = resp.StatusCode
	if err != nil {
		a.err = fmt.Errorf("klikoo %s %s: read answer: %w", rq.method, rq.path, err)
		a.body = raw
		return a
	}
	if len(raw) > maxAnswer {
		a.body = raw[:maxAnswer]
		a.envErr = fmt.Errorf("answer longer than %d bytes", maxAnswer)
		return a
	}
	a.body = raw
	a.env, a.envErr = decodeEnvelope(raw)
	return a
}

// scrubURLError drops the URL from a *url.Error: it says nothing the Call
// does not already hold.
func scrubURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// record appends the audit record of one exchange, with secrets removed.
func (c *Client) record(ctx context.Context, call *providers.Call, a answer, res *providers.Result) {
	call.HTTPStatus = a.status
	call.Code = a.env.Code
	call.Message = a.env.Message
	if call.Operation == opToken {
		call.Response = redactTokenAnswer(a.body)
	} else {
		call.Response = string(a.body)
	}
	if a.err != nil {
		call.Err = a.err.Error()
	}
	call.Request = c.scrub(call.Request, a.token)
	call.Response = c.scrub(call.Response, a.token)
	call.Message = c.scrub(call.Message, a.token)
	call.Err = c.scrub(call.Err, a.token)
	res.Calls = append(res.Calls, *call)
	c.log.LogAttrs(ctx, slog.LevelDebug, "klikoo call",
		slog.String("op", call.Operation), slog.String("method", call.Method), slog.String("path", call.Path),
		slog.Int("http_status", call.HTTPStatus), slog.String("code", call.Code),
		slog.Duration("latency", call.Latency), slog.String("err", call.Err))
}

// scrub removes the client secret and the access token from s, wherever a
// provider might have echoed them.
func (c *Client) scrub(s, token string) string {
	if s == "" {
		return s
	}
	s = strings.ReplaceAll(s, c.secret, redacted)
	if token != "" {
		s = strings.ReplaceAll(s, token, redacted)
	}
	return s
}

// redactTokenAnswer replaces data.access_token of an access-token answer. An
// answer that cannot be read is not recorded at all: it may hold the token
// in a shape we cannot find.
func redactTokenAnswer(body []byte) string {
	if len(body) == 0 {
		return ""
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		return fmt.Sprintf("[unreadable access-token answer of %d bytes, not recorded]", len(body))
	}
	if d, ok := top["data"]; ok {
		var data map[string]json.RawMessage
		if err := json.Unmarshal(d, &data); err == nil {
			if _, ok := data["access_token"]; ok {
				data["access_token"] = json.RawMessage(`"` + redacted + `"`)
			}
			top["data"], _ = json.Marshal(data)
		} else if string(d) != "null" {
			top["data"] = json.RawMessage(`"` + redacted + `"`)
		}
	}
	out, err := json.Marshal(top)
	if err != nil {
		return "[access-token answer not recorded]"
	}
	return string(out)
}

// finish sets res's outcome from v and a.
func finish(res *providers.Result, v verdict, a answer) {
	res.Outcome, res.Reason, res.Detail = v.Outcome, v.Reason, a.detail()
}
