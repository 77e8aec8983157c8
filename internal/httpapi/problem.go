package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/ppob-orchestrator/orchestrator/internal/flow"
	"github.com/ppob-orchestrator/orchestrator/internal/store"
	"github.com/ppob-orchestrator/orchestrator/internal/webhook"
)

// Errors the API itself raises; the flow's errors come from package flow.
var (
	errUnauthorized     = errors.New("a valid bearer token is required")
	errNotFound         = errors.New("not found")
	errTooLarge         = errors.New("the request body is larger than 64 KiB")
	errUnsupportedMedia = errors.New("the request body must be application/json")
)

// rateLimitedError is a request over its client's rate; RetryAfter is how
// long until a token is free.
type rateLimitedError struct{ RetryAfter time.Duration }

func (e *rateLimitedError) Error() string {
	return fmt.Sprintf("rate limit exceeded; retry after %s", e.RetryAfter.Round(time.Millisecond))
}

// stateError is an invalid_state refusal that names the purchase, so the
// client sees where it stands without another call.
type stateError struct {
	Purchase store.Purchase
	Err      error
}

func (e *stateError) Error() string { return e.Err.Error() }
func (e *stateError) Unwrap() error { return e.Err }

// mapping is one row of the error table: which errors it matches, and the
// HTTP status and stable code they answer with.
type mapping struct {
	match  func(error) bool
	status int
	code   string
}

func is(target error) func(error) bool { return func(err error) bool { return errors.Is(err, target) } }

func as[T error]() func(error) bool {
	return func(err error) bool { var t T; return errors.As(err, &t) }
}

func echoStatus(status int) func(error) bool {
	return func(err error) bool {
		var he *echo.HTTPError
		return errors.As(err, &he) && he.Code == status
	}
}

// codes is THE table from errors to HTTP answers (docs/api.md#errors), first
// match wins. An error matching no row is internal: a 500 whose detail is
// never sent, only logged with the request id.
var codes = []mapping{
	{is(errUnauthorized), http.StatusUnauthorized, "unauthorized"},
	{is(errNotFound), http.StatusNotFound, "not_found"},
	{is(flow.ErrNotFound), http.StatusNotFound, "not_found"},
	{is(webhook.ErrNotFound), http.StatusNotFound, "not_found"},
	{echoStatus(http.StatusNotFound), http.StatusNotFound, "not_found"},
	{as[*flow.ValidationError](), http.StatusUnprocessableEntity, "validation_failed"},
	{is(flow.ErrUnknownProduct), http.StatusUnprocessableEntity, "unknown_product"},
	{as[*flow.ReferenceReusedError](), http.StatusConflict, "reference_id_reused"},
	{as[*flow.DuplicateError](), http.StatusConflict, "possible_duplicate"},
	{is(flow.ErrInvalidState), http.StatusConflict, "invalid_state"},
	{is(webhook.ErrInvalidState), http.StatusConflict, "invalid_state"},
	{is(webhook.ErrTooManyEndpoints), http.StatusUnprocessableEntity, "too_many_endpoints"},
	{is(webhook.ErrNotConfigured), http.StatusServiceUnavailable, "webhooks_not_configured"},
	{as[*flow.ProductUnavailableError](), http.StatusConflict, "product_unavailable"},
	// A compare-and-set lost to a concurrent change: the client may read
	// the purchase again and decide.
	{is(flow.ErrConflict), http.StatusConflict, "invalid_state"},
	{is(errTooLarge), http.StatusRequestEntityTooLarge, "payload_too_large"},
	{as[*http.MaxBytesError](), http.StatusRequestEntityTooLarge, "payload_too_large"},
	{echoStatus(http.StatusRequestEntityTooLarge), http.StatusRequestEntityTooLarge, "payload_too_large"},
	{is(errUnsupportedMedia), http.StatusUnsupportedMediaType, "unsupported_media_type"},
	{as[*rateLimitedError](), http.StatusTooManyRequests, "rate_limited"},
	{echoStatus(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed, "method_not_allowed"},
}

// Problem is an RFC 9457 problem document, the body of every error answer.
type Problem struct {
	Type      string            `json:"type"`
	Title     string            `json:"title"`
	Status    int               `json:"status"`
	Code      string            `json:"code"`
	Detail    string            `json:"detail"`
	RequestID string            `json:"request_id,omitempty"`
	Errors    []flow.FieldError `json:"errors,omitempty"`
	// PurchaseID and PurchaseStatus name the existing purchase of a
	// reference_id_reused, possible_duplicate or invalid_state answer. The
	// purchase's status cannot be the member "status": RFC 9457 reserves it
	// for the HTTP status code.
	PurchaseID     string `json:"purchase_id,omitempty"`
	PurchaseStatus string `json:"purchase_status,omitempty"`
}

// problemFor maps err through the table. internal reports whether err
// matched no row (its detail must not be sent).
func problemFor(err error) (p Problem, internal bool) {
	for _, m := range codes {
		if m.match(err) {
			p = Problem{Type: "about:blank", Title: http.StatusText(m.status), Status: m.status, Code: m.code, Detail: detailOf(err)}
			var ve *flow.ValidationError
			if errors.As(err, &ve) {
				p.Errors = ve.Fields
			}
			var named store.Purchase
			var rr *flow.ReferenceReusedError
			var de *flow.DuplicateError
			var se *stateError
			switch {
			case errors.As(err, &rr):
				named = rr.Purchase
			case errors.As(err, &de):
				named = de.Purchase
			case errors.As(err, &se):
				named = se.Purchase
			}
			if named.ID != [16]byte{} {
				p.PurchaseID, p.PurchaseStatus = named.ID.String(), string(named.Status)
			}
			return p, false
		}
	}
	return Problem{Type: "about:blank", Title: http.StatusText(http.StatusInternalServerError),
		Status: http.StatusInternalServerError, Code: "internal",
		Detail: "the request could not be completed; quote the request_id to support"}, true
}

// detailOf is the client-facing text of a mapped error.
func detailOf(err error) string {
	var he *echo.HTTPError
	if errors.As(err, &he) {
		switch he.Code {
		case http.StatusNotFound:
			return "no such route"
		case http.StatusMethodNotAllowed:
			return "method not allowed on this route"
		case http.StatusRequestEntityTooLarge:
			return errTooLarge.Error()
		}
		return http.StatusText(he.Code)
	}
	var mb *http.MaxBytesError
	if errors.As(err, &mb) {
		return errTooLarge.Error()
	}
	var ve *flow.ValidationError
	if errors.As(err, &ve) {
		return ve.Error()
	}
	return err.Error()
}

// errorHandler answers every error as application/problem+json. It is
// echo's HTTPErrorHandler, so route 404s, 405s and panics come here too.
func (a *api) errorHandler(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	p, internal := problemFor(err)
	p.RequestID = requestID(c)
	if internal {
		a.log.ErrorContext(c.Request().Context(), "request failed", "request_id", p.RequestID,
			"method", c.Request().Method, "route", c.Path(), "error", err.Error())
	}
	var rl *rateLimitedError
	if errors.As(err, &rl) {
		secs := int((rl.RetryAfter + time.Second - 1) / time.Second)
		c.Response().Header().Set("Retry-After", strconv.Itoa(max(secs, 1)))
	}
	if p.Status == http.StatusUnauthorized {
		c.Response().Header().Set(echo.HeaderWWWAuthenticate, "Bearer")
	}
	c.Response().Header().Set(echo.HeaderContentType, "application/problem+json")
	c.Response().WriteHeader(p.Status)
	if c.Request().Method == http.MethodHead {
		return
	}
	if err := jsonEncode(c.Response(), p); err != nil {
		a.log.Warn("write problem", "request_id", p.RequestID, "error", err.Error())
	}
}
