package flow

import (
	"context"

	"github.com/riverqueue/river"

	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

type sweepWorker struct {
	river.WorkerDefaults[sweepArgs]
	s *Service
}

// Work re-drives every open purchase whose step job has gone missing (a
// job discarded after too many errors, a lost insert): it inserts the job
// the status calls for (redrive in decide_sweep.go). Step jobs are unique
// while waiting or running, so for a purchase whose job exists the insert
// changes nothing.
func (w *sweepWorker) Work(ctx context.Context, _ *river.Job[sweepArgs]) error {
	_, err := w.s.Sweep(ctx)
	return err
}

// Sweep runs one pass of the sweeper and returns how many purchases it
// re-drove (jobs actually inserted).
func (s *Service) Sweep(ctx context.Context) (int, error) {
	now := s.now()
	groups := [][]string{
		{"received", "inquiring", "paying", "awaiting_confirmation"},
		{"processing"},
		{"needs_review"},
	}
	inserted := 0
	for _, statuses := range groups {
		idle := staleAfter(Status(statuses[0]), s.cfg.StaleAfter, s.rules)
		stale, err := s.q.PurchaseListStale(ctx, store.PurchaseListStaleParams{
			Statuses: statuses, Before: now.Add(-idle), RowLimit: 1000,
			ReviewFrom: reviewLookupsFrom(now, s.rules),
		})
		if err != nil {
			return inserted, err
		}
		for _, row := range stale {
			p := row.Purchase
			j, ok := redrive(p, row.Inquiry, now, s.rules)
			if !ok {
				continue
			}
			args, err := s.jobArgs(ctx, s.q, &p, j)
			if err != nil {
				return inserted, err
			}
			r, err := s.river.Insert(ctx, args, scheduleOpts(args, j.After))
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
