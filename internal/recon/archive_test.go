package recon_test

import (
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/ppob-orchestrator/orchestrator/internal/flow"
	"github.com/ppob-orchestrator/orchestrator/internal/flowtest"
	"github.com/ppob-orchestrator/orchestrator/internal/pgcluster"
	"github.com/ppob-orchestrator/orchestrator/internal/providers/klikoo"
	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

// count runs a count query.
func count(t *testing.T, b *flowtest.Env, query string, args ...any) int {
	t.Helper()
	var n int
	if err := b.Pool.QueryRow(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// An old month of the audit tables is archived as docs/runbook.md#archiving-old-months
// says: detached (the three tables together), dumped and dropped. The
// service's reads no longer see its rows; today's purchases, timelines and
// reconciliation work as before; a callback of that month sent again is
// still a duplicate; the dump holds the rows, and restoring and attaching
// it brings them back.
func TestArchiveAnOldMonth(t *testing.T) {
	t.Parallel()
	b := flowtest.Setup(t, flowtest.Options{})
	ctx := context.Background()

	// Three months ago, on the flow's clock: a purchase and a callback
	// nobody matched, in the month partitions the service makes then.
	b.Clock.Advance(-95 * 24 * time.Hour)
	if _, err := b.Svc.EnsurePartitions(ctx); err != nil {
		t.Fatal(err)
	}
	old := buy(t, b, flow.CreateRequest{ReferenceID: "old-1", ProductCode: "S10", CustomerNumber: "081211224400"})
	waitStatus(t, b, old, flow.StatusSucceeded)
	flowtest.WaitFor(t, 30*time.Second, func() string { return "the old purchase's callback" }, func() bool {
		return count(t, b, `SELECT count(*) FROM purchase_events WHERE purchase_id = $1 AND kind = 'callback'`, old) > 0
	})
	stray := []byte(`{"partner_reference_id":"nobody","transaction_status":"SUCCESS"}`)
	if action, err := b.Svc.HandleCallback(ctx, klikoo.Name, stray, ""); err != nil || action != flow.CallbackUnmatched {
		t.Fatalf("stray callback: %q, %v", action, err)
	}
	oldAt := b.Purchase(t, old).CreatedAt
	b.Clock.Advance(95 * 24 * time.Hour)

	// Today: a purchase like any other.
	cur := buy(t, b, flow.CreateRequest{ReferenceID: "new-1", ProductCode: "S10", CustomerNumber: "081211224401"})
	waitStatus(t, b, cur, flow.StatusSucceeded)

	// An event and the call or callback it names share a timestamp, so
	// they are in the same month (and archived together).
	if n := count(t, b, `SELECT count(*) FROM purchase_events e
		LEFT JOIN provider_calls c ON c.id = e.provider_call_id AND c.created_at = e.created_at
		LEFT JOIN callbacks cb ON cb.id = e.callback_id AND cb.received_at = e.created_at
		WHERE (e.provider_call_id IS NOT NULL AND c.id IS NULL) OR (e.callback_id IS NOT NULL AND cb.id IS NULL)`); n != 0 {
		t.Fatalf("%d events name a call or callback of another time", n)
	}
	jakarta := time.FixedZone("WIB", 7*3600)
	month := oldAt.In(jakarta)
	lo := time.Date(month.Year(), month.Month(), 1, 0, 0, 0, 0, jakarta) // the month, Asia/Jakarta's
	hi := lo.AddDate(0, 1, 0)
	suffix := month.Format("2006_01")
	parts := []string{"purchase_events_" + suffix, "provider_calls_" + suffix, "callbacks_" + suffix}
	held := map[string]int{}
	for _, p := range parts {
		held[p] = count(t, b, `SELECT count(*) FROM `+pgx.Identifier{p}.Sanitize())
	}
	if held[parts[0]] < 4 || held[parts[1]] < 2 || held[parts[2]] < 1 {
		t.Fatalf("the old month holds %v, want the old purchase's events and calls and a callback", held)
	}

	// CONCURRENTLY is not possible beside the DEFAULT partitions.
	_, err := b.Pool.Exec(ctx, `ALTER TABLE purchase_events DETACH PARTITION `+pgx.Identifier{parts[0]}.Sanitize()+` CONCURRENTLY`)
	if err == nil || !strings.Contains(err.Error(), "default partition") {
		t.Fatalf("DETACH CONCURRENTLY: %v, want PostgreSQL's refusal beside a default partition", err)
	}

	// Detach the month, as the runbook does: a tenth of deadlock_timeout
	// for each lock, and again when that runs out.
	var detached []string
	err = retryOnLocks(t, func() error {
		return pgx.BeginFunc(ctx, b.Pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `SET LOCAL lock_timeout = '100ms'`); err != nil {
				return err
			}
			rows, err := tx.Query(ctx, `SELECT audit_partitions_detach($1)`, month.Format(time.DateOnly))
			if err != nil {
				return err
			}
			detached, err = pgx.CollectRows(rows, pgx.RowTo[string])
			return err
		})
	})
	slices.Sort(detached)
	want := slices.Sorted(slices.Values(parts))
	if err != nil || !slices.Equal(detached, want) {
		t.Fatalf("detached %v (%v), want %v", detached, err, want)
	}

	// The service no longer reads the old month's rows.
	events, err := b.Q.EventListByPurchase(ctx, old)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range events {
		if e.CreatedAt.Before(hi) {
			t.Fatalf("the old purchase's event %d of %s is still read", e.Seq, e.CreatedAt)
		}
	}
	// (A lookup its callback asked for may have run after the clock moved
	// on: that one is of this month.)
	if n := count(t, b, `SELECT count(*) FROM provider_calls WHERE purchase_id = $1 AND created_at < $2`, old, hi); n != 0 {
		t.Fatalf("%d provider calls of the old purchase's month still read", n)
	}
	if n := count(t, b, `SELECT count(*) FROM recon_unmatched_callbacks`); n != 0 {
		t.Fatalf("%d unmatched callbacks still read", n)
	}
	// The detached tables still hold them.
	for _, p := range parts {
		if n := count(t, b, `SELECT count(*) FROM `+pgx.Identifier{p}.Sanitize()); n != held[p] {
			t.Fatalf("detached %s holds %d rows, held %d", p, n, held[p])
		}
	}
	// The old callback's body is still a duplicate: its digest stays.
	if action, err := b.Svc.HandleCallback(ctx, klikoo.Name, stray, ""); err != nil || action != flow.CallbackDuplicate {
		t.Fatalf("the stray callback again: %q, %v, want duplicate", action, err)
	}

	// Today's purchase: its timeline with its calls and callback, and the
	// reconciliation of the last day.
	timeline, err := b.Q.EventTimeline(ctx, store.EventTimelineParams{PurchaseID: cur, AuditSince: store.AuditSince(b.Purchase(t, cur).CreatedAt)})
	if err != nil {
		t.Fatal(err)
	}
	calls, seq := 0, int32(0)
	for _, e := range timeline {
		if seq++; e.Seq != seq {
			t.Fatalf("today's timeline skips to seq %d at %d", e.Seq, seq)
		}
		if e.Kind == "provider_call" {
			if e.CallOperation == nil {
				t.Fatalf("today's event %d names a provider call the timeline does not find", e.Seq)
			}
			calls++
		}
	}
	if calls < 2 {
		t.Fatalf("today's timeline has %d provider calls", calls)
	}
	r := build(t, b, b.Clock.Now().Add(-24*time.Hour))
	if bad := empty(r); bad != "" {
		t.Fatalf("reconciliation after the archive: %s", bad)
	}
	if got := totals(r)[klikoo.Name]; got[0] != 1 {
		t.Fatalf("today's totals %v, want today's purchase", got)
	}
	waitStatus(t, b, buy(t, b, flow.CreateRequest{ReferenceID: "new-2", ProductCode: "S10", CustomerNumber: "081211224402"}), flow.StatusSucceeded)

	// Archive: pg_dump the detached tables, drop them; the dump restores
	// them, and attached again their rows are read again.
	bin, err := pgcluster.FindBinaries()
	if err != nil {
		t.Skipf("no PostgreSQL binaries for pg_dump: %v", err)
	}
	dump := filepath.Join(t.TempDir(), "audit_"+suffix+".dump")
	args := []string{"--format=custom", "--file=" + dump, "--dbname=" + b.Pool.Config().ConnString()}
	for _, p := range parts {
		args = append(args, "--table="+p)
	}
	if out, err := exec.Command(filepath.Join(bin, "pg_dump"), args...).CombinedOutput(); err != nil {
		t.Fatalf("pg_dump: %v\n%s", err, out)
	}
	for _, p := range parts {
		if _, err := b.Pool.Exec(ctx, `DROP TABLE `+pgx.Identifier{p}.Sanitize()); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := exec.Command(filepath.Join(bin, "pg_restore"), "--dbname="+b.Pool.Config().ConnString(), dump).CombinedOutput(); err != nil {
		t.Fatalf("pg_restore: %v\n%s", err, out)
	}
	for i, table := range []string{"purchase_events", "provider_calls", "callbacks"} {
		// The service is running: as the runbook says, purchases first,
		// a quarter of deadlock_timeout for each lock, and again when
		// that runs out.
		attach := `ALTER TABLE ` + table + ` ATTACH PARTITION ` + pgx.Identifier{parts[i]}.Sanitize() +
			` FOR VALUES FROM ('` + lo.Format(time.RFC3339) + `') TO ('` + hi.Format(time.RFC3339) + `')`
		err := retryOnLocks(t, func() error {
			return pgx.BeginFunc(ctx, b.Pool, func(tx pgx.Tx) error {
				for _, stmt := range []string{`SET LOCAL lock_timeout = '250ms'`, `LOCK TABLE purchases IN EXCLUSIVE MODE`, attach} {
					if _, err := tx.Exec(ctx, stmt); err != nil {
						return err
					}
				}
				return nil
			})
		})
		if err != nil {
			t.Fatalf("attach %s: %v", parts[i], err)
		}
	}
	events, err = b.Q.EventListByPurchase(ctx, old)
	if err != nil {
		t.Fatal(err)
	}
	restored := 0
	for i, e := range events {
		if e.Seq != int32(i+1) {
			t.Fatalf("after the restore the old purchase's events skip to seq %d at %d", e.Seq, i+1)
		}
		if e.CreatedAt.Before(hi) {
			restored++
		}
	}
	if restored != held[parts[0]] {
		t.Fatalf("after the restore the old purchase has %d events of its month, want %d", restored, held[parts[0]])
	}
}

// retryOnLocks runs f again, up to 50 times, while it fails with a lock
// timeout or a deadlock, as the runbook says to run an archive's statements.
func retryOnLocks(t *testing.T, f func() error) error {
	t.Helper()
	var err error
	for try := 0; try < 50; try++ {
		var pgErr *pgconn.PgError
		if err = f(); !errors.As(err, &pgErr) || (pgErr.Code != "55P03" && pgErr.Code != "40P01") {
			return err
		}
		t.Logf("try %d: %v", try+1, err)
		time.Sleep(100 * time.Millisecond)
	}
	return err
}
