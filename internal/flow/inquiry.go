package flow

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/ppob-orchestrator/orchestrator/internal/providers"
	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

type inquiryWorker struct {
	river.WorkerDefaults[inquiryArgs]
	s *Service
}

// Work runs one inquiry: it takes the call's parameters (carried by a
// first run's job; read otherwise), calls the provider outside any
// transaction, then in one transaction locks the purchase, records the call
// and carries out what afterInquiry decides. An inquiry moves no money, so
// nothing is committed before the call: a cancel during it wins, and the
// answer is then only recorded.
func (w *inquiryWorker) Work(ctx context.Context, job *river.Job[inquiryArgs]) error {
	s := w.s
	p, offer, ok, err := s.inquiryInput(ctx, job)
	if err != nil || !ok {
		return err
	}
	setup, err := s.provider(p.Provider)
	if err != nil {
		return err
	}
	cat := s.price(ctx, &offer)
	ref := p.ID.String()
	if setup.Policy.InquiryReference == providers.ReferenceRandom {
		ref = uuid.NewString() // a fresh one per inquiry, never the payment's (invariant 1)
	}
	ans := setup.Client.Inquiry(ctx, providers.InquiryRequest{
		ProductCode: offer.ProviderProductCode, Family: providers.Family(p.Family),
		CustomerNumber: deref(p.CustomerNumber), Phone: deref(p.Phone),
		UserID: deref(p.UserID), ZoneID: deref(p.ZoneID), Period: deref(p.Period),
		Amount: cat.Amount, SellingPrice: sellingPrice(&p, cat.Amount), Reference: ref,
	})
	cleanInquiry(&ans)

	var st Step
	err = inStep(ctx, s.pool, func(tx pgx.Tx, tl *timeline) error {
		cur, err := store.New(tx).PurchaseLock(ctx, p.ID)
		if err != nil {
			return fmt.Errorf("lock purchase %s: %w", p.ID, store.NotFound(err))
		}
		if err := tl.bind(cur); err != nil {
			return err
		}
		if err := s.recordAnswer(ctx, tx, tl, p.Provider, ans.Result, ans.Balance, "inquiry"); err != nil {
			return err
		}
		if stale(job.Args.Attempt, cur) {
			return complete(ctx, tx, job)
		}
		fresh := uuid.NewString()
		if st, err = s.decideRouted(ctx, tx, cur, func(next NextOffer) Step {
			return afterInquiry(cur, ans, cat, fresh, next, s.now(), setup.Policy, s.rules)
		}); err != nil {
			return err
		}
		// The job completes first: a job it queues may be unique with it.
		if err := finish(ctx, tx, job, st); err != nil {
			return err
		}
		_, err = s.execute(ctx, tx, tl, cur, st)
		return err
	})
	if err != nil {
		return err
	}
	return after(st)
}

// inquiryInput returns the purchase and offer an inquiry call needs: the
// job's carried parameters on a first run, else read (a retried or snoozed
// run, or a job the sweeper or a failover queued). ok is false when the
// purchase no longer awaits an inquiry of this attempt.
func (s *Service) inquiryInput(ctx context.Context, job *river.Job[inquiryArgs]) (store.Purchase, store.Offer, bool, error) {
	if c := job.Args.Call; c != nil && job.Attempt == 1 && !snoozed(job.JobRow) {
		return c.purchase(job.Args.PurchaseID, job.Args.Attempt), c.offer(), true, nil
	}
	p, err := s.q.PurchaseGetByID(ctx, job.Args.PurchaseID)
	if err != nil {
		return p, store.Offer{}, false, fmt.Errorf("purchase %s: %w", job.Args.PurchaseID, store.NotFound(err))
	}
	if st := Status(p.Status); (st != StatusReceived && st != StatusInquiring) || stale(job.Args.Attempt, p) {
		return p, store.Offer{}, false, nil
	}
	o, err := s.offer(ctx, s.q, p)
	return p, o, err == nil, err
}

// snoozed reports whether job ran before and snoozed (River keeps its
// attempt count, and counts snoozes in its metadata).
func snoozed(job *rivertype.JobRow) bool {
	var m struct {
		Snoozes int `json:"snoozes"`
	}
	_ = json.Unmarshal(job.Metadata, &m)
	return m.Snoozes > 0
}

// recordAnswer records a provider answer's calls in the purchase's
// timeline tl and the deposit it reported, if any.
func (s *Service) recordAnswer(ctx context.Context, tx pgx.Tx, tl *timeline, provider string, r providers.Result, balance *int64, source string) error {
	if err := s.recordCalls(ctx, tx, tl, provider, r); err != nil {
		return err
	}
	if balance != nil {
		return s.observeBalance(ctx, tx, provider, *balance, source)
	}
	return nil
}

func sellingPrice(p *store.Purchase, amount int64) int64 {
	if p.SellingPrice != nil && *p.SellingPrice > 0 {
		return *p.SellingPrice
	}
	return amount
}
