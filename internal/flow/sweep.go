package flow

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

type expireWorker struct {
	river.WorkerDefaults[expireArgs]
	s *Service
}

// Work fails a purchase still awaiting confirmation at its expiry with
// inquiry_expired.
func (w *expireWorker) Work(ctx context.Context, job *river.Job[expireArgs]) error {
	s := w.s
	var wait time.Duration
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		c, err := store.New(tx).PurchaseLock(ctx, job.Args.PurchaseID)
		if err != nil {
			return store.NotFound(err)
		}
		if Status(c.Status) != StatusAwaitingConfirmation {
			return complete(ctx, tx, job)
		}
		if c.ExpiresAt != nil && s.now().Before(*c.ExpiresAt) {
			wait = c.ExpiresAt.Sub(s.now())
			return nil
		}
		if _, err := s.expire(ctx, tx, c); err != nil {
			return err
		}
		return complete(ctx, tx, job)
	})
	if err != nil {
		return err
	}
	if wait > 0 {
		return river.JobSnooze(wait)
	}
	return nil
}

func (s *Service) expire(ctx context.Context, tx pgx.Tx, c store.Purchase) (store.Purchase, error) {
	return s.apply(ctx, tx, c, change{event: EventExpire, mutate: func(p *store.Purchase) {
		p.FailureCode = ptr("inquiry_expired")
		p.FailureMessage = ptr("not confirmed within INQUIRY_TTL")
	}})
}

type sweepWorker struct {
	river.WorkerDefaults[sweepArgs]
	s *Service
}

// Work re-drives every open purchase whose step job has gone missing (a
// job discarded after too many errors, a lost insert): it inserts the job
// the status calls for. Step jobs are unique while waiting or running, so
// for a purchase whose job exists the insert changes nothing. A re-driven
// paying purchase obeys invariant 2 like any other.
func (w *sweepWorker) Work(ctx context.Context, _ *river.Job[sweepArgs]) error {
	_, err := w.s.Sweep(ctx)
	return err
}

// Sweep runs one pass of the sweeper and returns how many purchases it
// re-drove (jobs actually inserted).
func (s *Service) Sweep(ctx context.Context) (int, error) {
	now := s.now()
	// How long each status may go untouched before its job is suspect: a
	// processing purchase is looked up at least every 15 minutes, a
	// needs_review one hourly.
	groups := []struct {
		statuses []string
		idle     time.Duration
	}{
		{[]string{"received", "inquiring", "paying", "awaiting_confirmation"}, s.cfg.StaleAfter},
		{[]string{"processing"}, s.cfg.StaleAfter + maxDuration(s.cfg.LookupBackoff)},
		{[]string{"needs_review"}, s.cfg.StaleAfter + s.cfg.ReviewLookupEvery},
	}
	inserted := 0
	for _, g := range groups {
		stale, err := s.q.PurchaseListStale(ctx, store.PurchaseListStaleParams{
			Statuses: g.statuses, Before: now.Add(-g.idle), RowLimit: 1000,
		})
		if err != nil {
			return inserted, err
		}
		for _, p := range stale {
			args, delay := s.stepFor(&p)
			if args == nil {
				continue
			}
			r, err := s.river.Insert(ctx, args, scheduleOpts(args, delay))
			if err != nil {
				return inserted, err
			}
			if !r.UniqueSkippedAsDuplicate {
				inserted++
				s.log.Warn("sweeper re-drove a purchase whose job was missing", "purchase_id", p.ID, "status", p.Status, "job", args.Kind())
			}
		}
	}
	return inserted, nil
}

// stepFor returns the job an open purchase's status calls for, and how long
// to wait before it runs.
func (s *Service) stepFor(p *store.Purchase) (river.JobArgs, time.Duration) {
	switch Status(p.Status) {
	case StatusReceived:
		product, err := s.q.ProductGet(context.Background(), p.ProductCode)
		if err == nil && product.Inquiry == "none" {
			return paymentArgs{PurchaseID: p.ID}, 0
		}
		return inquiryArgs{PurchaseID: p.ID}, 0
	case StatusInquiring:
		return inquiryArgs{PurchaseID: p.ID}, 0
	case StatusPaying:
		return paymentArgs{PurchaseID: p.ID}, 0
	case StatusAwaitingConfirmation:
		return expireArgs{PurchaseID: p.ID}, deref(p.ExpiresAt).Sub(s.now())
	case StatusProcessing:
		return lookupFor(p), 0
	case StatusNeedsReview:
		if p.DeadlineAt != nil && s.now().After(p.DeadlineAt.Add(s.cfg.ReviewLookupFor)) {
			return nil, 0
		}
		return lookupFor(p), 0
	}
	return nil, 0
}

func maxDuration(ds []time.Duration) time.Duration {
	var m time.Duration
	for _, d := range ds {
		m = max(m, d)
	}
	return m
}
