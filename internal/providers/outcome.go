package providers

import (
	"fmt"
	"time"
)

// Outcome is the normalized meaning of one provider answer. The flow decides
// on the Outcome alone and never reads a provider's raw code.
type Outcome string

// The outcomes of docs/providers.md#outcomes.
const (
	// Succeeded: the provider confirmed the operation (an inquiry answered, a
	// payment completed, a lookup reporting SUCCESS).
	Succeeded Outcome = "succeeded"
	// Pending: the provider holds the transaction and has not finished it.
	Pending Outcome = "pending"
	// Failed: a definitive failure that guarantees no money moved. Reason says why.
	Failed Outcome = "failed"
	// Rejected: the call was refused before anything happened (clock skew,
	// signature, token, credentials, IP). Retry after a backoff and alert.
	Rejected Outcome = "rejected"
	// Unknown: timeout, connection error, 5xx or unreadable body. Money may have moved.
	Unknown Outcome = "unknown"
	// NotFound: a lookup found no transaction for our reference (yet).
	NotFound Outcome = "not_found"
	// Refunded: a lookup or callback reports the transaction refunded or
	// reversed. After a success it is a contradiction (invariant 6);
	// it never moves a purchase by itself.
	Refunded Outcome = "refunded"
)

// Valid reports whether o is one of the defined outcomes.
func (o Outcome) Valid() bool {
	switch o {
	case Succeeded, Pending, Failed, Rejected, Unknown, NotFound, Refunded:
		return true
	}
	return false
}

// Reason is the stable code of a definitive failure (Outcome Failed) or of a
// refusal (Outcome Rejected). It is what the API shows as failure.code.
type Reason string

// The reason codes of docs/api.md#failure-codes and docs/providers.md#outcomes.
const (
	ReasonNone               Reason = ""
	ReasonCustomerNotFound   Reason = "customer_not_found"
	ReasonProductUnavailable Reason = "product_unavailable"
	ReasonInsufficientBal    Reason = "insufficient_balance"
	ReasonAmountBelowMinimum Reason = "amount_below_minimum"
	ReasonInquiryExpired     Reason = "inquiry_expired"
	ReasonProviderRejected   Reason = "provider_rejected"
	ReasonPriceExceedsMax    Reason = "price_exceeds_max"
	ReasonTransactionFailed  Reason = "transaction_failed"
	// Rejection reasons (Outcome Rejected): nothing happened, the step retries.
	ReasonClockSkew        Reason = "clock_skew"
	ReasonBadSignature     Reason = "bad_signature"
	ReasonTokenInvalid     Reason = "token_invalid"
	ReasonBadCredentials   Reason = "bad_credentials"
	ReasonIPNotAllowed     Reason = "ip_not_allowed"
	ReasonInvalidRequest   Reason = "invalid_request"
	ReasonServerError      Reason = "server_error"
	ReasonTimeout          Reason = "timeout"
	ReasonConnection       Reason = "connection_error"
	ReasonUnreadableAnswer Reason = "unreadable_answer"
)

// Call is the audit record of one HTTP exchange with a provider: what the
// flow stores in provider_calls. Request and Response are redacted copies:
// they never hold a secret, token or signature.
type Call struct {
	Provider   string        // "klikoo" or "snapcart"
	Operation  string        // "token", "inquiry", "payment", "lookup", "balance", "products"
	Method     string        // HTTP method
	Path       string        // request path, without host
	Reference  string        // the provider reference sent, if any
	HTTPStatus int           // 0 when no answer arrived
	Code       string        // the provider's raw response code ("200022000", "402")
	Message    string        // the provider's raw message
	Latency    time.Duration // from send to the end of the answer (or the error)
	Request    string        // redacted request body
	Response   string        // redacted response body (may be non-JSON)
	Err        string        // transport error, if any (no secrets)
}

// Result is the normalized outcome of one call together with its audit record.
type Result struct {
	Outcome Outcome
	Reason  Reason
	// Detail is a short human message for operators (the provider's message,
	// or the transport error). It never holds a secret.
	Detail string
	// Calls lists every HTTP exchange the operation made, in order: an access
	// token fetch, a retried call after a token refresh, a detail lookup after
	// a history search.
	Calls []Call
}

// Error lets a Result travel as an error where a caller wants one.
func (r Result) Error() string {
	if r.Reason != ReasonNone {
		return fmt.Sprintf("%s: %s: %s", r.Outcome, r.Reason, r.Detail)
	}
	return fmt.Sprintf("%s: %s", r.Outcome, r.Detail)
}
