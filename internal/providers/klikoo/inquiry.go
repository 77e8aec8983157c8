package klikoo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/ppob-orchestrator/orchestrator/internal/providers"
)

// Endpoints of the purchase calls (signed paths).
const (
	prepaidInquiryPath  = "/v1/open-api/products/inquiry"
	postpaidInquiryPath = "/v1/open-api/transactions/inquiry-postpaid"
	buyPath             = "/v1/open-api/products/buy"
)

// purchaseBody is the body of a prepaid inquiry and of a buy: all strings, in
// the seed's order.
type purchaseBody struct {
	Msidn              string `json:"msidn"`
	Amount             string `json:"amount"`
	ProductCode        string `json:"product_code"`
	SellingPrice       string `json:"selling_price"`
	Value              string `json:"value"`
	PartnerReferenceID string `json:"partner_reference_id"`
}

// postpaidBody is the body of a postpaid inquiry; period is sent for BPJS
// only.
type postpaidBody struct {
	AccountNumber string `json:"account_number"`
	ProductCode   string `json:"product_code"`
	Period        string `json:"period,omitempty"`
}

// Inquiry validates a customer and prices a product.
//
// Families pln_prepaid and ewallet use the prepaid inquiry, sending
// req.Reference as partner_reference_id (a fresh UUID v4 is generated when it
// is empty; it must never be a payment's reference). Families postpaid and
// bpjs use the postpaid inquiry (period for bpjs only, and required there).
// Klikoo has no inquiry for other families: the answer is Failed with
// ReasonInvalidRequest and no call is made, as it is for a request missing
// its product code, customer number, amount (prepaid) or period (bpjs).
//
// A server error is Unknown with ReasonServerError: no money moves on an
// inquiry, so the caller retries with backoff and fails the purchase when its
// retries run out. A success answer without a readable amount is Unknown.
func (c *Client) Inquiry(ctx context.Context, req providers.InquiryRequest) providers.Inquiry {
	var out providers.Inquiry
	rq, err := c.inquiryRequest(req)
	if err != nil {
		out.Outcome, out.Reason, out.Detail = providers.Failed, providers.ReasonInvalidRequest, err.Error()
		return out
	}
	a, ok := c.do(ctx, rq, &out.Result)
	if !ok {
		return out
	}
	readInquiry(a, &out)
	return out
}

// inquiryRequest builds the inquiry call for req's family.
func (c *Client) inquiryRequest(req providers.InquiryRequest) (request, error) {
	if req.ProductCode == "" {
		return request{}, errors.New("klikoo inquiry: product code is required")
	}
	if req.CustomerNumber == "" {
		return request{}, errors.New("klikoo inquiry: customer number is required")
	}
	var (
		path string
		body any
		ref  string
	)
	switch req.Family {
	case providers.FamilyPLNPrepaid, providers.FamilyEWallet:
		if req.Amount <= 0 {
			return request{}, fmt.Errorf("klikoo inquiry %s: amount must be positive, got %d", req.ProductCode, req.Amount)
		}
		ref = req.Reference
		if ref == "" {
			ref = c.newRef()
		}
		path = prepaidInquiryPath
		body = purchaseBody{
			Msidn:              firstNonEmpty(req.Phone, req.CustomerNumber),
			Amount:             strconv.FormatInt(req.Amount, 10),
			ProductCode:        req.ProductCode,
			SellingPrice:       strconv.FormatInt(positiveOr(req.SellingPrice, req.Amount), 10),
			Value:              req.CustomerNumber,
			PartnerReferenceID: ref,
		}
	case providers.FamilyPostpaid, providers.FamilyBPJS:
		pb := postpaidBody{AccountNumber: req.CustomerNumber, ProductCode: req.ProductCode}
		if req.Family == providers.FamilyBPJS {
			if req.Period == "" {
				return request{}, fmt.Errorf("klikoo inquiry %s: period is required for bpjs", req.ProductCode)
			}
			pb.Period = req.Period
		}
		path, body = postpaidInquiryPath, pb
	default:
		return request{}, fmt.Errorf("klikoo inquiry %s: Klikoo has no inquiry for family %q", req.ProductCode, req.Family)
	}
	raw, err := json.Marshal(body)
	if err != nil {
		return request{}, fmt.Errorf("klikoo inquiry %s: encode: %w", req.ProductCode, err)
	}
	return request{op: opInquiry, method: "POST", path: path, body: raw, reference: ref, table: inquiryCodes}, nil
}

// readInquiry sets out from an inquiry answer (prepaid or postpaid).
func readInquiry(a answer, out *providers.Inquiry) {
	v := a.verdict(inquiryCodes)
	finish(&out.Result, v, a)
	if !v.OK {
		return
	}
	unreadable := func(err error) {
		out.Outcome, out.Reason = providers.Unknown, providers.ReasonUnreadableAnswer
		out.Detail = "unreadable inquiry answer: " + err.Error()
		out.CustomerName, out.Amount, out.Total, out.Details, out.Balance = "", 0, 0, nil, nil
	}
	f, err := decodeFields(a.env.Data)
	if err != nil {
		unreadable(err)
		return
	}
	amount, present, err := f.money("amount")
	if err == nil && !present {
		err = errors.New("amount is missing")
	}
	if err != nil {
		unreadable(err)
		return
	}
	total, _, err := f.money("total")
	if err != nil {
		unreadable(err)
		return
	}
	name, err := f.text("customer_name")
	if err != nil {
		unreadable(err)
		return
	}
	if bal, ok, err := f.money("current_balance"); err != nil {
		unreadable(err)
		return
	} else if ok {
		out.Balance = &bal
	}
	out.Amount, out.Total, out.CustomerName = amount, total, name
	out.Details = map[string]string{}
	for k, raw := range f {
		if k == "amount" || k == "total" || k == "customer_name" || k == "current_balance" {
			continue
		}
		if s, err := scalarText(raw); err == nil && s != "" {
			out.Details[k] = s
		}
	}
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func positiveOr(a, b int64) int64 {
	if a > 0 {
		return a
	}
	return b
}
