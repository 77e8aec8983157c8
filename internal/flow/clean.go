package flow

import (
	"fmt"

	"github.com/ppob-orchestrator/orchestrator/internal/providers"
)

// What a provider sends is cleaned as it arrives, before any decision or
// write sees it (invariant 5): NUL bytes and invalid UTF-8 are replaced,
// fields are bounded, and an HTTP status outside 0–599 is kept only in the
// call's error text. No provider answer can then make an audit insert —
// and with it a step's transaction — fail.

// Bounds of what is stored from a provider answer.
const (
	maxField   = 500      // codes, messages, references, names, statuses
	maxBody    = 16 << 10 // request and response bodies
	maxErrText = 1000
)

func cleanResult(r *providers.Result) {
	r.Detail = truncate(r.Detail, maxField)
	for i := range r.Calls {
		c := &r.Calls[i]
		if c.HTTPStatus < 0 || c.HTTPStatus > 599 {
			c.Err = fmt.Sprintf("HTTP status %d is out of range; %s", c.HTTPStatus, c.Err)
			c.HTTPStatus = 0
		}
		c.Code = truncate(c.Code, maxField)
		c.Message = truncate(c.Message, maxField)
		c.Reference = truncate(c.Reference, maxField)
		c.Method, c.Path = truncate(c.Method, maxField), truncate(c.Path, maxField)
		c.Request, c.Response = truncate(c.Request, maxBody), truncate(c.Response, maxBody)
		c.Err = truncate(c.Err, maxErrText)
	}
}

func cleanStatus(st *providers.Status) {
	cleanResult(&st.Result)
	for _, f := range []*string{&st.Reference, &st.TransactionID, &st.ProductCode, &st.SerialNumber, &st.RawStatus, &st.CustomerName} {
		*f = truncate(*f, maxField)
	}
}

func cleanInquiry(a *providers.Inquiry) {
	cleanResult(&a.Result)
	a.CustomerName, a.RequestID = truncate(a.CustomerName, maxField), truncate(a.RequestID, maxField)
	if len(a.Details) > 0 {
		d := make(map[string]string, len(a.Details))
		for k, v := range a.Details {
			d[truncate(k, maxField)] = truncate(v, maxField)
		}
		a.Details = d
	}
}

func cleanPayment(a *providers.Payment) {
	cleanResult(&a.Result)
	a.TransactionID, a.RequestID = truncate(a.TransactionID, maxField), truncate(a.RequestID, maxField)
	cleanStatus(&a.Status)
}
