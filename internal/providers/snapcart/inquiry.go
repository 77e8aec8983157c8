package snapcart

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/ppob-orchestrator/orchestrator/internal/providers"
)

// inquiryRequest is the body of POST {prefix}inquiry. Only the
// identification set the product needs is sent; unused fields are omitted.
type inquiryRequest struct {
	ProductCode string `json:"product_code"`
	BillNumber  string `json:"bill_number,omitempty"`
	UserID      string `json:"user_id,omitempty"`
	ZoneID      string `json:"zone_id,omitempty"`
	ReferenceID string `json:"reference_id,omitempty"`
}

// Inquiry calls POST {prefix}inquiry. Game vouchers (FamilyGameVoucher) send
// user_id and zone_id and answer data{ign} (CustomerName and Details["ign"],
// no RequestID); every other family sends bill_number = CustomerNumber and
// answers request_id, bill_amount (Amount and Total) and additional_info
// (Details, stringified, but for its "balance": our deposit, read as Balance
// in Indonesian notation and never shown as a detail).
//
// Outcomes: Succeeded on status 200; Failed with a reason for Snapcart's
// definitive refusals; Rejected bad_credentials on 401, or invalid_request
// (with no Call) when req lacks what Snapcart requires; Unknown for
// timeouts, connection errors, 5xx (500 "Third party error" included: an
// inquiry moves no money, so the caller retries and fails the purchase when
// its retries are spent) and unreadable answers. A billing answer without
// request_id or with a malformed bill_amount is unreadable, never zero.
func (c *Client) Inquiry(ctx context.Context, req providers.InquiryRequest) providers.Inquiry {
	body, err := inquiryBody(req)
	if err != nil {
		return providers.Inquiry{Result: providers.Result{Outcome: providers.Rejected, Reason: providers.ReasonInvalidRequest, Detail: err.Error()}}
	}
	call, raw, err := c.send(ctx, exchange{op: opInquiry, method: "POST", path: c.prefix + "inquiry", reference: req.Reference, body: body})
	var inq providers.Inquiry
	if err != nil {
		inq.Result = transportResult(call, err)
	} else {
		inq = interpretInquiry(call, raw, req.Family)
	}
	c.logResult(ctx, opInquiry, inq.Result)
	return inq
}

// inquiryBody builds the inquiry body for req.
func inquiryBody(req providers.InquiryRequest) ([]byte, error) {
	if req.ProductCode == "" {
		return nil, errors.New("snapcart inquiry: ProductCode is required")
	}
	body := inquiryRequest{ProductCode: req.ProductCode, ReferenceID: req.Reference}
	if req.Family.UsesUserID() {
		if req.UserID == "" {
			return nil, fmt.Errorf("snapcart inquiry %s: UserID is required for %s", req.ProductCode, req.Family)
		}
		body.UserID, body.ZoneID = req.UserID, req.ZoneID
	} else {
		if req.CustomerNumber == "" {
			return nil, fmt.Errorf("snapcart inquiry %s: CustomerNumber is required", req.ProductCode)
		}
		body.BillNumber = req.CustomerNumber
	}
	b, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("snapcart inquiry %s: encode: %w", req.ProductCode, err)
	}
	return b, nil
}

// interpretInquiry turns a complete inquiry answer into an Inquiry.
func interpretInquiry(call providers.Call, body []byte, family providers.Family) providers.Inquiry {
	res, env, ok := answerResult(opInquiry, call, body)
	inq := providers.Inquiry{Result: res}
	if !ok {
		return inq
	}
	var d inquiryData
	if err := decodeData(env.Data, &d); err != nil {
		unreadable(&inq.Result, err)
		return inq
	}
	inq.Outcome, inq.Reason, _ = classify(opInquiry, signal{
		Code: string(env.StatusCode), Message: string(env.StatusMessage),
		BillerCode: string(d.BillerCode), BillerMessage: string(d.BillerMessage),
	})
	if inq.Outcome != providers.Succeeded {
		return inq
	}
	details := map[string]string{}
	flattenInfo(d.AdditionalInfo, details)
	if d.IGN != "" {
		details["ign"] = string(d.IGN)
		inq.CustomerName = string(d.IGN)
	}
	billing := d.RequestID != "" || (family != "" && !family.UsesUserID())
	if billing {
		switch {
		case d.RequestID == "":
			unreadable(&inq.Result, errors.New("inquiry answer for a billing product has no request_id"))
			return inq
		case !d.BillAmount.Set:
			unreadable(&inq.Result, errors.New("inquiry answer for a billing product has no bill_amount"))
			return inq
		}
		inq.RequestID = string(d.RequestID)
		if inq.CustomerName == "" {
			inq.CustomerName = firstOf(details, "customer_name", "name")
		}
	}
	inq.Amount, inq.Total = d.BillAmount.Value, d.BillAmount.Value
	if bal, ok := details["balance"]; ok {
		// Our deposit, not the customer's: recorded as the deposit
		// observed, never shown with the inquiry's details (the API
		// returns them to clients, whose apps may show them to their
		// customers). A malformed balance does not spoil the inquiry.
		delete(details, "balance")
		if v, _, err := parseAmountJSON(balanceJSON(bal)); err == nil {
			inq.Balance = &v
		}
	}
	if len(details) > 0 {
		inq.Details = details
	}
	return inq
}

// balanceJSON re-quotes a stringified balance so parseAmountJSON reads it in
// Indonesian notation ("50.850" is 50,850 rupiah, 50850 plain).
func balanceJSON(s string) []byte {
	b, _ := json.Marshal(s)
	return b
}

// firstOf returns the first non-empty value of keys in m.
func firstOf(m map[string]string, keys ...string) string {
	for _, k := range keys {
		if v := m[k]; v != "" {
			return v
		}
	}
	return ""
}
