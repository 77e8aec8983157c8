package store_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/ppob-orchestrator/orchestrator/internal/dbtest"
	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

// A table of a megabyte or more without statistics is analyzed once; a
// smaller one, or one analyzed, is not; and while another session holds
// the lock nothing is analyzed.
func TestAnalyzeUnanalyzed(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pool := dbtest.NewPool(t)
	// Autovacuum must not analyze it first.
	if _, err := pool.Exec(ctx, `ALTER TABLE provider_balances SET (autovacuum_enabled = off)`); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO provider_balances (provider, balance, source, observed_at)
		SELECT 'klikoo', 1000 + g, 'lookup', now() - g * interval '1 minute' FROM generate_series(1, 30000) g`); err != nil {
		t.Fatal(err)
	}
	reltuples := func() float64 {
		var n float64
		if err := pool.QueryRow(ctx, `SELECT reltuples FROM pg_class WHERE oid = 'provider_balances'::regclass`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := reltuples(); n >= 0 {
		t.Fatalf("provider_balances has statistics before (reltuples %v): the test proves nothing", n)
	}
	run := func() []string {
		t.Helper()
		var names []string
		if err := store.AnalyzeUnanalyzed(ctx, pool, func(a store.Analyzed) { names = append(names, a.Table) }); err != nil {
			t.Fatal(err)
		}
		return names
	}

	// Another process is analyzing: nothing.
	holder, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := holder.Exec(ctx, `SELECT pg_advisory_lock(hashtext('orchestrator_analyze_unanalyzed'))`); err != nil {
		t.Fatal(err)
	}
	if got := run(); len(got) != 0 || reltuples() >= 0 {
		t.Fatalf("analyzed %v while another session held the lock", got)
	}
	if _, err := holder.Exec(ctx, `SELECT pg_advisory_unlock(hashtext('orchestrator_analyze_unanalyzed'))`); err != nil {
		t.Fatal(err)
	}
	holder.Release()

	got := run()
	if !slices.Equal(got, []string{"provider_balances"}) || reltuples() != 30000 {
		t.Fatalf("analyzed %v, reltuples %v; want provider_balances alone, with its 30000 rows (the other tables are small)", got, reltuples())
	}
	if again := run(); len(again) != 0 {
		t.Fatalf("analyzed %v again", again)
	}
}
