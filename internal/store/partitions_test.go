package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ppob-orchestrator/orchestrator/internal/dbtest"
	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

// newPurchase inserts a purchase created at, with its received event, in a
// catalog and client of its own.
func newPurchase(t *testing.T, pool *pgxpool.Pool, at time.Time) uuid.UUID {
	t.Helper()
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `INSERT INTO products (code, name, family) VALUES ('S10', 'Telkomsel 10.000', 'pulsa') ON CONFLICT DO NOTHING`); err != nil {
		t.Fatal(err)
	}
	client, id := uuid.New(), uuid.New()
	q := store.New(pool)
	if _, err := q.ClientInsert(ctx, store.ClientInsertParams{ID: client, Name: "shop", KeyHash: append(client[:], client[:]...), KeyPrefix: "k", CreatedAt: at}); err != nil {
		t.Fatal(err)
	}
	if _, err := q.PurchaseInsert(ctx, store.PurchaseInsertParams{ID: id, ClientID: client, ReferenceID: "order-1", Fingerprint: "{}",
		ProductCode: "S10", Provider: "klikoo", Family: "pulsa", CustomerNumber: ptr("0812"), CustomerKey: "0812",
		Confirmation: "automatic", CreatedAt: at, Route: []string{"klikoo"}, ProviderProductCode: "S10"}); err != nil {
		t.Fatal(err)
	}
	return id
}

func ptr[T any](v T) *T { return &v }

// partitionOf names the partition holding the row the query finds.
func partitionOf(t *testing.T, pool *pgxpool.Pool, query string, args ...any) string {
	t.Helper()
	var name string
	if err := pool.QueryRow(context.Background(), query, args...).Scan(&name); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return name
}

// states returns audit_partition_state by table.
func states(t *testing.T, q *store.Queries) map[string]store.AuditPartitionStateListRow {
	t.Helper()
	rows, err := q.AuditPartitionStateList(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]store.AuditPartitionStateListRow{}
	for _, r := range rows {
		out[r.TableName] = r
	}
	if len(out) != 3 {
		t.Fatalf("partition state of %d tables: %+v", len(out), rows)
	}
	return out
}

// The audit tables are partitioned by Asia/Jakarta month
// (migrations/00012_audit_partitions.sql): the migration made the months
// ahead; a row of a month without a partition lands in DEFAULT, which the
// state reports, and making its month moves it there; the months are
// Asia/Jakarta's; every month partition keeps the append-only trigger and
// the (purchase_id, seq) guard; a month not over cannot be detached.
func TestAuditPartitions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.NewPool(t)
	q := store.New(pool)

	for table, s := range states(t, q) {
		if s.DefaultRows != 0 || s.PartitionsUntil.Before(time.Now().AddDate(0, 2, 0)) {
			t.Fatalf("%s after the migration: %+v, want an empty DEFAULT and months at least two months ahead", table, s)
		}
	}

	// May 2031 has no partition: its rows go to DEFAULT.
	may := time.Date(2031, 5, 10, 3, 0, 0, 0, time.UTC)
	id := newPurchase(t, pool, may)
	call, err := q.ProviderCallInsert(ctx, store.ProviderCallInsertParams{PurchaseID: &id, Provider: "klikoo", Operation: "payment",
		HttpStatus: 200, Code: "200", Outcome: "pending", CreatedAt: may})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := q.EventInsert(ctx, store.EventInsertParams{PurchaseID: id, Kind: "provider_call", Name: "payment: pending",
		Actor: "system", ProviderCallID: &call, Data: json.RawMessage(`{}`), CreatedAt: may}); err != nil {
		t.Fatal(err)
	}
	cb, err := q.CallbackInsert(ctx, store.CallbackInsertParams{Provider: "klikoo", BodySha256: make([]byte, 32), Body: "{}", ReceivedAt: may})
	if err != nil {
		t.Fatal(err)
	}
	if got := partitionOf(t, pool, `SELECT tableoid::regclass::text FROM purchase_events WHERE purchase_id = $1 AND seq = 2`, id); got != "purchase_events_default" {
		t.Fatalf("May 2031's event is in %s, want purchase_events_default", got)
	}
	st := states(t, q)
	if st["purchase_events"].DefaultRows != 2 || st["provider_calls"].DefaultRows != 1 || st["callbacks"].DefaultRows != 1 {
		t.Fatalf("DEFAULT rows %+v, want 2 events, 1 call, 1 callback", st)
	}

	// Making May and June 2031 moves them out of DEFAULT into May.
	made, err := q.AuditPartitionsEnsure(ctx, store.AuditPartitionsEnsureParams{Since: may, Until: may.AddDate(0, 1, 0)})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(made)
	want := []string{"callbacks_2031_05", "callbacks_2031_06", "provider_calls_2031_05", "provider_calls_2031_06", "purchase_events_2031_05", "purchase_events_2031_06"}
	if !slices.Equal(made, want) {
		t.Fatalf("made %v, want %v", made, want)
	}
	if again, err := q.AuditPartitionsEnsure(ctx, store.AuditPartitionsEnsureParams{Since: may, Until: may}); err != nil || len(again) != 0 {
		t.Fatalf("made again %v (%v), want nothing", again, err)
	}
	for table, s := range states(t, q) {
		if s.DefaultRows != 0 || !s.PartitionsUntil.Equal(time.Date(2031, 7, 1, 0, 0, 0, 0, time.FixedZone("WIB", 7*3600))) {
			t.Fatalf("%s after making May and June 2031: %+v", table, s)
		}
	}
	if got := partitionOf(t, pool, `SELECT tableoid::regclass::text FROM purchase_events WHERE purchase_id = $1 AND seq = 2`, id); got != "purchase_events_2031_05" {
		t.Fatalf("the event moved to %s, want purchase_events_2031_05", got)
	}
	if got := partitionOf(t, pool, `SELECT tableoid::regclass::text FROM callbacks WHERE id = $1 AND received_at = $2`, cb.ID, cb.ReceivedAt); got != "callbacks_2031_05" {
		t.Fatalf("the callback moved to %s", got)
	}
	events, err := q.EventListByPurchase(ctx, id)
	if err != nil || len(events) != 2 || events[1].Seq != 2 || *events[1].ProviderCallID != call {
		t.Fatalf("events after the move: %+v, %v", events, err)
	}

	// The month is Asia/Jakarta's: 31 May 17:30 UTC is 1 June 00:30 WIB.
	for at, part := range map[time.Time]string{
		time.Date(2031, 5, 31, 16, 59, 0, 0, time.UTC): "purchase_events_2031_05",
		time.Date(2031, 5, 31, 17, 30, 0, 0, time.UTC): "purchase_events_2031_06",
	} {
		ev, err := q.EventInsert(ctx, store.EventInsertParams{PurchaseID: id, Kind: "note", Name: "boundary", Actor: "system", Data: json.RawMessage(`{}`), CreatedAt: at})
		if err != nil {
			t.Fatal(err)
		}
		if got := partitionOf(t, pool, `SELECT tableoid::regclass::text FROM purchase_events WHERE id = $1`, ev.ID); got != part {
			t.Errorf("an event at %s is in %s, want %s", at, got, part)
		}
	}

	// The guard on seq: a writer that numbers an event as an existing one
	// of the same month is refused.
	_, err = pool.Exec(ctx, `INSERT INTO purchase_events (purchase_id, seq, kind, name, created_at) VALUES ($1, 2, 'note', 'dup', $2)`, id, may.Add(time.Hour))
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "23505" || pgErr.ConstraintName != "purchase_events_2031_05_purchase_seq" {
		t.Fatalf("a second seq 2 in May: %v, want a unique violation of purchase_events_2031_05_purchase_seq", err)
	}
	// Every month of purchase_events has that guard, DEFAULT too.
	var unguarded []string
	rows, err := pool.Query(ctx, `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = 'purchase_events'::regclass AND NOT EXISTS (
			SELECT 1 FROM pg_index x WHERE x.indrelid = c.oid AND x.indisunique AND x.indkey::text = '2 12')`)
	if err != nil {
		t.Fatal(err)
	}
	unguarded, err = pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || len(unguarded) != 0 {
		t.Fatalf("partitions without a unique (purchase_id, seq): %v %v", unguarded, err)
	}

	// Append-only, in every partition, DEFAULT too.
	if _, err := q.EventInsert(ctx, store.EventInsertParams{PurchaseID: id, Kind: "note", Name: "far", Actor: "system",
		Data: json.RawMessage(`{}`), CreatedAt: may.AddDate(5, 0, 0)}); err != nil {
		t.Fatal(err)
	}
	for stmt, table := range map[string]string{
		`UPDATE purchase_events SET name = 'changed' WHERE purchase_id = $1 AND created_at < '2031-06-01'`: "purchase_events_2031_05",
		`DELETE FROM provider_calls WHERE purchase_id = $1`:                                                "provider_calls_2031_05",
		`UPDATE purchase_events SET name = 'changed' WHERE purchase_id = $1 AND name = 'far'`:              "purchase_events_default",
	} {
		if _, err := pool.Exec(ctx, stmt, id); err == nil || !strings.Contains(err.Error(), table+" is append-only") {
			t.Errorf("%s: %v, want %s is append-only", stmt, err, table)
		}
	}

	// A month that still takes rows cannot be detached: the current month
	// in Asia/Jakarta (from 17:00 UTC on the last day of a month, the UTC
	// date is still in the month before, which is over there).
	if _, err := pool.Exec(ctx, `SELECT audit_partitions_detach((now() AT TIME ZONE 'Asia/Jakarta')::date)`); err == nil || !strings.Contains(err.Error(), "is not over") {
		t.Fatalf("detaching this month: %v", err)
	}
}

// audit_partitions_ensure_table (migrations/00014_partition_maker.sql)
// makes one table's months. A name that is not an audit table is refused,
// named. When no month is missing it locks nothing: it returns at once
// beside a transaction that holds the table exclusively, where making a
// month waits for it (here, until the lock timeout).
func TestAuditPartitionsEnsureTable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.NewPool(t)
	q := store.New(pool)
	now := time.Now()

	var pgErr *pgconn.PgError
	_, err := q.AuditPartitionsEnsureTable(ctx, store.AuditPartitionsEnsureTableParams{Tab: "purchases", Since: now, Until: now})
	if !errors.As(err, &pgErr) || pgErr.Code != "22023" || !strings.Contains(pgErr.Message, "tab 'purchases': not an audit table") {
		t.Fatalf("purchases: %v, want an invalid_parameter_value naming tab 'purchases'", err)
	}

	holder, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = holder.Rollback(ctx) }()
	if _, err := holder.Exec(ctx, `LOCK TABLE purchase_events IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	ensure := func(since, until time.Time) ([]string, error) {
		var made []string
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			tq := store.New(tx)
			if _, err := tq.LockTimeoutBelowDeadlock(ctx); err != nil {
				return err
			}
			var err error
			made, err = tq.AuditPartitionsEnsureTable(ctx, store.AuditPartitionsEnsureTableParams{Tab: "purchase_events", Since: since, Until: until})
			return err
		})
		return made, err
	}
	if made, err := ensure(now, now.AddDate(0, 2, 0)); err != nil || len(made) != 0 {
		t.Fatalf("the months there beside a lock on purchase_events: made %v, %v; want nothing, at once", made, err)
	}
	far := time.Date(2041, 3, 10, 0, 0, 0, 0, time.UTC)
	if made, err := ensure(far, far); !errors.As(err, &pgErr) || pgErr.Code != "55P03" {
		t.Fatalf("a missing month beside a lock on purchase_events: made %v, %v; want the lock timeout", made, err)
	}
	if err := holder.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if made, err := ensure(far, far); err != nil || !slices.Equal(made, []string{"purchase_events_2041_03"}) {
		t.Fatalf("a missing month: made %v, %v; want purchase_events_2041_03", made, err)
	}
}

// A callback body is stored once per provider, through callback_digests:
// the same body again stores nothing, from another provider it is new.
func TestCallbackDedupe(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.NewPool(t)
	q := store.New(pool)
	sum := make([]byte, 32)
	sum[0] = 7
	at := time.Now()
	first, err := q.CallbackInsert(ctx, store.CallbackInsertParams{Provider: "klikoo", BodySha256: sum, Body: "a", Action: "unmatched", ReceivedAt: at})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := q.CallbackInsert(ctx, store.CallbackInsertParams{Provider: "klikoo", BodySha256: sum, Body: "a", Action: "unmatched", ReceivedAt: at.Add(time.Second)}); !errors.Is(err, pgx.ErrNoRows) {
		t.Fatalf("the same body again: %v, want no row", err)
	}
	other, err := q.CallbackInsert(ctx, store.CallbackInsertParams{Provider: "snapcart", BodySha256: sum, Body: "a", Action: "unreadable", ReceivedAt: at})
	if err != nil || other.ID == first.ID {
		t.Fatalf("from another provider: %+v, %v", other, err)
	}
	var stored, digests int
	if err := pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM callbacks WHERE action = 'unmatched'), (SELECT count(*) FROM callback_digests)`).Scan(&stored, &digests); err != nil || stored != 1 || digests != 2 {
		t.Fatalf("%d callbacks unmatched, %d digests (%v), want 1 and 2", stored, digests, err)
	}
}
