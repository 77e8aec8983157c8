package flow

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/ppob-orchestrator/orchestrator/internal/providers"
	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

type paymentWorker struct {
	river.WorkerDefaults[paymentArgs]
	s *Service
}

// Work makes a purchase's payment call — the first, or the sanctioned
// repeat — at most once per committed intent (invariants 2, 3, 4, 12): one
// transaction commits the intent (paymentIntent), the call goes out of any
// transaction, and one transaction records the answer (afterPayment).
func (w *paymentWorker) Work(ctx context.Context, job *river.Job[paymentArgs]) error {
	s := w.s
	p, offer, st, err := s.commitIntent(ctx, job)
	if err != nil || !st.Call {
		if err == nil {
			err = after(st)
		}
		return err
	}
	setup, err := s.provider(p.Provider)
	if err != nil {
		return err
	}
	ans := setup.Client.Pay(ctx, paymentRequest(&p, &offer))
	cleanPayment(&ans)

	var st2 Step
	err = inStep(ctx, s.pool, func(tx pgx.Tx, tl *timeline) error {
		// The lock, then the held callbacks, in one round trip: the read
		// runs once the lock is held, and sees every callback committed
		// before (store.Pipeline).
		var (
			cur     store.Purchase
			held    bool
			lockErr error
			heldErr error
		)
		err := store.Pipeline(ctx, tx, func(q *store.Queries) error {
			cur, lockErr = q.PurchaseLock(ctx, p.ID)
			held, heldErr = q.CallbackHeldFailure(ctx, store.CallbackHeldFailureParams{PurchaseID: p.ID, AuditSince: store.AuditSince(p.CreatedAt)})
			return errors.Join(lockErr, heldErr)
		})
		switch {
		case lockErr != nil:
			return fmt.Errorf("lock purchase %s: %w", p.ID, store.NotFound(lockErr))
		case heldErr != nil:
			return fmt.Errorf("held callbacks of %s: %w", p.ID, heldErr)
		case err != nil:
			return fmt.Errorf("lock purchase %s: %w", p.ID, err)
		}
		if err := tl.bind(cur); err != nil {
			return err
		}
		if err := s.recordCalls(ctx, tx, tl, p.Provider, ans.Result); err != nil {
			return err
		}
		if st2, err = s.decideRouted(ctx, tx, cur, func(next NextOffer) Step {
			return afterPayment(cur, ans, job.Args.Repeat, held, next, s.now(), setup.Policy, s.rules)
		}); err != nil {
			return err
		}
		// The job completes first: a job it queues may be unique with it.
		if err := finish(ctx, tx, job, st2); err != nil {
			return err
		}
		_, err = s.execute(ctx, tx, tl, cur, st2)
		return err
	})
	if err != nil {
		return err
	}
	return after(st2)
}

// commitIntent is the payment job's first transaction: it decides and
// commits the intent (or what to do instead) and returns the purchase and
// offer the call needs. A purchase still received (an offer without
// inquiry) needs its catalog price; a stale one is refreshed outside any
// transaction (a provider call), then the transaction runs again.
func (s *Service) commitIntent(ctx context.Context, job *river.Job[paymentArgs]) (store.Purchase, store.Offer, Step, error) {
	var (
		p     store.Purchase
		offer store.Offer
		st    Step
	)
	for refreshed := false; ; refreshed = true {
		err := inStep(ctx, s.pool, func(tx pgx.Tx, tl *timeline) error {
			q := store.New(tx)
			cur, err := q.PurchaseLock(ctx, job.Args.PurchaseID)
			if err != nil {
				return fmt.Errorf("lock purchase %s: %w", job.Args.PurchaseID, store.NotFound(err))
			}
			if stale(job.Args.Attempt, cur) {
				st = Step{}
				return complete(ctx, tx, job)
			}
			if offer, err = s.offer(ctx, q, cur); err != nil {
				return err
			}
			setup, err := s.provider(cur.Provider)
			if err != nil {
				return err
			}
			var cat Price
			if Status(cur.Status) == StatusReceived {
				if cat = s.priceOf(&offer); !cat.Fresh && !refreshed {
					return errStalePrice
				}
			}
			fresh := uuid.NewString()
			if st, err = s.decideRouted(ctx, tx, cur, func(next NextOffer) Step {
				return paymentIntent(cur, job.Args.Repeat, cat, fresh, next, s.now(), setup.Policy, s.rules)
			}); err != nil {
				return err
			}
			if !st.Call {
				// No call: the job ends (or snoozes) here, before any job
				// the step queues.
				if err := finish(ctx, tx, job, st); err != nil {
					return err
				}
			}
			p, err = s.execute(ctx, tx, tl, cur, st)
			return err
		})
		if !errors.Is(err, errStalePrice) {
			return p, offer, st, err
		}
		s.price(ctx, &offer)
	}
}

// errStalePrice rolls back a payment intent whose catalog price must be
// refreshed first.
var errStalePrice = errors.New("catalog price is stale")

// paymentRequest builds the payment call from the committed intent: always
// the same provider reference and amount.
func paymentRequest(p *store.Purchase, o *store.Offer) providers.PaymentRequest {
	return providers.PaymentRequest{
		Reference:      deref(p.ProviderReference),
		ProductCode:    o.ProviderProductCode,
		Family:         providers.Family(p.Family),
		CustomerNumber: deref(p.CustomerNumber), Phone: deref(p.Phone),
		UserID: deref(p.UserID), ZoneID: deref(p.ZoneID), Period: deref(p.Period),
		ItemCode:     deref(o.ItemCode),
		Amount:       deref(p.Amount),
		SellingPrice: sellingPrice(p, deref(p.Amount)),
		RequestID:    inquiryOf(p).RequestID,
	}
}
