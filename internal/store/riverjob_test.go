package store_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ppob-orchestrator/orchestrator/internal/dbtest"
	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

// A purchase's waiting lookups, and a webhook message's waiting delivery,
// are found through the partial indexes of migrations/00013_storage.sql
// among many finished jobs (River keeps them for JOB_RETENTION): the
// statements that look for them read those indexes, not the job table, and
// touch only the waiting jobs of that purchase or message.
func TestWaitingJobsAreFoundByIndex(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg, err := pgxpool.ParseConfig(dbtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	rec := &dbtest.Recorder{}
	cfg.ConnConfig.Tracer = rec
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)

	purchase, other := uuid.New(), uuid.New()
	for _, stmt := range []string{`
		INSERT INTO river_job (kind, args, max_attempts, state, finalized_at)
		SELECT k, jsonb_build_object(f, gen_random_uuid()::text), 100, 'completed', now()
		FROM generate_series(1, 20000), (VALUES ('purchase_lookup', 'purchase_id'), ('webhook_deliver', 'message_id')) AS v(k, f)`, `
		INSERT INTO river_job (kind, args, max_attempts, state, finalized_at, scheduled_at)
		SELECT 'purchase_lookup', jsonb_build_object('purchase_id', p, 'attempt', 1), 100, s::river_job_state,
		       CASE WHEN s = 'completed' THEN now() END, now() + interval '1 hour'
		FROM (VALUES ('` + purchase.String() + `', 'scheduled'), ('` + purchase.String() + `', 'completed'), ('` + other.String() + `', 'scheduled')) AS v(p, s)`,
		`ANALYZE river_job`,
	} {
		if _, err := pool.Exec(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}

	// reads returns what the query named (sqlc's "-- name:" line) read
	// when it ran last.
	reads := func(query string) dbtest.Reads {
		t.Helper()
		var st dbtest.Statement
		for _, s := range rec.Take() {
			if strings.HasPrefix(s.SQL, "-- name: "+query+" ") {
				st = s
			}
		}
		if st.SQL == "" {
			t.Fatalf("%s did not run", query)
		}
		var plan string
		if err := pool.QueryRow(ctx, "EXPLAIN (FORMAT JSON) "+st.SQL, st.Args...).Scan(&plan); err != nil {
			t.Fatalf("explain %s: %v", st.SQL, err)
		}
		return dbtest.PlanReads(t, plan)
	}

	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	n, err := store.New(tx).LookupJobsCancel(ctx, store.LookupJobsCancelParams{Now: time.Now(), PurchaseID: purchase.String()})
	if err != nil || n != 1 {
		t.Fatalf("cancelled %d jobs (%v), want the one waiting", n, err)
	}
	cancel := reads("LookupJobsCancel")
	var states string
	if err := tx.QueryRow(ctx, `SELECT string_agg(state::text || ':' || (args->>'purchase_id' = $1)::text, ',' ORDER BY id)
		FROM river_job WHERE args ? 'attempt'`, purchase.String()).Scan(&states); err != nil {
		t.Fatal(err)
	}
	if states != "cancelled:true,completed:true,scheduled:false" {
		t.Fatalf("after the cancel: %s", states)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if len(cancel.Index) != 1 || !strings.HasPrefix(cancel.Cond["river_job_lookup_waiting"], "((args ->> 'purchase_id'::text) = ") || len(cancel.Seq) > 0 {
		t.Errorf("LookupJobsCancel reads %v by %v, scans %v", cancel.Index, cancel.Cond, cancel.Seq)
	}

	if _, err := store.New(pool).WebhookMessageOrphans(ctx, store.WebhookMessageOrphansParams{Cutoff: new(time.Now()), RowLimit: 10}); err != nil {
		t.Fatal(err)
	}
	if r := reads("WebhookMessageOrphans"); !r.Index["river_job_webhook_waiting"] || slices.Contains(r.Seq, "river_job") {
		t.Errorf("WebhookMessageOrphans reads %v, scans %v", r.Index, r.Seq)
	}
}
