package store_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"

	"github.com/ppob-orchestrator/orchestrator/internal/dbtest"
	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

// CompleteJob writes what River's JobCompleteTx writes. JobCompleteTx runs
// River's driver's JobSetStateIfRunningMany with JobSetStateCompleted; here
// one of two running jobs, alike but for their ids, is completed that way
// and the other by CompleteJob, in transactions, and the rows read back
// equal but for the id and the moment. A job that is not running is left
// as it is by both.
func TestCompleteJobWritesWhatRiverWrites(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, dbtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)

	insert := func(state string) int64 {
		t.Helper()
		var id int64
		if err := pool.QueryRow(ctx, `
			INSERT INTO river_job (kind, args, max_attempts, state, attempt, created_at, attempted_at, attempted_by,
			                       errors, metadata, scheduled_at, finalized_at)
			VALUES ('purchase_payment', '{"purchase_id": "p", "attempt": 2}', 25, $1::river_job_state, 3,
			        '2026-11-30T10:00:00Z', '2026-11-30T10:00:02Z', ARRAY['host_a', 'host_b'],
			        ARRAY['{"at": "2026-11-30T10:00:01Z", "error": "e"}'::jsonb],
			        '{"river:log": "x", "cancel_attempted_at": "2026-11-30T10:00:03Z"}',
			        '2026-11-30T10:00:01Z', CASE WHEN $1 = 'cancelled' THEN timestamptz '2026-11-30T10:00:04Z' END)
			RETURNING id`, state).Scan(&id); err != nil {
			t.Fatal(err)
		}
		return id
	}
	// row is the job as text, every column but id and finalized_at, with
	// whether finalized_at is set.
	row := func(id int64) (string, bool) {
		t.Helper()
		var s string
		var finalized bool
		if err := pool.QueryRow(ctx, `
			SELECT (to_jsonb(j) - 'id' - 'finalized_at')::text, finalized_at IS NOT NULL
			FROM river_job j WHERE id = $1`, id).Scan(&s, &finalized); err != nil {
			t.Fatal(err)
		}
		return s, finalized
	}
	inTx := func(do func(tx pgx.Tx) error) {
		t.Helper()
		if err := pgx.BeginFunc(ctx, pool, do); err != nil {
			t.Fatal(err)
		}
	}
	byRiver := func(tx pgx.Tx, id int64) error {
		p := riverdriver.JobSetStateCompleted(id, time.Now().UTC(), nil)
		_, err := riverpgxv5.New(nil).UnwrapExecutor(tx).JobSetStateIfRunningMany(ctx, &riverdriver.JobSetStateIfRunningManyParams{
			ID: []int64{p.ID}, Attempt: []*int{p.Attempt}, ErrData: [][]byte{p.ErrData},
			FinalizedAt: []*time.Time{p.FinalizedAt}, MetadataDoMerge: []bool{false},
			MetadataUpdates: [][]byte{nil}, ScheduledAt: []*time.Time{p.ScheduledAt},
			State: []rivertype.JobState{p.State},
		})
		return err
	}

	for _, state := range []string{"running", "retryable", "cancelled", "available"} {
		a, b := insert(state), insert(state)
		before, _ := row(a)
		inTx(func(tx pgx.Tx) error { return byRiver(tx, a) })
		inTx(func(tx pgx.Tx) error { return store.CompleteJob(ctx, tx, b) })
		river, riverFinalized := row(a)
		got, gotFinalized := row(b)
		if got != river || gotFinalized != riverFinalized {
			t.Errorf("%s job: CompleteJob left\n%s (finalized %t), River's completion\n%s (finalized %t)",
				state, got, gotFinalized, river, riverFinalized)
		}
		changed := river != before
		if want := state == "running"; changed != want {
			t.Errorf("%s job: River's completion changed it: %t, want %t (before %s, after %s)", state, changed, want, before, river)
		}
		if state == "running" && (!gotFinalized || !strings.Contains(got, `"state": "completed"`)) {
			t.Errorf("running job after CompleteJob: %s (finalized %t), want completed and finalized", got, gotFinalized)
		}
	}
}
