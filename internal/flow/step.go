package flow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/ppob-orchestrator/orchestrator/internal/providers"
	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

// ErrConflict is returned (wrapped) when a compare-and-set finds the purchase
// no longer in the status the step read: someone else moved it first.
var ErrConflict = errors.New("purchase moved concurrently")

// ErrNotFound is returned (wrapped) for a purchase, product or client that
// does not exist (or that the caller may not see).
var ErrNotFound = errors.New("not found")

// inquiryData is the purchases.inquiry column.
type inquiryData struct {
	CustomerName string            `json:"customer_name,omitempty"`
	Amount       int64             `json:"amount"`
	Total        int64             `json:"total,omitempty"`
	Details      map[string]string `json:"details,omitempty"`
	// RequestID is a request_id the inquiry returned (Snapcart two-step).
	RequestID string `json:"request_id,omitempty"`
}

// resultData is the purchases.result column.
type resultData struct {
	SerialNumber          string `json:"serial_number,omitempty"`
	Token                 string `json:"token,omitempty"`
	CustomerName          string `json:"customer_name,omitempty"`
	Tariff                string `json:"tariff,omitempty"`
	Power                 string `json:"power,omitempty"`
	KWh                   string `json:"kwh,omitempty"`
	ProviderTransactionID string `json:"provider_transaction_id,omitempty"`
	Note                  string `json:"note,omitempty"`
}

func inquiryOf(p *store.Purchase) inquiryData {
	var d inquiryData
	if len(p.Inquiry) > 0 {
		_ = json.Unmarshal(p.Inquiry, &d)
	}
	return d
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("flow: marshal %T: %v", v, err))
	}
	return b
}

func ptr[T any](v T) *T { return &v }

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// change is one step's write to a purchase: the event (empty for a write
// that keeps the status), the audit name and data, and the new field values.
type change struct {
	event  Event
	name   string // event name in the timeline; defaults to the event
	actor  string // system, client or operator
	data   any
	mutate func(p *store.Purchase)
}

// apply writes ch to cur inside tx as a compare-and-set on cur's status, and
// inserts the status event when the status changes — the same transaction.
func (s *Service) apply(ctx context.Context, tx pgx.Tx, cur store.Purchase, ch change) (store.Purchase, error) {
	from := Status(cur.Status)
	to := from
	if ch.event != "" {
		var err error
		if to, err = Next(from, ch.event); err != nil {
			return cur, fmt.Errorf("purchase %s: %w", cur.ID, err)
		}
	}
	now := s.now()
	p := cur
	if ch.mutate != nil {
		ch.mutate(&p)
	}
	p.Status = store.PurchaseStatus(to)
	p.UpdatedAt = now
	if to.Terminal() {
		p.CompletedAt = &now
		p.PaymentInFlight = false
	}
	q := store.New(tx)
	row, err := q.PurchaseUpdate(ctx, updateParams(&p, from))
	if errors.Is(err, pgx.ErrNoRows) {
		return cur, fmt.Errorf("purchase %s from %s: %w", cur.ID, from, ErrConflict)
	}
	if err != nil {
		return cur, fmt.Errorf("update purchase %s: %w", cur.ID, err)
	}
	if to != from {
		name := ch.name
		if name == "" {
			name = string(ch.event)
		}
		actor := ch.actor
		if actor == "" {
			actor = "system"
		}
		data := ch.data
		if data == nil {
			data = map[string]any{}
		}
		ev, err := q.EventInsert(ctx, store.EventInsertParams{
			PurchaseID: p.ID, Kind: "status", Name: name,
			FromStatus: ptr(store.PurchaseStatus(from)), ToStatus: ptr(store.PurchaseStatus(to)),
			Actor: actor, Data: mustJSON(data), CreatedAt: now,
		})
		if err != nil {
			return cur, fmt.Errorf("insert event for %s: %w", cur.ID, err)
		}
		if err := s.emit(ctx, tx, row, ev); err != nil {
			return cur, err
		}
		s.metrics.transition(string(from), string(to))
		if to.Terminal() && (from == StatusProcessing || from == StatusNeedsReview) {
			if err := s.cancelLookups(ctx, tx, p.ID); err != nil {
				return cur, err
			}
		}
		if to == StatusSucceeded || to == StatusFailed {
			if err := s.earlierReports(ctx, tx, row); err != nil {
				return cur, err
			}
		}
	}
	return row, nil
}

// earlierReports records a contradiction when a callback received before the
// purchase ended reported the opposite end (a FAILED or REFUND hint, then a
// lookup saying SUCCESS): reports that disagree are an operator's business
// even when they arrived in the "wrong" order.
func (s *Service) earlierReports(ctx context.Context, tx pgx.Tx, p store.Purchase) error {
	reports, err := store.New(tx).CallbackOutcomesByPurchase(ctx, &p.ID)
	if err != nil {
		return err
	}
	for _, r := range reports {
		st := providers.Status{Result: providers.Result{Outcome: providers.Outcome(deref(r.Outcome))}, RawStatus: "callback " + deref(r.Outcome)}
		contradicted, err := s.contradiction(ctx, tx, p, st, "earlier callback")
		if err != nil || contradicted {
			return err
		}
	}
	return nil
}

func updateParams(p *store.Purchase, from Status) store.PurchaseUpdateParams {
	return store.PurchaseUpdateParams{
		ID: p.ID, FromStatus: store.PurchaseStatus(from), ToStatus: p.Status,
		ConfirmedAt: p.ConfirmedAt, ExpiresAt: p.ExpiresAt,
		Inquiry: p.Inquiry, InquiryAmount: p.InquiryAmount, InquiryTotal: p.InquiryTotal,
		InquiryAttempts: p.InquiryAttempts, ProviderRequestID: p.ProviderRequestID,
		Amount: p.Amount, ProviderReference: p.ProviderReference,
		PaymentAttempts: p.PaymentAttempts, PaymentLastSentAt: p.PaymentLastSentAt,
		PaymentInFlight: p.PaymentInFlight, PaymentUncertain: p.PaymentUncertain,
		NotFoundStreak: p.NotFoundStreak, Lookups: p.Lookups, DeadlineAt: p.DeadlineAt,
		ProviderTransactionID: p.ProviderTransactionID, Price: p.Price, Result: p.Result,
		FailureCode: p.FailureCode, FailureMessage: p.FailureMessage,
		UpdatedAt: p.UpdatedAt, CompletedAt: p.CompletedAt,
	}
}

// recordCalls stores the provider calls of one operation, each with an event
// in the purchase's timeline (purchase may be nil for catalog and balance).
func (s *Service) recordCalls(ctx context.Context, tx pgx.Tx, purchase *store.Purchase, provider string, r providers.Result) error {
	q := store.New(tx)
	for _, c := range r.Calls {
		s.metrics.providerCall(provider, c, r.Outcome)
		if c.Provider == "" {
			c.Provider = provider
		}
		params := store.ProviderCallInsertParams{
			Provider: c.Provider, Operation: c.Operation, Reference: nonEmpty(c.Reference),
			HttpStatus: int32(c.HTTPStatus), Code: c.Code, Message: truncate(c.Message, 500),
			Outcome: string(r.Outcome), Reason: string(r.Reason),
			LatencyMs: int32(c.Latency.Milliseconds()),
			Request:   truncate(c.Request, 16<<10), Response: truncate(c.Response, 16<<10),
			Error: truncate(c.Err, 1000), CreatedAt: s.now(),
		}
		if purchase != nil {
			params.PurchaseID = &purchase.ID
		}
		if !providers.Outcome(params.Outcome).Valid() {
			params.Outcome = string(providers.Unknown)
		}
		id, err := q.ProviderCallInsert(ctx, params)
		if err != nil {
			return fmt.Errorf("record %s %s call: %w", provider, c.Operation, err)
		}
		if purchase == nil {
			continue
		}
		if _, err := q.EventInsert(ctx, store.EventInsertParams{
			PurchaseID: purchase.ID, Kind: "provider_call", Name: c.Operation + ": " + string(r.Outcome),
			Actor: "system", ProviderCallID: &id,
			Data:      mustJSON(map[string]any{"code": c.Code, "http_status": c.HTTPStatus, "latency_ms": c.Latency.Milliseconds(), "reason": r.Reason}),
			CreatedAt: s.now(),
		}); err != nil {
			return fmt.Errorf("provider call event: %w", err)
		}
	}
	return nil
}

// alert raises an operator alert (once per purchase and kind), counts it,
// and logs it. The message never holds a secret.
func (s *Service) alert(ctx context.Context, tx pgx.Tx, kind, provider string, purchase *store.Purchase, message string, data any) error {
	if data == nil {
		data = map[string]any{}
	}
	params := store.AlertInsertParams{Kind: kind, Provider: nonEmpty(provider), Message: message, Data: mustJSON(data), CreatedAt: s.now()}
	if purchase != nil {
		params.PurchaseID = &purchase.ID
	}
	n, err := store.New(tx).AlertInsert(ctx, params)
	if err != nil {
		return fmt.Errorf("alert %s: %w", kind, err)
	}
	if n > 0 {
		s.metrics.Alerts.WithLabelValues(kind, provider).Inc()
		attrs := []any{"kind", kind, "provider", provider}
		if purchase != nil {
			attrs = append(attrs, "purchase_id", purchase.ID)
			if _, err := store.New(tx).EventInsert(ctx, store.EventInsertParams{
				PurchaseID: purchase.ID, Kind: "alert", Name: kind, Actor: "system",
				Data: mustJSON(map[string]any{"message": message}), CreatedAt: s.now(),
			}); err != nil {
				return fmt.Errorf("alert event: %w", err)
			}
		}
		s.log.Warn("alert: "+message, attrs...)
	}
	return nil
}

// note adds a non-status event to a purchase's timeline.
func (s *Service) note(ctx context.Context, tx pgx.Tx, p *store.Purchase, name, actor string, data any) error {
	if data == nil {
		data = map[string]any{}
	}
	_, err := store.New(tx).EventInsert(ctx, store.EventInsertParams{
		PurchaseID: p.ID, Kind: "note", Name: name, Actor: actor, Data: mustJSON(data), CreatedAt: s.now(),
	})
	return err
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// truncate bounds s to about n bytes and makes it storable as PostgreSQL
// text: valid UTF-8, no NUL bytes (provider answers can hold anything).
func truncate(s string, n int) string {
	if len(s) > n {
		s = s[:n] + "…(truncated)"
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	return strings.ReplaceAll(s, "\x00", "\uFFFD")
}
