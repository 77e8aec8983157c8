package webhook

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

// cleanupArgs is the periodic cleanup job.
type cleanupArgs struct{}

// Kind is the River job kind.
func (cleanupArgs) Kind() string { return "webhook_cleanup" }

// InsertOpts puts the cleanup on the webhook queue.
func (cleanupArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{Queue: Queue} }

type cleanupWorker struct {
	river.WorkerDefaults[cleanupArgs]
	s *Service
}

// Work runs Cleanup.
func (w *cleanupWorker) Work(ctx context.Context, _ *river.Job[cleanupArgs]) error {
	_, err := w.s.Cleanup(ctx)
	return err
}

// CleanupResult says what a cleanup removed or queued again.
type CleanupResult struct {
	Messages  int64 // finished messages (with their attempts) past the retention
	Secrets   int64 // rotated secrets past their 24 hours
	Endpoints int64 // deleted endpoints no message refers to any more
	Requeued  int   // pending messages whose job was lost, queued again
}

// cleanupBatch bounds each delete, so no statement holds many locks long.
const cleanupBatch = 1000

// Cleanup removes what outlived WEBHOOK_RETENTION — finished messages and
// their attempts, then deleted endpoints nothing refers to — erases rotated
// secrets past their 24 hours, and queues again any pending message that
// was due ten minutes ago and has no live job (one lost or discarded), so
// that none is lost. The periodic cleanup job runs it.
func (s *Service) Cleanup(ctx context.Context) (CleanupResult, error) {
	var r CleanupResult
	now := s.now()
	cutoff := now.Add(-s.cfg.Retention)
	for {
		n, err := s.q.WebhookMessageDeleteExpired(ctx, store.WebhookMessageDeleteExpiredParams{Cutoff: &cutoff, RowLimit: cleanupBatch})
		if err != nil {
			return r, fmt.Errorf("webhook cleanup: messages: %w", err)
		}
		r.Messages += n
		if n < cleanupBatch {
			break
		}
	}
	var err error
	if r.Endpoints, err = s.q.WebhookEndpointDeleteExpired(ctx, &cutoff); err != nil {
		return r, fmt.Errorf("webhook cleanup: endpoints: %w", err)
	}
	secretCutoff := now.Add(-secretOverlap)
	if r.Secrets, err = s.q.WebhookSecretPruneExpired(ctx, &secretCutoff); err != nil {
		return r, fmt.Errorf("webhook cleanup: secrets: %w", err)
	}
	orphanCutoff := now.Add(-10 * time.Minute)
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		ids, err := store.New(tx).WebhookMessageOrphans(ctx, store.WebhookMessageOrphansParams{Cutoff: &orphanCutoff, RowLimit: cleanupBatch})
		if err != nil {
			return err
		}
		r.Requeued = len(ids)
		return s.queue(ctx, tx, ids)
	})
	if err != nil {
		return r, fmt.Errorf("webhook cleanup: requeue: %w", err)
	}
	if r != (CleanupResult{}) {
		s.log.Info("webhook cleanup", "messages", r.Messages, "secrets", r.Secrets, "endpoints", r.Endpoints, "requeued", r.Requeued)
	}
	return r, nil
}
