package flow_test

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/ppob-orchestrator/orchestrator/internal/flow"
	"github.com/ppob-orchestrator/orchestrator/internal/flowtest"
	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

// monthsAhead names the partitions of tab EnsurePartitions makes at now:
// the Asia/Jakarta month of now and PartitionMonthsAhead more.
func monthsAhead(tab string, now time.Time) []string {
	n := now.In(time.FixedZone("WIB", 7*3600))
	var out []string
	for i := 0; i <= flow.PartitionMonthsAhead; i++ {
		out = append(out, tab+"_"+time.Date(n.Year(), n.Month()+time.Month(i), 1, 0, 0, 0, 0, time.UTC).Format("2006_01"))
	}
	return out
}

// The month partition maker takes the audit tables one at a time, each in
// a transaction of its own (migrations/00014_partition_maker.sql).
//
//   - A reader holding purchase_events that goes on to provider_calls (as
//     the reconciliation reads them) while months of all three are missing:
//     the maker makes provider_calls' and callbacks' months and commits
//     them before it waits for purchase_events, so the reader's read of
//     provider_calls goes through; once the reader ends, purchase_events'
//     months are made. No deadlock. (One transaction for the three, as
//     before, held provider_calls while it waited: deadlock detected.)
//   - A step's write to provider_calls, not committed, holds that table
//     past the maker's lock timeout: provider_calls' months fail with the
//     lock timeout, and callbacks' and purchase_events' are made all the
//     same; the next run makes provider_calls'.
func TestEnsurePartitionsTableByTable(t *testing.T) {
	t.Parallel()
	logs := &flowtest.LogBuffer{}
	b := flowtest.Setup(t, flowtest.Options{NoStart: true, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	ctx := context.Background()
	type result struct {
		made []string
		err  error
	}
	ensure := func() <-chan result {
		done := make(chan result, 1)
		go func() {
			made, err := b.Svc.EnsurePartitions(ctx)
			done <- result{made, err}
		}()
		return done
	}
	// waitsFor waits until a statement waits for a lock on table.
	waitsFor := func(table string) {
		t.Helper()
		flowtest.WaitFor(t, 30*time.Second, func() string { return "the maker waiting for " + table }, func() bool {
			var n int
			if err := b.Pool.QueryRow(ctx, `SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = to_regclass($1)`, table).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n > 0
		})
	}
	exists := func(part string) bool {
		var ok bool
		if err := b.Pool.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, part).Scan(&ok); err != nil {
			t.Fatal(err)
		}
		return ok
	}
	noDeadlock := func(what string, err error) {
		t.Helper()
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "40P01" {
			t.Fatalf("%s: %v", what, err)
		}
	}

	// Five years on, no month of the three tables exists.
	b.Clock.Advance(5 * 365 * 24 * time.Hour)
	calls, callbacks, events := monthsAhead("provider_calls", b.Clock.Now()), monthsAhead("callbacks", b.Clock.Now()), monthsAhead("purchase_events", b.Clock.Now())

	reader, err := b.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = reader.Rollback(ctx) }()
	if _, err := reader.Exec(ctx, `SELECT count(*) FROM purchase_events`); err != nil {
		t.Fatal(err)
	}
	done := ensure()
	waitsFor("purchase_events")
	for _, part := range slices.Concat(calls, callbacks) {
		if !exists(part) {
			t.Errorf("%s not made (or not committed) while the maker waits for purchase_events", part)
		}
	}
	_, err = reader.Exec(ctx, `SELECT count(*) FROM provider_calls`)
	noDeadlock("the reader's read of provider_calls", err)
	if err != nil {
		t.Fatalf("the reader's read of provider_calls: %v", err)
	}
	if err := reader.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	r := <-done
	noDeadlock("the maker", r.err)
	if r.err != nil {
		// The reader outlasted the lock timeout (a slow machine): only
		// purchase_events may fail, and the next run makes it.
		var pgErr *pgconn.PgError
		if !errors.As(r.err, &pgErr) || pgErr.Code != "55P03" || !strings.Contains(r.err.Error(), "audit partitions of purchase_events:") {
			t.Fatalf("the maker: %v, want nothing or purchase_events' lock timeout", r.err)
		}
		more, err := b.Svc.EnsurePartitions(ctx)
		if err != nil {
			t.Fatal(err)
		}
		r.made = append(r.made, more...)
	}
	if want := slices.Concat(calls, callbacks, events); !slices.Equal(r.made, want) {
		t.Fatalf("made %v, want %v", r.made, want)
	}
	if again, err := b.Svc.EnsurePartitions(ctx); err != nil || len(again) != 0 {
		t.Fatalf("again: %v, %v; want nothing", again, err)
	}
	if out := logs.String(); !strings.Contains(out, "audit partitions made") || !strings.Contains(out, events[len(events)-1]) {
		t.Errorf("no log line \"audit partitions made\" naming %s in:\n%s", events[len(events)-1], out)
	}

	// Five years more: a step's provider call, not committed yet.
	b.Clock.Advance(5 * 365 * 24 * time.Hour)
	calls, callbacks, events = monthsAhead("provider_calls", b.Clock.Now()), monthsAhead("callbacks", b.Clock.Now()), monthsAhead("purchase_events", b.Clock.Now())
	step, err := b.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = step.Rollback(ctx) }()
	if _, err := store.New(step).ProviderCallInsert(ctx, store.ProviderCallInsertParams{Provider: "klikoo", Operation: "balance",
		HttpStatus: 200, Code: "00", Outcome: "succeeded", CreatedAt: b.Clock.Now()}); err != nil {
		t.Fatal(err)
	}
	r = <-ensure()
	var pgErr *pgconn.PgError
	if !errors.As(r.err, &pgErr) || pgErr.Code != "55P03" || !strings.Contains(r.err.Error(), "audit partitions of provider_calls:") ||
		strings.Contains(r.err.Error(), "of callbacks") || strings.Contains(r.err.Error(), "of purchase_events") {
		t.Fatalf("the maker beside an open write to provider_calls: %v, want provider_calls' lock timeout alone", r.err)
	}
	if want := slices.Concat(callbacks, events); !slices.Equal(r.made, want) {
		t.Fatalf("made %v beside an open write to provider_calls, want %v", r.made, want)
	}
	if err := step.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if made, err := b.Svc.EnsurePartitions(ctx); err != nil || !slices.Equal(made, calls) {
		t.Fatalf("after the write: made %v, %v; want %v", made, err, calls)
	}
	// The call the DEFAULT partition caught moved into its month.
	var part string
	if err := b.Pool.QueryRow(ctx, `SELECT tableoid::regclass::text FROM provider_calls WHERE operation = 'balance'`).Scan(&part); err != nil || part != calls[0] {
		t.Fatalf("the step's call is in %s (%v), want %s", part, err, calls[0])
	}
}
