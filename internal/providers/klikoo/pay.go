package klikoo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/ppob-orchestrator/orchestrator/internal/providers"
)

// Pay buys a product with req.Reference as partner_reference_id. Klikoo's
// answer is an acceptance, never a final result: success (201xx2001) is
// Pending with the TransactionID to look up, and so is 409xx6563 (the
// reference was used before: the transaction exists). Definitive refusals of
// the code table are Failed; clock, signature, token, credentials and IP
// refusals are Rejected; a timeout, connection error, 5xx or unreadable
// answer is Unknown (money may have moved: look it up, never fail).
//
// msidn is req.Phone, or req.CustomerNumber when there is no phone (bpjs
// requires the phone); selling_price is req.SellingPrice, or req.Amount. A
// request without reference, product code, customer number or a positive
// amount is Failed with ReasonInvalidRequest and makes no call.
func (c *Client) Pay(ctx context.Context, req providers.PaymentRequest) providers.Payment {
	var out providers.Payment
	rq, err := payRequest(req)
	if err != nil {
		out.Outcome, out.Reason, out.Detail = providers.Failed, providers.ReasonInvalidRequest, err.Error()
		return out
	}
	a, ok := c.do(ctx, rq, &out.Result)
	if !ok {
		return out
	}
	readPayment(a, &out)
	return out
}

// payRequest builds the buy call.
func payRequest(req providers.PaymentRequest) (request, error) {
	switch {
	case req.Reference == "":
		return request{}, errors.New("klikoo buy: reference is required")
	case req.ProductCode == "":
		return request{}, errors.New("klikoo buy: product code is required")
	case req.CustomerNumber == "":
		return request{}, fmt.Errorf("klikoo buy %s: customer number is required", req.Reference)
	case req.Amount <= 0:
		return request{}, fmt.Errorf("klikoo buy %s: amount must be positive, got %d", req.Reference, req.Amount)
	case req.Family == providers.FamilyBPJS && req.Phone == "":
		return request{}, fmt.Errorf("klikoo buy %s: bpjs needs the customer's phone as msidn", req.Reference)
	}
	raw, err := json.Marshal(purchaseBody{
		Msidn:              firstNonEmpty(req.Phone, req.CustomerNumber),
		Amount:             strconv.FormatInt(req.Amount, 10),
		ProductCode:        req.ProductCode,
		SellingPrice:       strconv.FormatInt(positiveOr(req.SellingPrice, req.Amount), 10),
		Value:              req.CustomerNumber,
		PartnerReferenceID: req.Reference,
	})
	if err != nil {
		return request{}, fmt.Errorf("klikoo buy %s: encode: %w", req.Reference, err)
	}
	return request{op: opPayment, method: "POST", path: buyPath, body: raw, reference: req.Reference, table: paymentCodes}, nil
}

// readPayment sets out from a buy answer. The transaction_id is read from the
// data when there is one; an acceptance without a readable id is still
// Pending (the history search finds it by our reference).
func readPayment(a answer, out *providers.Payment) {
	v := a.verdict(paymentCodes)
	finish(&out.Result, v, a)
	if out.Outcome != providers.Pending {
		return
	}
	if v.Outcome == providers.Pending && !v.OK && out.Detail == "" {
		out.Detail = "partner_reference_id already used: the transaction exists"
	}
	f, err := decodeFields(a.env.Data)
	if err != nil {
		return
	}
	if id, err := f.text("transaction_id"); err == nil {
		out.TransactionID = id
	}
}
