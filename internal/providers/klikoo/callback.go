package klikoo

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/ppob-orchestrator/orchestrator/internal/providers"
)

// ErrBadCallback is wrapped by ParseCallback's errors.
var ErrBadCallback = errors.New("klikoo callback: malformed")

// ParseCallback reads a Klikoo callback body (response_code,
// response_message, partner_reference_id, transaction_id, amount (string),
// transaction_time, transaction_status, reason, product_name, sn, value,
// customer_name, current_balance, beginning_balance, product_code). It is
// strict: the body must be a JSON object with partner_reference_id and
// transaction_status, and amounts and balances must be well formed; any
// other body is an error wrapping ErrBadCallback. Unknown keys are ignored.
//
// The Status is classified like a lookup (SUCCESS → Succeeded, FAILED →
// Failed, REFUND… → Refunded, anything else Pending). Klikoo signs no
// callback, so the Status is a hint: the caller confirms it with Lookup
// before applying it. Calls is empty.
func ParseCallback(body []byte) (providers.Status, error) {
	var f fields
	if err := json.Unmarshal(body, &f); err != nil || f == nil {
		return providers.Status{}, fmt.Errorf("%w: not a JSON object", ErrBadCallback)
	}
	if _, ok := f["transaction_status"]; !ok {
		return providers.Status{}, fmt.Errorf("%w: transaction_status is missing", ErrBadCallback)
	}
	st, err := readTransaction(f)
	if err != nil {
		return providers.Status{}, fmt.Errorf("%w: %v", ErrBadCallback, err)
	}
	if st.Reference == "" {
		return providers.Status{}, fmt.Errorf("%w: partner_reference_id is missing", ErrBadCallback)
	}
	if _, err := f.text("response_code"); err != nil {
		return providers.Status{}, fmt.Errorf("%w: %v", ErrBadCallback, err)
	}
	return st, nil
}

// ParseCallback parses a callback body; it is the package function ParseCallback,
// as a method so that a *Client serves every provider operation the flow calls.
func (c *Client) ParseCallback(body []byte) (providers.Status, error) { return ParseCallback(body) }
