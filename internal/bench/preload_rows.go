package bench

import (
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// The rows Preload COPYs, one type per table, with the columns they fill
// (migrations/ defines them; a column left out takes its default).

type synthPurchase struct {
	ID, ClientID                                       uuid.UUID
	ReferenceID, Fingerprint, Status                   string
	ProductCode, Provider, Family, ProviderProductCode string
	CustomerNumber, UserID, ZoneID                     *string
	CustomerKey, Confirmation                          string
	MaxPrice, SellingPrice                             *int64
	ConfirmedAt, ExpiresAt                             *time.Time
	Inquiry                                            []byte
	InquiryAmount, InquiryTotal                        *int64
	InquiryAttempts                                    int32
	ProviderRequestID, ProviderReference               *string
	Amount                                             *int64
	PaymentAttempts                                    int32
	PaymentLastSentAt                                  *time.Time
	PaymentUncertain                                   bool
	Lookups                                            int32
	DeadlineAt                                         *time.Time
	ProviderTransactionID                              *string
	Price                                              *int64
	Result                                             []byte
	FailureCode, FailureMessage                        *string
	CreatedAt, UpdatedAt                               time.Time
	CompletedAt                                        *time.Time
	Route                                              []string
	Attempt                                            int32
	AttemptStartedAt                                   time.Time
}

var purchaseColumns = []string{"id", "client_id", "reference_id", "fingerprint", "status", "product_code", "provider", "family",
	"customer_number", "user_id", "zone_id", "customer_key", "max_price", "selling_price", "confirmation",
	"confirmed_at", "expires_at", "inquiry", "inquiry_amount", "inquiry_total", "inquiry_attempts", "provider_request_id",
	"amount", "provider_reference", "payment_attempts", "payment_last_sent_at", "payment_uncertain", "lookups", "deadline_at",
	"provider_transaction_id", "price", "result", "failure_code", "failure_message", "created_at", "updated_at", "completed_at",
	"route", "attempt", "attempt_started_at", "provider_product_code"}

type synthEvent struct {
	PurchaseID                  uuid.UUID
	Seq                         int32
	Kind, Name, From, To, Actor string
	Call, Callback              int32 // index in the batch, -1 for none
	Data                        string
	CreatedAt                   time.Time
}

var eventColumns = []string{"id", "purchase_id", "seq", "kind", "name", "from_status", "to_status", "actor",
	"provider_call_id", "callback_id", "data", "created_at"}

type synthCall struct {
	PurchaseID                     uuid.UUID
	Provider, Operation            string
	Reference                      *string
	HTTPStatus                     int32
	Code, Message, Outcome, Reason string
	LatencyMS                      int32
	Request, Response              string
	CreatedAt                      time.Time
}

var callColumns = []string{"id", "purchase_id", "provider", "operation", "reference", "http_status", "code", "message",
	"outcome", "reason", "latency_ms", "request", "response", "error", "created_at"}

type synthCallback struct {
	Provider, Body string
	Authenticated  bool
	Reference      *string
	PurchaseID     *uuid.UUID
	Outcome        *string
	Action         string
	ReceivedAt     time.Time
}

var callbackColumns = []string{"id", "provider", "body_sha256", "body", "authenticated", "reference", "purchase_id",
	"outcome", "action", "received_at"}

// digestColumns are callback_digests', one row per callback (the
// callbacks' dedupe).
var digestColumns = []string{"provider", "body_sha256", "received_at"}

type synthAttempt struct {
	PurchaseID                                       uuid.UUID
	Number                                           int32
	Provider, ProviderProductCode, ProviderReference string
	PaymentAttempts                                  int32
	FailureCode, FailureMessage                      string
	StartedAt, EndedAt                               time.Time
}

var attemptColumns = []string{"purchase_id", "number", "provider", "provider_product_code", "provider_reference",
	"payment_attempts", "failure_code", "failure_message", "started_at", "ended_at"}

type synthAlert struct {
	Kind          string
	Provider      *string
	PurchaseID    *uuid.UUID
	Message, Data string
	CreatedAt     time.Time
}

var alertColumns = []string{"id", "kind", "provider", "purchase_id", "message", "data", "created_at"}

type synthBalance struct {
	Provider   string
	Balance    int64
	Source     string
	ObservedAt time.Time
}

var balanceColumns = []string{"id", "provider", "balance", "source", "observed_at"}

// copyRows is a COPY source over rows, each turned into the values of a
// row by fill (into a slice reused from row to row: pgx encodes a row
// before it asks for the next).
func copyRows[T any](rows []T, width int, fill func(i int, r *T, v []any)) pgx.CopyFromSource {
	i := -1
	v := make([]any, width)
	return pgx.CopyFromFunc(func() ([]any, error) {
		i++
		if i >= len(rows) {
			return nil, nil
		}
		fill(i, &rows[i], v)
		return v, nil
	})
}

// jsonb is a JSON document for a jsonb column, NULL when empty.
func jsonb(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return string(b)
}

func (b *batch) purchaseRows() pgx.CopyFromSource {
	return copyRows(b.purchases, len(purchaseColumns), func(_ int, p *synthPurchase, v []any) {
		v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7] = p.ID, p.ClientID, p.ReferenceID, p.Fingerprint, p.Status, p.ProductCode, p.Provider, p.Family
		v[8], v[9], v[10], v[11], v[12], v[13], v[14] = p.CustomerNumber, p.UserID, p.ZoneID, p.CustomerKey, p.MaxPrice, p.SellingPrice, p.Confirmation
		v[15], v[16], v[17], v[18], v[19], v[20], v[21] = p.ConfirmedAt, p.ExpiresAt, jsonb(p.Inquiry), p.InquiryAmount, p.InquiryTotal, p.InquiryAttempts, p.ProviderRequestID
		v[22], v[23], v[24], v[25], v[26], v[27], v[28] = p.Amount, p.ProviderReference, p.PaymentAttempts, p.PaymentLastSentAt, p.PaymentUncertain, p.Lookups, p.DeadlineAt
		v[29], v[30], v[31], v[32], v[33], v[34], v[35], v[36] = p.ProviderTransactionID, p.Price, jsonb(p.Result), p.FailureCode, p.FailureMessage, p.CreatedAt, p.UpdatedAt, p.CompletedAt
		v[37], v[38], v[39], v[40] = p.Route, p.Attempt, p.AttemptStartedAt, p.ProviderProductCode
	})
}

// nullable is s, or NULL when empty.
func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// idOf is the id of the index-th row of a batch whose ids follow base, or
// NULL for index -1.
func idOf(base int64, index int32) any {
	if index < 0 {
		return nil
	}
	return base + int64(index) + 1
}

func (b *batch) eventRows(base, calls, callbacks int64) pgx.CopyFromSource {
	return copyRows(b.events, len(eventColumns), func(i int, e *synthEvent, v []any) {
		v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7] = base+int64(i)+1, e.PurchaseID, e.Seq, e.Kind, e.Name, nullable(e.From), nullable(e.To), e.Actor
		v[8], v[9], v[10], v[11] = idOf(calls, e.Call), idOf(callbacks, e.Callback), e.Data, e.CreatedAt
	})
}

func (b *batch) callRows(base int64) pgx.CopyFromSource {
	return copyRows(b.calls, len(callColumns), func(i int, c *synthCall, v []any) {
		v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7] = base+int64(i)+1, c.PurchaseID, c.Provider, c.Operation, c.Reference, c.HTTPStatus, c.Code, c.Message
		v[8], v[9], v[10], v[11], v[12], v[13], v[14] = c.Outcome, c.Reason, c.LatencyMS, c.Request, c.Response, "", c.CreatedAt
	})
}

func (b *batch) callbackRows(base int64) pgx.CopyFromSource {
	return copyRows(b.callbacks, len(callbackColumns), func(i int, c *synthCallback, v []any) {
		v[0], v[1], v[2], v[3], v[4] = base+int64(i)+1, c.Provider, bodyHash(c.Body), c.Body, c.Authenticated
		v[5], v[6], v[7], v[8], v[9] = c.Reference, c.PurchaseID, c.Outcome, c.Action, c.ReceivedAt
	})
}

func (b *batch) digestRows() pgx.CopyFromSource {
	return copyRows(b.callbacks, len(digestColumns), func(_ int, c *synthCallback, v []any) {
		v[0], v[1], v[2] = c.Provider, bodyHash(c.Body), c.ReceivedAt
	})
}

func (b *batch) attemptRows() pgx.CopyFromSource {
	return copyRows(b.attempts, len(attemptColumns), func(_ int, a *synthAttempt, v []any) {
		v[0], v[1], v[2], v[3], v[4] = a.PurchaseID, a.Number, a.Provider, a.ProviderProductCode, a.ProviderReference
		v[5], v[6], v[7], v[8], v[9] = a.PaymentAttempts, a.FailureCode, a.FailureMessage, a.StartedAt, a.EndedAt
	})
}

func (b *batch) alertRows(base int64) pgx.CopyFromSource {
	return copyRows(b.alerts, len(alertColumns), func(i int, a *synthAlert, v []any) {
		v[0], v[1], v[2], v[3], v[4], v[5], v[6] = base+int64(i)+1, a.Kind, a.Provider, a.PurchaseID, a.Message, a.Data, a.CreatedAt
	})
}

func (b *batch) balanceRows(base int64) pgx.CopyFromSource {
	return copyRows(b.balances, len(balanceColumns), func(i int, x *synthBalance, v []any) {
		v[0], v[1], v[2], v[3], v[4] = base+int64(i)+1, x.Provider, x.Balance, x.Source, x.ObservedAt
	})
}
