package flow

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

// stepUnique makes a purchase's step job unique while it is waiting or
// running, so the sweeper (or a duplicate insert) never runs a step twice at
// once. Completed jobs do not count: a step may be driven again later.
var stepUnique = river.UniqueOpts{
	ByArgs: true,
	ByState: []rivertype.JobState{
		rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning,
		rivertype.JobStateRetryable, rivertype.JobStateScheduled,
	},
}

// Every step job carries the purchase's attempt it was queued for
// (Attempt; 0 in jobs queued before routing, meaning the current one): a
// job for an attempt the purchase moved on from completes and does nothing.

// inquiryArgs runs a purchase's inquiry. Call carries the call's
// parameters as the creating transaction committed them, so a first run
// (attempt 1) calls without a transaction of its own before the call: it
// moves the purchase received → inquiring in the transaction that records
// the answer. Retried runs, and jobs the sweeper or a failover inserts,
// have no Call or are not first: they read first. Uniqueness is by
// purchase only.
type inquiryArgs struct {
	PurchaseID uuid.UUID    `json:"purchase_id" river:"unique"`
	Attempt    int32        `json:"attempt,omitempty"`
	Call       *inquiryCall `json:"call,omitempty"`
}

// inquiryCall is what an inquiry sends, as of the purchase's creation: the
// purchase's customer fields and its offer's provider code, family and
// catalog price.
type inquiryCall struct {
	Provider       string    `json:"provider"`
	ProductCode    string    `json:"product_code"`
	ProviderCode   string    `json:"provider_product_code"`
	ItemCode       string    `json:"item_code,omitempty"`
	Family         string    `json:"family"`
	CustomerNumber string    `json:"customer_number,omitempty"`
	Phone          string    `json:"phone,omitempty"`
	UserID         string    `json:"user_id,omitempty"`
	ZoneID         string    `json:"zone_id,omitempty"`
	Period         string    `json:"period,omitempty"`
	SellingPrice   *int64    `json:"selling_price,omitempty"`
	Price          *int64    `json:"price,omitempty"`
	PriceFetchedAt time.Time `json:"price_fetched_at"`
}

// inquiryFor is the first inquiry job of p at offer o.
func inquiryFor(p *store.Purchase, o *store.Offer) inquiryArgs {
	return inquiryArgs{PurchaseID: p.ID, Attempt: p.Attempt, Call: &inquiryCall{
		Provider: p.Provider, ProductCode: p.ProductCode, ProviderCode: o.ProviderProductCode, ItemCode: deref(o.ItemCode),
		Family: p.Family, CustomerNumber: deref(p.CustomerNumber), Phone: deref(p.Phone),
		UserID: deref(p.UserID), ZoneID: deref(p.ZoneID), Period: deref(p.Period),
		SellingPrice: p.SellingPrice, Price: o.Price, PriceFetchedAt: deref(o.PriceFetchedAt),
	}}
}

// purchase and offer are the parts of a received purchase and its offer
// that the inquiry call needs.
func (c *inquiryCall) purchase(id uuid.UUID, attempt int32) store.Purchase {
	return store.Purchase{
		ID: id, Status: store.PurchaseStatus(StatusReceived), Provider: c.Provider, ProductCode: c.ProductCode,
		ProviderProductCode: c.ProviderCode, Family: c.Family, CustomerNumber: nonEmpty(c.CustomerNumber),
		Phone: nonEmpty(c.Phone), UserID: nonEmpty(c.UserID), ZoneID: nonEmpty(c.ZoneID), Period: nonEmpty(c.Period),
		SellingPrice: c.SellingPrice, Attempt: max(attempt, 1),
	}
}

func (c *inquiryCall) offer() store.Offer {
	o := store.Offer{
		ProductCode: c.ProductCode, Provider: c.Provider, ProviderProductCode: c.ProviderCode,
		ItemCode: nonEmpty(c.ItemCode), Price: c.Price,
	}
	if !c.PriceFetchedAt.IsZero() {
		o.PriceFetchedAt = &c.PriceFetchedAt
	}
	return o
}

func (inquiryArgs) Kind() string { return "purchase_inquiry" }
func (inquiryArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: stepUnique}
}

// paymentArgs makes a purchase's payment call: its first (Repeat 0), or
// the sanctioned repeat that is its payment attempt number Repeat
// (invariant 3). One job kind pays, so only one place calls a provider's
// payment. Uniqueness is by purchase and Repeat.
type paymentArgs struct {
	PurchaseID uuid.UUID `json:"purchase_id"`
	Attempt    int32     `json:"attempt,omitempty"`
	Repeat     int       `json:"repeat,omitempty"`
}

func (paymentArgs) Kind() string { return "purchase_payment" }
func (paymentArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: stepUnique}
}

// lookupArgs polls a purchase's status until it is resolved. Once marks a
// single lookup triggered by an unauthenticated callback: it applies only an
// answer that carries our reference, product and amount, and never repeats
// a payment. Check, when set, is an attempt the purchase moved on from whose
// payment is looked up again (docs/routing.md): only a SUCCESS for it
// matters. Call carries the call's parameters as the inserting transaction
// committed them, so a first run (attempt 1) calls without reading the
// purchase first; a purchase that ends another way cancels its waiting
// lookups in that transaction (cancelLookups). Uniqueness is by purchase,
// Once and Check.
type lookupArgs struct {
	PurchaseID uuid.UUID   `json:"purchase_id" river:"unique"`
	Once       bool        `json:"once,omitempty" river:"unique"`
	Check      int32       `json:"check,omitempty" river:"unique"`
	Attempt    int32       `json:"attempt,omitempty"`
	Call       *lookupCall `json:"call,omitempty"`
}

// lookupCall is what a status lookup sends, as of the job's insert.
type lookupCall struct {
	Provider      string    `json:"provider"`
	Reference     string    `json:"reference,omitempty"`
	TransactionID string    `json:"transaction_id,omitempty"`
	RequestID     string    `json:"request_id,omitempty"`
	CreatedAt     time.Time `json:"created_at"`
}

// lookupFor is the regular lookup job of p's current attempt, with its
// current parameters.
func lookupFor(p *store.Purchase) lookupArgs {
	return lookupArgs{PurchaseID: p.ID, Attempt: p.Attempt, Call: &lookupCall{
		Provider: p.Provider, Reference: deref(p.ProviderReference), TransactionID: deref(p.ProviderTransactionID),
		RequestID: deref(p.ProviderRequestID), CreatedAt: p.CreatedAt,
	}}
}

// checkFor is the lookup of an attempt of p that p moved on from.
func checkFor(p *store.Purchase, a *EndedAttempt) lookupArgs {
	return lookupArgs{PurchaseID: p.ID, Attempt: p.Attempt, Check: a.Number, Call: &lookupCall{
		Provider: a.Provider, Reference: deref(a.ProviderReference), TransactionID: deref(a.ProviderTransactionID),
		RequestID: deref(a.ProviderRequestID), CreatedAt: p.CreatedAt,
	}}
}

// same reports whether two calls send the same parameters.
func (c *lookupCall) same(o *lookupCall) bool {
	return c != nil && o != nil && c.Provider == o.Provider && c.Reference == o.Reference &&
		c.TransactionID == o.TransactionID && c.RequestID == o.RequestID && c.CreatedAt.Equal(o.CreatedAt)
}

// cancelLookups cancels p's lookup jobs, in the transaction that ends p
// another way than by its lookup (a callback, an operator's resolution, a
// single callback-triggered lookup): a lookup that woke for an ended
// purchase would call the provider for nothing. A lookup running meanwhile
// (mid-call, or snoozing: River records a snooze after the job's own
// transaction) is marked, so it finishes or is cancelled instead of
// scheduled again; the lookup that ended p completed in this transaction.
//
// It writes River's table itself (LookupJobsCancel) instead of calling
// JobCancelTx per job: that call notifies River's control channel for every
// job, and each notification costs every listening connection a transaction
// of its own — about one commit per purchase, for an interruption of
// running jobs we never want.
func (s *Service) cancelLookups(ctx context.Context, tx pgx.Tx, id uuid.UUID) error {
	if _, err := store.New(tx).LookupJobsCancel(ctx, store.LookupJobsCancelParams{Now: s.now(), PurchaseID: id.String()}); err != nil {
		return fmt.Errorf("cancel lookups of %s: %w", id, err)
	}
	return nil
}

func (lookupArgs) Kind() string { return "purchase_lookup" }
func (lookupArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: stepUnique}
}

// expireArgs fails a purchase still awaiting confirmation at its expiry.
type expireArgs struct {
	PurchaseID uuid.UUID `json:"purchase_id"`
	Attempt    int32     `json:"attempt,omitempty"`
}

func (expireArgs) Kind() string { return "purchase_expire" }
func (expireArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: stepUnique}
}

// sweepArgs re-drives purchases whose job has gone missing.
type sweepArgs struct{}

func (sweepArgs) Kind() string { return "sweep" }

// catalogArgs refreshes the catalog's prices from each provider.
type catalogArgs struct{}

func (catalogArgs) Kind() string { return "catalog_refresh" }

// balanceArgs reads each provider's deposit.
type balanceArgs struct{}

func (balanceArgs) Kind() string { return "balance_check" }

// insertAfter inserts args in tx, to run after delay (now if not positive).
// Delays, not instants: River schedules on the real clock, the flow decides
// on its injected one.
func (s *Service) insertAfter(ctx context.Context, tx pgx.Tx, args river.JobArgs, delay time.Duration) error {
	_, err := s.river.InsertTx(ctx, tx, args, scheduleOpts(args, delay))
	return err
}

// riverSchedulerInterval is how often River's scheduler makes scheduled
// jobs available, looking as far ahead (River's JobScheduler; the client
// has no setting for it).
const riverSchedulerInterval = 5 * time.Second

// dueSoon inserts a job due sooner than riverSchedulerInterval available,
// its scheduled_at in the future, instead of scheduled: River fetches only
// jobs whose scheduled_at has passed, so it runs at the first fetch after
// it is due (a STEP_FETCH_INTERVAL late at most). Scheduled, it would wait
// for the scheduler's next run, up to 5 s late. River does the same with
// short snoozes and retries. Longer delays stay scheduled: the scheduler's
// look-ahead makes them available before they are due, and fetches do not
// wade through them meanwhile.
var dueSoon = river.HookInsertBeginFunc(func(_ context.Context, p *rivertype.JobInsertParams) error {
	if p.State == rivertype.JobStateScheduled && p.ScheduledAt != nil && time.Until(*p.ScheduledAt) < riverSchedulerInterval {
		p.State = rivertype.JobStateAvailable
	}
	return nil
})

func scheduleOpts(args river.JobArgs, delay time.Duration) *river.InsertOpts {
	if delay <= 0 {
		return nil
	}
	o := args.(river.JobArgsWithInsertOpts).InsertOpts()
	o.ScheduledAt = time.Now().Add(delay)
	return &o
}
