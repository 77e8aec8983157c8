package flow

import (
	"encoding/json"
	"time"

	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

// PurchaseView is a purchase as clients see it (docs/api.md): the body of
// GET /v1/purchases/{id} and the purchase inside a webhook message, rendered
// by this one function so the two never differ. It is built field by field
// from the row, so nothing internal (provider references, request ids,
// fingerprints, attempt counters) can leak by being added to the table.
type PurchaseView struct {
	ID             string        `json:"id"`
	ReferenceID    string        `json:"reference_id"`
	Status         string        `json:"status"`
	ProductCode    string        `json:"product_code"`
	Provider       string        `json:"provider"`
	CustomerNumber string        `json:"customer_number,omitempty"`
	Phone          string        `json:"phone,omitempty"`
	UserID         string        `json:"user_id,omitempty"`
	ZoneID         string        `json:"zone_id,omitempty"`
	Period         string        `json:"period,omitempty"`
	Price          *int64        `json:"price"`
	SellingPrice   *int64        `json:"selling_price"`
	MaxPrice       *int64        `json:"max_price"`
	Confirmation   string        `json:"confirmation"`
	Inquiry        *InquiryView  `json:"inquiry"`
	Result         *ResultView   `json:"result"`
	Failure        *FailureView  `json:"failure"`
	Attempts       []AttemptView `json:"attempts"`
	CreatedAt      string        `json:"created_at"`
	UpdatedAt      string        `json:"updated_at"`
	CompletedAt    *string       `json:"completed_at"`
}

// InquiryView is the client's part of purchases.inquiry (never its request_id).
type InquiryView struct {
	CustomerName string            `json:"customer_name,omitempty"`
	Amount       int64             `json:"amount"`
	Total        int64             `json:"total,omitempty"`
	Details      map[string]string `json:"details,omitempty"`
}

// ResultView is the client's part of purchases.result (never the
// operator's note).
type ResultView struct {
	SerialNumber          string `json:"serial_number,omitempty"`
	Token                 string `json:"token,omitempty"`
	CustomerName          string `json:"customer_name,omitempty"`
	Tariff                string `json:"tariff,omitempty"`
	Power                 string `json:"power,omitempty"`
	KWh                   string `json:"kwh,omitempty"`
	ProviderTransactionID string `json:"provider_transaction_id,omitempty"`
}

// AttemptView is one provider tried for the purchase (docs/routing.md):
// never a provider reference, never a secret. Outcome is failed_over for an
// attempt the purchase moved on from, else the purchase's status.
type AttemptView struct {
	Provider            string       `json:"provider"`
	ProviderProductCode string       `json:"provider_product_code"`
	StartedAt           string       `json:"started_at"`
	EndedAt             *string      `json:"ended_at"`
	Outcome             string       `json:"outcome"`
	Failure             *FailureView `json:"failure"`
}

// FailureView is why a failed purchase failed.
type FailureView struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// RFC3339 formats t as the API shows times: RFC 3339 in UTC.
func RFC3339(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// ViewPurchase renders p as clients see it; ended are the attempts it moved
// on from (none unless p.Attempt > 1).
func ViewPurchase(p store.Purchase, ended []store.PurchaseAttempt) PurchaseView {
	v := PurchaseView{
		ID: p.ID.String(), ReferenceID: p.ReferenceID, Status: string(p.Status),
		ProductCode: p.ProductCode, Provider: p.Provider,
		CustomerNumber: deref(p.CustomerNumber), Phone: deref(p.Phone), UserID: deref(p.UserID),
		ZoneID: deref(p.ZoneID), Period: deref(p.Period),
		Price: p.Price, SellingPrice: p.SellingPrice, MaxPrice: p.MaxPrice, Confirmation: p.Confirmation,
		CreatedAt: RFC3339(p.CreatedAt), UpdatedAt: RFC3339(p.UpdatedAt),
	}
	if len(p.Inquiry) > 0 && string(p.Inquiry) != "null" {
		var iv InquiryView
		if json.Unmarshal(p.Inquiry, &iv) == nil {
			v.Inquiry = &iv
		}
	}
	if len(p.Result) > 0 && string(p.Result) != "null" {
		var rv ResultView
		if json.Unmarshal(p.Result, &rv) == nil && rv != (ResultView{}) {
			v.Result = &rv
		}
	}
	if p.FailureCode != nil {
		v.Failure = &FailureView{Code: *p.FailureCode, Message: deref(p.FailureMessage)}
	}
	if p.CompletedAt != nil {
		s := RFC3339(*p.CompletedAt)
		v.CompletedAt = &s
	}
	for _, a := range ended {
		end := RFC3339(a.EndedAt)
		v.Attempts = append(v.Attempts, AttemptView{
			Provider: a.Provider, ProviderProductCode: a.ProviderProductCode, StartedAt: RFC3339(a.StartedAt), EndedAt: &end,
			Outcome: "failed_over", Failure: &FailureView{Code: a.FailureCode, Message: a.FailureMessage},
		})
	}
	started := p.AttemptStartedAt
	if started.IsZero() {
		started = p.CreatedAt
	}
	v.Attempts = append(v.Attempts, AttemptView{
		Provider: p.Provider, ProviderProductCode: p.ProviderProductCode, StartedAt: RFC3339(started),
		EndedAt: v.CompletedAt, Outcome: string(p.Status), Failure: v.Failure,
	})
	return v
}
