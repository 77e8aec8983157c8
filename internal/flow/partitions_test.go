package flow_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"golang.org/x/sync/errgroup"

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

// isCode reports whether err is PostgreSQL's error code.
func isCode(err error, code string) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == code
}

// ensured is what EnsurePartitions returned.
type ensured struct {
	made []string
	err  error
}

// ensureInBackground runs EnsurePartitions in a goroutine.
// thisDatabase is the current database's oid, for reading pg_locks, which
// shows the locks of every database on the server. The tests' databases are
// copies of one template, so a table has the same oid in each: without it, a
// maker that another test runs in its own database, waiting for its own
// purchase_events, passes for this test's.
const thisDatabase = `(SELECT oid FROM pg_database WHERE datname = current_database())`

func ensureInBackground(ctx context.Context, b *flowtest.Env) <-chan ensured {
	done := make(chan ensured, 1)
	go func() {
		made, err := b.Svc.EnsurePartitions(ctx)
		done <- ensured{made, err}
	}()
	return done
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
	ensure := func() <-chan ensured { return ensureInBackground(ctx, b) }
	// waitsFor waits until a statement waits for a lock on table.
	waitsFor := func(table string) {
		t.Helper()
		flowtest.WaitFor(t, 30*time.Second, func() string { return "the maker waiting for " + table }, func() bool {
			var n int
			if err := b.Pool.QueryRow(ctx, `SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = to_regclass($1) AND database = `+thisDatabase, table).Scan(&n); err != nil {
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
		if isCode(err, "40P01") {
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
		if !isCode(r.err, "55P03") || !strings.Contains(r.err.Error(), "audit partitions of purchase_events:") {
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
	if !isCode(r.err, "55P03") || !strings.Contains(r.err.Error(), "audit partitions of provider_calls:") ||
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

// A month's foreign key to purchases puts triggers on it, so making the
// month locks purchases too (migrations/00015_partition_locks.sql). The
// maker takes purchases first, in EXCLUSIVE mode, and gives up within a
// quarter of deadlock_timeout.
//
//   - A create or a step holds purchases (it wrote the purchase) and then
//     writes provider_calls. The maker waits for purchases holding no audit
//     table, so the writer goes through and commits, and then the maker
//     makes the months. (00014's maker held provider_calls while it waited
//     for purchases: with its 5 s timeout, deadlock detected.)
//   - A transaction reads purchase_events and only then locks a purchase:
//     a cycle the order cannot prevent. The maker, which began to wait
//     first, times out first; the other transaction is never cancelled.
func TestEnsurePartitionsBesideWriters(t *testing.T) {
	t.Parallel()
	b := flowtest.Setup(t, flowtest.Options{NoStart: true})
	ctx := context.Background()
	p := create(t, b, "partition-writer-1", "PLN20", "551234560041")
	ensure := func() <-chan ensured { return ensureInBackground(ctx, b) }
	// waiter is the backend waiting for a lock on table, once one is.
	waiter := func(table string) int32 {
		t.Helper()
		var pid int32
		flowtest.WaitFor(t, 30*time.Second, func() string { return "the maker waiting for " + table }, func() bool {
			err := b.Pool.QueryRow(ctx, `SELECT pid FROM pg_locks WHERE NOT granted AND relation = to_regclass($1) AND database = `+thisDatabase+` LIMIT 1`, table).Scan(&pid)
			if err != nil && !errors.Is(err, pgx.ErrNoRows) {
				t.Fatal(err)
			}
			return err == nil
		})
		return pid
	}
	// auditLocks names the audit tables (or their partitions) pid holds.
	auditLocks := func(pid int32) []string {
		t.Helper()
		rows, err := b.Pool.Query(ctx, `SELECT c.relname::text FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
			WHERE l.pid = $1 AND l.granted AND l.database = `+thisDatabase+` AND (c.relname LIKE 'provider_calls%' OR c.relname LIKE 'callbacks%' OR c.relname LIKE 'purchase_events%')
			ORDER BY 1`, pid)
		if err != nil {
			t.Fatal(err)
		}
		names, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		return names
	}

	// Five years on, no month of the three tables exists.
	b.Clock.Advance(5 * 365 * 24 * time.Hour)
	calls, callbacks, events := monthsAhead("provider_calls", b.Clock.Now()), monthsAhead("callbacks", b.Clock.Now()), monthsAhead("purchase_events", b.Clock.Now())

	writer, err := b.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = writer.Rollback(ctx) }()
	if _, err := writer.Exec(ctx, `UPDATE purchases SET updated_at = updated_at WHERE id = $1`, p.ID); err != nil {
		t.Fatal(err)
	}
	done := ensure()
	if held := auditLocks(waiter("purchases")); len(held) > 0 {
		t.Errorf("the maker waits for purchases holding %v, want no audit table", held)
	}
	_, err = store.New(writer).ProviderCallInsert(ctx, store.ProviderCallInsertParams{PurchaseID: &p.ID, Provider: "klikoo", Operation: "inquiry",
		HttpStatus: 200, Code: "00", Outcome: "succeeded", CreatedAt: b.Clock.Now()})
	if err != nil {
		t.Fatalf("the writer's provider call while the maker waits: %v", err)
	}
	if err := writer.Commit(ctx); err != nil {
		t.Fatalf("the writer's commit: %v", err)
	}
	r := <-done
	if isCode(r.err, "40P01") {
		t.Fatalf("the maker: %v", r.err)
	}
	if r.err != nil {
		// The writer's commit came after the maker's lock timeout (a slow
		// machine): a table may fail with it, and the next run makes it.
		if !isCode(r.err, "55P03") {
			t.Fatalf("the maker: %v, want nothing or a lock timeout", r.err)
		}
		more, err := b.Svc.EnsurePartitions(ctx)
		if err != nil {
			t.Fatal(err)
		}
		r.made = append(r.made, more...)
	}
	slices.Sort(r.made)
	if want := slices.Sorted(slices.Values(slices.Concat(calls, callbacks, events))); !slices.Equal(r.made, want) {
		t.Fatalf("made %v, want %v", r.made, want)
	}
	var part string
	if err := b.Pool.QueryRow(ctx, `SELECT tableoid::regclass::text FROM provider_calls WHERE purchase_id = $1 AND operation = 'inquiry'`, p.ID).Scan(&part); err != nil || part != calls[0] {
		t.Fatalf("the writer's call is in %s (%v), want %s", part, err, calls[0])
	}

	// Five years more: a reader of purchase_events that goes on to lock
	// the purchase.
	b.Clock.Advance(5 * 365 * 24 * time.Hour)
	calls, callbacks, events = monthsAhead("provider_calls", b.Clock.Now()), monthsAhead("callbacks", b.Clock.Now()), monthsAhead("purchase_events", b.Clock.Now())
	reader, err := b.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = reader.Rollback(ctx) }()
	if _, err := reader.Exec(ctx, `SELECT count(*) FROM purchase_events WHERE purchase_id = $1`, p.ID); err != nil {
		t.Fatal(err)
	}
	done = ensure()
	waiter("purchase_events")
	if _, err := reader.Exec(ctx, `SELECT id FROM purchases WHERE id = $1 FOR UPDATE`, p.ID); err != nil {
		t.Fatalf("the reader's lock of the purchase while the maker waits for purchase_events: %v", err)
	}
	r = <-done
	if !isCode(r.err, "55P03") || !strings.Contains(r.err.Error(), "audit partitions of purchase_events:") ||
		strings.Contains(r.err.Error(), "of provider_calls") || strings.Contains(r.err.Error(), "of callbacks") {
		t.Fatalf("the maker in a cycle with a reader: %v, want purchase_events' lock timeout alone", r.err)
	}
	if want := slices.Concat(calls, callbacks); !slices.Equal(r.made, want) {
		t.Fatalf("made %v in a cycle with a reader, want %v", r.made, want)
	}
	if err := reader.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if made, err := b.Svc.EnsurePartitions(ctx); err != nil || !slices.Equal(made, events) {
		t.Fatalf("after the reader: made %v, %v; want %v", made, err, events)
	}
}

// Months made while purchases are created and worked: the maker's
// transaction for one table (EnsurePartitions', again after a lock
// timeout) makes 24 months of
// each table years ahead, which take the same locks as the months ahead
// the daily job makes. No create fails, no step's transaction is cancelled
// in a deadlock (River keeps a job's errors), every purchase ends, and the
// maker is refused by lock timeouts alone. (With 00014's maker and its 5 s
// timeout: deadlock detected within seconds. With 00014's maker and this
// timeout: no deadlock, but the maker gave up about 600 times, as each
// CREATE TABLE waited for purchases holding its table.)
func TestPartitionMakerBesideTheFlow(t *testing.T) {
	t.Parallel()
	b := flowtest.Setup(t, flowtest.Options{})
	ctx := context.Background()
	start := time.Date(b.Clock.Now().Year()+10, time.January, 15, 0, 0, 0, 0, time.UTC)

	makerDone := make(chan error, 1)
	var timeouts int
	go func() {
		for i := range 24 {
			month := start.AddDate(0, i, 0)
			for _, tab := range flow.AuditTables {
				for {
					_, err := b.Svc.EnsureTablePartitions(ctx, tab, month, month)
					if isCode(err, "55P03") {
						timeouts++
						continue
					}
					if err != nil {
						makerDone <- fmt.Errorf("%s of %s: %w", tab, month.Format("2006-01"), err)
						return
					}
					break
				}
			}
		}
		makerDone <- nil
	}()

	var created []uuid.UUID
	var mu sync.Mutex
	var g errgroup.Group
	for c := range 4 {
		g.Go(func() error {
			for i := range 100 {
				select {
				case err := <-makerDone:
					makerDone <- err
					return nil
				default:
				}
				product, customer := "TSEL10", fmt.Sprintf("0812%d%07d", c, i)
				if i%2 == 1 {
					product, customer = "PLN20", fmt.Sprintf("55%d%09d", c, i)
				}
				p, _, err := b.Svc.Create(ctx, flow.CreateRequest{ClientID: b.ClientID, ReferenceID: fmt.Sprintf("maker-%d-%d", c, i),
					ProductCode: product, CustomerNumber: customer, AllowRepeat: true})
				if err != nil {
					return fmt.Errorf("create %d of client %d: %w", i, c, err)
				}
				mu.Lock()
				created = append(created, p.ID)
				mu.Unlock()
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatalf("beside the maker: %v", err)
	}
	if err := <-makerDone; err != nil {
		t.Fatalf("the maker: %v", err)
	}
	var months int
	if err := b.Pool.QueryRow(ctx, `SELECT count(*) FROM pg_class WHERE relname ~ '^(provider_calls|callbacks|purchase_events)_[0-9]{4}_[0-9]{2}$'
		AND substr(relname, length(relname) - 6, 4)::int BETWEEN $1 AND $1 + 1`, start.Year()).Scan(&months); err != nil {
		t.Fatal(err)
	}
	if months != 72 {
		t.Fatalf("%d months made of %d and %d, want 24 of each table", months, start.Year(), start.Year()+1)
	}
	for _, id := range created {
		flowtest.WaitFor(t, 60*time.Second, func() string { return fmt.Sprintf("purchase %s is %s", id, b.Purchase(t, id).Status) },
			func() bool { return flow.Status(b.Purchase(t, id).Status).Terminal() })
	}
	var failed int
	if err := b.Pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE errors::text ~ 'deadlock|40P01|lock timeout|55P03'`).Scan(&failed); err != nil {
		t.Fatal(err)
	}
	if failed > 0 {
		t.Fatalf("%d jobs failed on a lock beside the maker", failed)
	}
	t.Logf("%d purchases created beside 72 months made; the maker gave up %d times on a lock timeout", len(created), timeouts)
}
