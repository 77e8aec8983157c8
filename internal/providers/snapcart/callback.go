package snapcart

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/ppob-orchestrator/orchestrator/internal/providers"
)

// SignatureHeader is the header carrying a callback's signature.
const SignatureHeader = "X-Signature"

// ErrUnreadableCallback is wrapped by ParseCallback's errors.
var ErrUnreadableCallback = errors.New("unreadable snapcart callback")

// ParseCallback reads a callback body (request_id, reference_id,
// product_code, bill_amount, bill_number, status_code, status_message,
// biller_code, biller_message, serial_number). Unknown keys are ignored.
// The Status is classified by callbackTable: Succeeded needs status_code 200,
// biller_code 200 and no "process" in either message; anything unlisted is
// Pending. Reference is reference_id (our purchase id), TransactionID the
// request_id, Amount bill_amount.
//
// A body that is not a JSON object, lacks status_code or carries a malformed
// amount is an error wrapping ErrUnreadableCallback, with a Status of Outcome
// Unknown. ParseCallback does not authenticate: see VerifyCallback.
func ParseCallback(body []byte) (providers.Status, error) {
	fail := func(err error) (providers.Status, error) {
		err = fmt.Errorf("%w: %w", ErrUnreadableCallback, err)
		return providers.Status{Result: providers.Result{
			Outcome: providers.Unknown, Reason: providers.ReasonUnreadableAnswer, Detail: truncate(err.Error(), 300),
		}}, err
	}
	if err := decodeData(body, &struct{}{}); err != nil || len(body) == 0 {
		return fail(errNotJSON)
	}
	var cb callbackBody
	if err := json.Unmarshal(body, &cb); err != nil {
		return fail(err)
	}
	if err := exactKeys(body, &cb); err != nil {
		return fail(err)
	}
	if cb.StatusCode == "" {
		return fail(errors.New("callback has no status_code"))
	}
	var st providers.Status
	st.Outcome, st.Reason, _ = classify(opCallback, signal{
		Code: string(cb.StatusCode), Message: string(cb.StatusMessage),
		BillerCode: string(cb.BillerCode), BillerMessage: string(cb.BillerMessage),
	})
	st.Detail = string(cb.StatusMessage)
	if cb.BillerMessage != "" {
		st.Detail += ": " + string(cb.BillerMessage)
	}
	st.RawStatus = rawStatus(string(cb.StatusCode), string(cb.BillerCode))
	st.Reference = string(cb.ReferenceID)
	st.TransactionID = string(cb.RequestID)
	st.ProductCode = string(cb.ProductCode)
	st.Amount = cb.BillAmount.Value
	st.SerialNumber = string(cb.SerialNumber)
	return st, nil
}

// SignCallback returns the X-Signature of a callback body: the lower-case
// hex HMAC-SHA256 of the raw body under secret.
func SignCallback(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// VerifyCallback reports whether signatureHex is the hex HMAC-SHA256 of the
// raw body under secret, comparing in constant time. An empty secret or
// signature, or a signature that is not 64 hex digits, never verifies.
func VerifyCallback(secret, body []byte, signatureHex string) bool {
	if len(secret) == 0 || len(signatureHex) != 2*sha256.Size {
		return false
	}
	got, err := hex.DecodeString(signatureHex)
	if err != nil {
		return false
	}
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return hmac.Equal(got, m.Sum(nil))
}

// ParseCallback parses a callback body; it is the package function ParseCallback,
// as a method so that a *Client serves every provider operation the flow calls.
func (c *Client) ParseCallback(body []byte) (providers.Status, error) { return ParseCallback(body) }
