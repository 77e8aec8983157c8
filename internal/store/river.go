package store

import (
	"context"
	"time"
)

// CompleteJob completes the running River job id in tx, atomic with the
// work done in it, as River's JobCompleteTx would (JobCompleteRunning says
// what it writes and why), finalized now. Output a worker recorded with
// river.RecordOutput is merged by River's completer when the worker
// returns: that report merges metadata whatever the job's state.
func CompleteJob(ctx context.Context, tx DBTX, id int64) error {
	_, err := New(tx).JobCompleteRunning(ctx, JobCompleteRunningParams{ID: id, Now: time.Now().UTC()})
	return err
}
