package flow

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/ppob-orchestrator/orchestrator/internal/providers"
	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

type lookupWorker struct {
	river.WorkerDefaults[lookupArgs]
	s *Service
}

// Work looks up a purchase's payment status once and carries out what
// afterLookup decides, in one transaction; the next lookup follows on
// invariant 10's schedule. A first run calls with the parameters its
// inserting transaction committed (the purchase was open then, and whatever
// ended it since cancelled this job); a retried run reads the purchase
// first. A regular lookup whose next one sends the same parameters snoozes
// itself rather than queue a new job.
func (w *lookupWorker) Work(ctx context.Context, job *river.Job[lookupArgs]) error {
	s := w.s
	call, ok, err := s.lookupInput(ctx, job)
	if err != nil || !ok {
		return err
	}
	setup, err := s.provider(call.Provider)
	if err != nil {
		return err
	}
	l := Lookup{Once: job.Args.Once, Looked: setup.Policy.CanLookup(call.RequestID)}
	if l.Looked {
		l.Answer = setup.Client.Lookup(ctx, providers.LookupRequest{
			Reference: call.Reference, TransactionID: call.TransactionID, RequestID: call.RequestID, CreatedAt: call.CreatedAt,
		})
		cleanStatus(&l.Answer)
	}

	var st Step
	err = inStep(ctx, s.pool, func(tx pgx.Tx, tl *timeline) error {
		q := store.New(tx)
		cur, err := q.PurchaseLock(ctx, job.Args.PurchaseID)
		if err != nil {
			return fmt.Errorf("lock purchase %s: %w", job.Args.PurchaseID, store.NotFound(err))
		}
		if err := tl.bind(cur); err != nil {
			return err
		}
		l.ProviderCode = cur.ProviderProductCode
		if err := s.recordAnswer(ctx, tx, tl, call.Provider, l.Answer.Result, l.Answer.Balance, "lookup"); err != nil {
			return err
		}
		switch {
		case job.Args.Check > 0:
			ended, err := q.PurchaseAttemptGet(ctx, store.PurchaseAttemptGetParams{PurchaseID: cur.ID, Number: job.Args.Check})
			if err != nil {
				return fmt.Errorf("attempt %d of %s: %w", job.Args.Check, cur.ID, err)
			}
			st = afterAttemptLookup(cur, ended, l, s.now())
		case stale(job.Args.Attempt, cur):
			st = Step{}
			return complete(ctx, tx, job)
		default:
			st = afterLookup(cur, l, s.now(), setup.Policy, s.rules)
			reuseJob(&st, job)
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

// lookupInput returns what the lookup call sends: the job's carried
// parameters on a first run, else the purchase's as read now. ok is false
// when the purchase no longer needs this lookup.
func (s *Service) lookupInput(ctx context.Context, job *river.Job[lookupArgs]) (lookupCall, bool, error) {
	if c := job.Args.Call; c != nil && (job.Attempt == 1 || job.Args.Check > 0) {
		return *c, true, nil
	}
	p, err := s.q.PurchaseGetByID(ctx, job.Args.PurchaseID)
	if err != nil {
		return lookupCall{}, false, fmt.Errorf("purchase %s: %w", job.Args.PurchaseID, store.NotFound(err))
	}
	if stale(job.Args.Attempt, p) {
		return lookupCall{}, false, nil
	}
	switch Status(p.Status) {
	case StatusProcessing, StatusNeedsReview:
	case StatusPaying:
		if !job.Args.Once {
			return lookupCall{}, false, nil
		}
	default:
		return lookupCall{}, false, nil
	}
	return *lookupFor(&p).Call, true, nil
}

// reuseJob turns the step's next regular lookup into a snooze of the
// running job when it would send the same parameters and the running job
// is a first run (a new job would cost an insert and a completion).
func reuseJob(st *Step, job *river.Job[lookupArgs]) {
	if job.Args.Once || job.Args.Check > 0 || job.Attempt > 1 {
		return
	}
	next := lookupFor(&st.Purchase)
	for i, j := range st.Jobs {
		if j.Kind == JobLookup && !j.Once && j.After > 0 && next.Call.same(job.Args.Call) {
			st.Jobs = append(st.Jobs[:i:i], st.Jobs[i+1:]...)
			st.Snooze = j.After
			return
		}
	}
}
