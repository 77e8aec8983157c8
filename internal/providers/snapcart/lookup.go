package snapcart

import (
	"context"
	"net/url"

	"github.com/ppob-orchestrator/orchestrator/internal/providers"
)

// Lookup calls GET {prefix}payment/status/{request_id}.
//
// Without req.RequestID no lookup is possible: Lookup then returns Outcome
// Unknown with Reason invalid_request and no Calls. It is deliberately not
// NotFound, because a caller must never read it as "the payment did not
// happen": a one-step payment whose answer was lost never learned its
// request_id, must never be repeated, and can only be resolved by a signed
// callback (or an operator).
//
// Outcomes (lookupTable): Succeeded for status 200 with biller_code 200 and
// no "process" in either message; Pending for 200 with "process", 202
// "Waiting for payment" and anything unlisted; Failed for 400 "Transaction
// failed" and the other definitive refusals; NotFound for 404 "Transaction
// not found"; Rejected for 401; Unknown for timeouts, connection errors, 5xx,
// 400 "Bad request" and unreadable answers (a malformed amount included).
// TransactionID is the request_id; Amount is data.amount (0 if absent).
func (c *Client) Lookup(ctx context.Context, req providers.LookupRequest) providers.Status {
	if req.RequestID == "" {
		return providers.Status{Result: providers.Result{
			Outcome: providers.Unknown, Reason: providers.ReasonInvalidRequest,
			Detail: "snapcart lookup needs a request_id; a one-step payment without one is resolved only by a signed callback",
		}}
	}
	path := c.prefix + "payment/status/" + url.PathEscape(req.RequestID)
	call, raw, err := c.send(ctx, exchange{op: opLookup, method: "GET", path: path, reference: req.Reference})
	var st providers.Status
	if err != nil {
		st.Result = transportResult(call, err)
	} else {
		st = interpretStatus(call, raw)
	}
	if st.TransactionID == "" {
		st.TransactionID = req.RequestID
	}
	c.logResult(ctx, opLookup, st.Result)
	return st
}

// interpretStatus turns a complete payment status answer into a Status.
func interpretStatus(call providers.Call, body []byte) providers.Status {
	res, env, ok := answerResult(opLookup, call, body)
	st := providers.Status{Result: res, RawStatus: call.Code}
	if !ok {
		return st
	}
	var d statusData
	if err := decodeData(env.Data, &d); err != nil {
		unreadable(&st.Result, err)
		return st
	}
	st.Outcome, st.Reason, _ = classify(opLookup, signal{
		Code: string(env.StatusCode), Message: string(env.StatusMessage),
		BillerCode: string(d.BillerCode), BillerMessage: string(d.BillerMessage),
	})
	st.RawStatus = rawStatus(string(env.StatusCode), string(d.BillerCode))
	if d.BillerMessage != "" {
		st.Detail = string(env.StatusMessage) + ": " + string(d.BillerMessage)
	}
	st.Reference = string(d.ReferenceID)
	st.TransactionID = string(d.RequestID)
	st.ProductCode = string(d.ProductCode)
	st.Amount = d.Amount.Value
	st.SerialNumber = string(d.SerialNumber)
	return st
}

// rawStatus is the raw status kept for the audit trail: status_code, and
// biller_code after a slash when present ("200/200").
func rawStatus(code, biller string) string {
	if biller == "" {
		return code
	}
	return code + "/" + biller
}
