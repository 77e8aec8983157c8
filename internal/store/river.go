package store

import (
	"context"
	"time"
)

// CompleteJob completes the running River job id in tx, atomic with the
// work done in it: what River's JobCompleteTx writes for a job whose work
// recorded no output (state 'completed', finalized_at now; attempt, errors,
// metadata and scheduled_at unchanged), as one update by primary key
// (JobCompleteRunning). A job that is no longer running is left alone, as
// JobCompleteTx leaves it. River's completer still reports the job once its
// worker returns and finds it completed; output a worker recorded with
// river.RecordOutput is merged by that report, which merges metadata
// whatever the job's state.
func CompleteJob(ctx context.Context, tx DBTX, id int64) error {
	_, err := New(tx).JobCompleteRunning(ctx, JobCompleteRunningParams{ID: id, Now: time.Now().UTC()})
	return err
}
