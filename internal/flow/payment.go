package flow

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/ppob-orchestrator/orchestrator/internal/providers"
	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

type paymentWorker struct {
	river.WorkerDefaults[paymentArgs]
	s *Service
}

// Work makes a purchase's payment call, once (flow.md invariants 2, 3, 4, 12):
//
//  1. One transaction commits the intent: the purchase in paying, its
//     provider reference fixed, the attempt counted and marked in flight.
//     A job that finds an attempt already in flight does NOT call: it
//     crashed mid-call or was delivered twice, so the outcome is unknown and
//     the purchase goes to processing, where lookups resolve it.
//  2. The call, outside any transaction.
//  3. One transaction records the answer and moves on.
func (w *paymentWorker) Work(ctx context.Context, job *river.Job[paymentArgs]) error {
	s := w.s
	id := job.Args.PurchaseID

	// A product without inquiry arrives here in received: its price comes
	// from the catalog, read in the intent's transaction. A stale price is
	// refreshed outside any transaction (a provider call), then the intent's
	// transaction runs again and takes the price it finds.
	var (
		p       store.Purchase
		product store.Product
		done    bool
		err     error
	)
	for refreshed := false; ; refreshed = true {
		err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			cur, err := store.New(tx).PurchaseLock(ctx, id)
			if err != nil {
				return fmt.Errorf("purchase %s: %w", id, store.NotFound(err))
			}
			if product, err = store.New(tx).ProductGet(ctx, cur.ProductCode); err != nil {
				return fmt.Errorf("product %s: %w", cur.ProductCode, store.NotFound(err))
			}
			var catalogPrice int64
			if Status(cur.Status) == StatusReceived {
				if !refreshed && !s.priceFresh(&product) {
					return errStalePrice
				}
				catalogPrice = s.priceOf(&product)
			}
			p, done, err = s.paymentIntent(ctx, tx, job, cur, catalogPrice)
			return err
		})
		if !errors.Is(err, errStalePrice) {
			break
		}
		s.catalogPrice(ctx, &product)
	}
	if err != nil || done {
		return err
	}
	return s.pay(ctx, job, p, &product)
}

// errStalePrice rolls back a payment intent whose catalog price must be
// refreshed first.
var errStalePrice = errors.New("catalog price is stale")

// paymentIntent is the payment job's first transaction: it commits the
// intent (or, for a purchase that moved on or whose attempt is already in
// flight, what to do instead). done reports that the job ended here.
func (s *Service) paymentIntent(ctx context.Context, tx pgx.Tx, job *river.Job[paymentArgs], cur store.Purchase, catalogPrice int64) (store.Purchase, bool, error) {
	intent := func(p *store.Purchase) {
		p.PaymentAttempts++
		p.PaymentInFlight = true
		p.PaymentLastSentAt = ptr(s.now())
		p.NotFoundStreak = 0
	}
	switch {
	case Status(cur.Status) == StatusReceived:
		if catalogPrice <= 0 && cur.MaxPrice == nil {
			if _, err := s.apply(ctx, tx, cur, failWith("product_unavailable", "the catalog has no price for "+cur.ProductCode)); err != nil {
				return cur, true, err
			}
			return cur, true, complete(ctx, tx, job)
		}
		if reason := priceGuard(cur.MaxPrice, catalogPrice, 0, catalogPrice); reason != "" {
			if _, err := s.apply(ctx, tx, cur, failWith("price_exceeds_max", reason)); err != nil {
				return cur, true, err
			}
			return cur, true, complete(ctx, tx, job)
		}
		p, err := s.apply(ctx, tx, cur, change{event: EventPay, mutate: func(p *store.Purchase) {
			s.fixPayment(p, catalogPrice)
			intent(p)
		}})
		return p, false, err
	case Status(cur.Status) == StatusPaying && cur.PaymentInFlight:
		// Invariant 2: an attempt was committed and never recorded.
		p, err := s.apply(ctx, tx, cur, change{event: EventPaymentPending, name: "payment_outcome_unknown",
			data: map[string]any{"why": "a payment job found its attempt already in flight (crash or duplicate delivery); not calling again"},
			mutate: func(p *store.Purchase) {
				p.PaymentInFlight = false
				p.PaymentUncertain = true
			}})
		if err != nil {
			return p, true, err
		}
		if err := s.insertAfter(ctx, tx, lookupFor(&p), s.cfg.LookupBackoff[0]); err != nil {
			return p, true, err
		}
		return p, true, complete(ctx, tx, job)
	case Status(cur.Status) == StatusPaying:
		p, err := s.apply(ctx, tx, cur, change{mutate: intent})
		return p, false, err
	default:
		// Moved on already (a signed callback, a cancel before paying).
		return cur, true, complete(ctx, tx, job)
	}
}

// pay makes the payment call whose intent p holds, outside any
// transaction, then records the answer and moves on in one transaction.
func (s *Service) pay(ctx context.Context, job *river.Job[paymentArgs], p store.Purchase, product *store.Product) error {
	id := p.ID
	prov, _, err := s.provider(p.Provider)
	if err != nil {
		return err
	}
	res := prov.Pay(ctx, s.paymentRequest(&p, product))

	var snooze time.Duration
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		cur, err := store.New(tx).PurchaseLock(ctx, id)
		if err != nil {
			return err
		}
		if err := s.recordCalls(ctx, tx, &cur, p.Provider, res.Result); err != nil {
			return err
		}
		if Status(cur.Status) != StatusPaying || !cur.PaymentInFlight {
			// A signed callback completed it while the call was in flight.
			_, err = river.JobCompleteTx[*riverDriver](ctx, tx, job)
			return err
		}
		learn := func(p *store.Purchase) {
			p.PaymentInFlight = false
			if res.TransactionID != "" {
				p.ProviderTransactionID = ptr(res.TransactionID)
			}
			if res.RequestID != "" && p.ProviderRequestID == nil {
				p.ProviderRequestID = ptr(res.RequestID)
			}
		}
		toProcessing := func(uncertain bool, name string) error {
			p, err := s.apply(ctx, tx, cur, change{event: EventPaymentPending, name: name,
				data: map[string]any{"outcome": res.Outcome, "code": lastCode(res.Result)},
				mutate: func(p *store.Purchase) {
					learn(p)
					p.PaymentUncertain = p.PaymentUncertain || uncertain
				}})
			if err != nil {
				return err
			}
			return s.insertAfter(ctx, tx, lookupFor(&p), s.cfg.LookupBackoff[0])
		}
		switch res.Outcome {
		case providers.Succeeded:
			if cur, err = s.apply(ctx, tx, cur, change{mutate: learn}); err != nil {
				return err
			}
			var completed bool
			if cur, completed, err = s.succeed(ctx, tx, cur, res.Status, "payment answer"); err == nil && !completed {
				// A PLN success without its token is not done (invariant 11).
				err = toProcessing(false, "success_without_token")
			}
		case providers.Pending:
			err = toProcessing(true, "payment_accepted")
		case providers.Failed:
			if cur.PaymentUncertain {
				// Not the first call to reach the provider: a rejection
				// proves only this call moved no money (invariant 4).
				err = toProcessing(true, "payment_repeat_rejected")
				break
			}
			_, err = s.apply(ctx, tx, cur, change{event: EventFail, data: map[string]any{"failure_code": res.Reason, "code": lastCode(res.Result)},
				mutate: func(p *store.Purchase) {
					learn(p)
					p.FailureCode, p.FailureMessage = ptr(string(res.Reason)), ptr(res.Detail)
				}})
			if err == nil && res.Reason == providers.ReasonInsufficientBal {
				err = s.alert(ctx, tx, "insufficient_balance", p.Provider, &cur, "provider reports insufficient deposit", nil)
			}
		case providers.Rejected:
			// Invariant 12: refused before anything happened. Back off and
			// retry; fail only at the deadline if every call was refused.
			if err = s.alert(ctx, tx, "provider_refused", p.Provider, &cur,
				fmt.Sprintf("%s refused a payment: %s", p.Provider, res.Reason), map[string]any{"reason": res.Reason}); err != nil {
				return err
			}
			if !cur.PaymentUncertain && cur.DeadlineAt != nil && s.now().After(*cur.DeadlineAt) {
				_, err = s.apply(ctx, tx, cur, change{event: EventFail, mutate: func(p *store.Purchase) {
					learn(p)
					p.FailureCode = ptr("provider_rejected")
					p.FailureMessage = ptr("the provider refused every payment call until the deadline: " + string(res.Reason))
				}})
				break
			}
			_, err = s.apply(ctx, tx, cur, change{mutate: learn})
			if err == nil {
				snooze = backoff(s.cfg.StepBackoff, s.cfg.StepBackoffMax, int(cur.PaymentAttempts))
				return nil
			}
		default:
			// Unknown (timeout, connection error, 5xx, unreadable): money
			// may have moved. Never failed: processing (invariant 3).
			err = toProcessing(true, "payment_outcome_unknown")
		}
		if err != nil {
			return err
		}
		_, err = river.JobCompleteTx[*riverDriver](ctx, tx, job)
		return err
	})
	if err != nil {
		return err
	}
	if snooze > 0 {
		return river.JobSnooze(snooze)
	}
	return nil
}

// paymentRequest builds the payment call from the committed intent: always
// the same provider reference and amount.
func (s *Service) paymentRequest(p *store.Purchase, product *store.Product) providers.PaymentRequest {
	return providers.PaymentRequest{
		Reference:      deref(p.ProviderReference),
		ProductCode:    product.ProviderProductCode,
		Family:         providers.Family(product.Family),
		CustomerNumber: deref(p.CustomerNumber), Phone: deref(p.Phone),
		UserID: deref(p.UserID), ZoneID: deref(p.ZoneID), Period: deref(p.Period),
		ItemCode:     deref(product.ItemCode),
		Amount:       deref(p.Amount),
		SellingPrice: sellingPrice(p, deref(p.Amount)),
		RequestID:    inquiryOf(p).RequestID,
	}
}

func lastCode(r providers.Result) string {
	if len(r.Calls) == 0 {
		return ""
	}
	return r.Calls[len(r.Calls)-1].Code
}
