package recon

import (
	"time"

	"github.com/google/uuid"

	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

// The row types below repeat, field for field, the rows the store returns
// for each view (internal/store/queries/recon.sql), with JSON names. Ages are
// whole seconds.

// Stuck is an open purchase past the time it should have moved (recon_stuck).
type Stuck struct {
	PurchaseID        uuid.UUID            `json:"purchase_id"`
	ClientID          uuid.UUID            `json:"client_id"`
	ReferenceID       string               `json:"reference_id"`
	Provider          string               `json:"provider"`
	ProductCode       string               `json:"product_code"`
	Status            store.PurchaseStatus `json:"status"`
	CreatedAt         time.Time            `json:"created_at"`
	UpdatedAt         time.Time            `json:"updated_at"`
	DueAt             time.Time            `json:"due_at"`
	OverdueSeconds    int64                `json:"overdue_seconds"`
	PaymentAttempts   int32                `json:"payment_attempts"`
	PaymentInFlight   bool                 `json:"payment_in_flight"`
	ProviderReference *string              `json:"provider_reference"`
}

// Review is a purchase in needs_review (recon_needs_review).
type Review struct {
	PurchaseID            uuid.UUID  `json:"purchase_id"`
	ClientID              uuid.UUID  `json:"client_id"`
	ReferenceID           string     `json:"reference_id"`
	Provider              string     `json:"provider"`
	ProductCode           string     `json:"product_code"`
	Amount                *int64     `json:"amount"`
	ProviderReference     *string    `json:"provider_reference"`
	ProviderRequestID     *string    `json:"provider_request_id"`
	ProviderTransactionID *string    `json:"provider_transaction_id"`
	PaymentAttempts       int32      `json:"payment_attempts"`
	Lookups               int32      `json:"lookups"`
	CreatedAt             time.Time  `json:"created_at"`
	DeadlineAt            *time.Time `json:"deadline_at"`
	ReviewSince           time.Time  `json:"review_since"`
	WaitingSeconds        int64      `json:"waiting_seconds"`
}

// Contradiction is a terminal purchase a provider report contradicted
// (recon_contradictions): Reports contradicting reports, Reported the
// outcomes they claimed.
type Contradiction struct {
	PurchaseID        uuid.UUID            `json:"purchase_id"`
	ClientID          uuid.UUID            `json:"client_id"`
	ReferenceID       string               `json:"reference_id"`
	Provider          string               `json:"provider"`
	ProductCode       string               `json:"product_code"`
	ProviderReference *string              `json:"provider_reference"`
	Status            store.PurchaseStatus `json:"status"`
	Price             *int64               `json:"price"`
	CompletedAt       *time.Time           `json:"completed_at"`
	Reports           int64                `json:"reports"`
	Reported          string               `json:"reported"`
	FirstReportedAt   time.Time            `json:"first_reported_at"`
	LastReportedAt    time.Time            `json:"last_reported_at"`
	AlertMessage      string               `json:"alert_message"`
}

// DoublePayment is a provider reference with more than one accepted payment
// call (recon_double_payments). The purchase fields are nil when no purchase
// holds the reference.
type DoublePayment struct {
	Provider          string                `json:"provider"`
	ProviderReference string                `json:"provider_reference"`
	PurchaseID        *uuid.UUID            `json:"purchase_id"`
	ClientID          *uuid.UUID            `json:"client_id"`
	ReferenceID       *string               `json:"reference_id"`
	ProductCode       *string               `json:"product_code"`
	Status            *store.PurchaseStatus `json:"status"`
	AcceptedCalls     int64                 `json:"accepted_calls"`
	Codes             string                `json:"codes"`
	FirstAcceptedAt   time.Time             `json:"first_accepted_at"`
	LastAcceptedAt    time.Time             `json:"last_accepted_at"`
}

// PriceAboveMax is a success above the client's max_price (recon_price_above_max).
type PriceAboveMax struct {
	PurchaseID  uuid.UUID  `json:"purchase_id"`
	ClientID    uuid.UUID  `json:"client_id"`
	ReferenceID string     `json:"reference_id"`
	Provider    string     `json:"provider"`
	ProductCode string     `json:"product_code"`
	MaxPrice    *int64     `json:"max_price"`
	Amount      *int64     `json:"amount"`
	Price       *int64     `json:"price"`
	Excess      int64      `json:"excess"`
	CompletedAt *time.Time `json:"completed_at"`
}

// PriceMismatch is a success whose price (what the provider reports it
// deducted) differs from amount (what we sent) (recon_price_mismatch).
type PriceMismatch struct {
	PurchaseID  uuid.UUID  `json:"purchase_id"`
	ClientID    uuid.UUID  `json:"client_id"`
	ReferenceID string     `json:"reference_id"`
	Provider    string     `json:"provider"`
	ProductCode string     `json:"product_code"`
	Amount      *int64     `json:"amount"`
	Price       *int64     `json:"price"`
	Difference  int64      `json:"difference"`
	CompletedAt *time.Time `json:"completed_at"`
}

// UnmatchedCallback is a callback that matched no purchase
// (recon_unmatched_callbacks); Body is its first 1000 characters.
type UnmatchedCallback struct {
	CallbackID    int64     `json:"callback_id"`
	Provider      string    `json:"provider"`
	Reference     *string   `json:"reference"`
	Action        string    `json:"action"`
	Authenticated bool      `json:"authenticated"`
	ReceivedAt    time.Time `json:"received_at"`
	Body          string    `json:"body"`
}

// WebhookFailure is a webhook delivery that ran out of retries: the client
// was never told of that status change (recon_webhook_failures).
type WebhookFailure struct {
	MessageID   uuid.UUID `json:"message_id"`
	EndpointID  uuid.UUID `json:"endpoint_id"`
	ClientID    uuid.UUID `json:"client_id"`
	PurchaseID  uuid.UUID `json:"purchase_id"`
	ReferenceID string    `json:"reference_id"`
	EventType   string    `json:"event_type"`
	Seq         int32     `json:"seq"`
	Attempts    int32     `json:"attempts"`
	CreatedAt   time.Time `json:"created_at"`
	FailedAt    time.Time `json:"failed_at"`
	LastStatus  *int32    `json:"last_http_status"`
	LastError   string    `json:"last_error"`
}

// MultipleSuccess is a purchase more than one provider reported
// successful: a SUCCESS for an attempt it moved on from, heard after the
// current attempt paid (recon_multiple_successes). It must never happen.
type MultipleSuccess struct {
	PurchaseID       uuid.UUID `json:"purchase_id"`
	ClientID         uuid.UUID `json:"client_id"`
	ReferenceID      string    `json:"reference_id"`
	ProductCode      string    `json:"product_code"`
	Status           string    `json:"status"`
	CurrentProvider  string    `json:"current_provider"`
	EarlierAttempt   int32     `json:"earlier_attempt"`
	EarlierProvider  string    `json:"earlier_provider"`
	EarlierReference *string   `json:"earlier_reference"`
	ReportedAt       time.Time `json:"reported_at"`
}

// Failovers counts the failovers of an Asia/Jakarta day from a provider,
// by reason (recon_failovers).
type Failovers struct {
	Day       string `json:"day"`
	Provider  string `json:"provider"`
	Reason    string `json:"reason"`
	Failovers int64  `json:"failovers"`
}

// Alert is an operator alert without a section of its own (recon_alerts).
type Alert struct {
	AlertID        int64                 `json:"alert_id"`
	Kind           string                `json:"kind"`
	Provider       *string               `json:"provider"`
	PurchaseID     *uuid.UUID            `json:"purchase_id"`
	ReferenceID    *string               `json:"reference_id"`
	PurchaseStatus *store.PurchaseStatus `json:"purchase_status"`
	Message        string                `json:"message"`
	CreatedAt      time.Time             `json:"created_at"`
}

// DailyTotal is one Asia/Jakarta day's successes of one product
// (recon_daily_totals): PriceTotal is our cost; SellingTotal and Margin are
// over the WithSellingPrice rows that carry a selling price.
type DailyTotal struct {
	Day              string `json:"day"`
	Provider         string `json:"provider"`
	ProductCode      string `json:"product_code"`
	Succeeded        int64  `json:"succeeded"`
	PriceTotal       int64  `json:"price_total"`
	WithSellingPrice int64  `json:"with_selling_price"`
	SellingTotal     int64  `json:"selling_total"`
	Margin           int64  `json:"margin"`
}

// DailyBalance is one provider's observed deposit over one Asia/Jakarta day
// (recon_daily_balance).
type DailyBalance struct {
	Day             string    `json:"day"`
	Provider        string    `json:"provider"`
	Observations    int64     `json:"observations"`
	FirstObservedAt time.Time `json:"first_observed_at"`
	LastObservedAt  time.Time `json:"last_observed_at"`
	FirstBalance    int64     `json:"first_balance"`
	LastBalance     int64     `json:"last_balance"`
	Movement        int64     `json:"movement"`
}
