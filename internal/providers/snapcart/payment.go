package snapcart

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/ppob-orchestrator/orchestrator/internal/providers"
)

// paymentRequest is the body of POST {prefix}payment.
type paymentRequest struct {
	ProductCode string `json:"product_code"`
	RequestID   string `json:"request_id,omitempty"`
	BillNumber  string `json:"bill_number,omitempty"`
	UserID      string `json:"user_id,omitempty"`
	ZoneID      string `json:"zone_id,omitempty"`
	ItemCode    string `json:"item_code,omitempty"`
	ReferenceID string `json:"reference_id"`
}

// Pay calls POST {prefix}payment with reference_id = req.Reference (our
// purchase id). With req.RequestID (a two-step flow) it sends product_code,
// request_id, item_code if set and reference_id, and Snapcart dedupes a
// repeat by request_id. Without it (a one-step payment) it sends the
// identification set of the family (game vouchers: user_id, zone_id; others:
// bill_number = CustomerNumber, the destination for pulsa and data) and
// item_code; Snapcart charges EVERY such call, so a caller must never repeat
// one.
//
// The answer is an acknowledgement: status 200 is Pending (even with
// status_message "Transaction successful"), with RequestID (and TransactionID,
// the same value) learned from data.request_id. Status is never set:
// Snapcart's acknowledgement carries no final status. Failed covers Snapcart's
// definitive refusals (a definitive refusal of the FIRST call only:
// docs/invariants.md#4-definitive-failures-only); Rejected bad_credentials a
// 401, or invalid_request (no Call made) a request we cannot send; Unknown
// every timeout, connection error, 5xx and unreadable answer.
func (c *Client) Pay(ctx context.Context, req providers.PaymentRequest) providers.Payment {
	body, err := paymentBody(req)
	if err != nil {
		return providers.Payment{Result: providers.Result{Outcome: providers.Rejected, Reason: providers.ReasonInvalidRequest, Detail: err.Error()}}
	}
	call, raw, err := c.send(ctx, exchange{op: opPayment, method: "POST", path: c.prefix + "payment", reference: req.Reference, body: body})
	var p providers.Payment
	if err != nil {
		p.Result = transportResult(call, err)
		p.RequestID, p.TransactionID = req.RequestID, req.RequestID
	} else {
		p = interpretPayment(call, raw, req.RequestID)
	}
	c.logResult(ctx, opPayment, p.Result)
	return p
}

// validReference reports whether s is a reference Snapcart accepts and we
// generate: 1–100 letters, digits, dashes or underscores.
func validReference(s string) bool {
	if s == "" || len(s) > 100 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// paymentBody builds the payment body for req.
func paymentBody(req providers.PaymentRequest) ([]byte, error) {
	if req.ProductCode == "" {
		return nil, errors.New("snapcart payment: ProductCode is required")
	}
	if !validReference(req.Reference) {
		return nil, fmt.Errorf("snapcart payment %s: Reference must be 1-100 letters, digits, dashes or underscores", req.ProductCode)
	}
	body := paymentRequest{ProductCode: req.ProductCode, RequestID: req.RequestID, ItemCode: req.ItemCode, ReferenceID: req.Reference}
	if req.RequestID == "" {
		if req.Family.UsesUserID() {
			if req.UserID == "" {
				return nil, fmt.Errorf("snapcart payment %s: UserID is required for %s", req.ProductCode, req.Family)
			}
			body.UserID, body.ZoneID = req.UserID, req.ZoneID
		} else {
			if req.CustomerNumber == "" {
				return nil, fmt.Errorf("snapcart payment %s: CustomerNumber or RequestID is required", req.ProductCode)
			}
			body.BillNumber = req.CustomerNumber
		}
	}
	b, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("snapcart payment %s: encode: %w", req.ProductCode, err)
	}
	return b, nil
}

// interpretPayment turns a complete payment answer into a Payment.
// sentRequestID is the request_id we sent ("" for one-step).
func interpretPayment(call providers.Call, body []byte, sentRequestID string) providers.Payment {
	res, env, ok := answerResult(opPayment, call, body)
	p := providers.Payment{Result: res, RequestID: sentRequestID, TransactionID: sentRequestID}
	if !ok {
		return p
	}
	var d paymentData
	if err := decodeData(env.Data, &d); err != nil {
		unreadable(&p.Result, err)
		return p
	}
	p.Outcome, p.Reason, _ = classify(opPayment, signal{
		Code: string(env.StatusCode), Message: string(env.StatusMessage),
		BillerCode: string(d.BillerCode), BillerMessage: string(d.BillerMessage),
	})
	if d.BillerMessage != "" && p.Outcome == providers.Pending {
		p.Detail = string(env.StatusMessage) + ": " + string(d.BillerMessage)
	}
	if d.RequestID != "" && sentRequestID == "" {
		p.RequestID, p.TransactionID = string(d.RequestID), string(d.RequestID)
	}
	return p
}
