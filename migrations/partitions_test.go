package migrations_test

import (
	"context"
	"strings"
	"testing"
)

// The partitioning migration moves the audit rows already there into the
// months they belong to (Asia/Jakarta months, the identities continuing),
// makes every month from the oldest row's through three months ahead, and
// moves the callbacks' dedupe to callback_digests; down puts the same rows
// back into one table each, with the foreign keys and the dedupe.
func TestAuditPartitionsMigrateExistingData(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, p := emptyDatabase(t)
	if _, err := p.UpTo(ctx, 11); err != nil {
		t.Fatalf("up to 11: %v", err)
	}
	exec := sqlRunner{t, db}.exec
	one := func(q string, args ...any) int64 {
		t.Helper()
		var n int64
		if err := db.QueryRowContext(ctx, q, args...).Scan(&n); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return n
	}
	exec(`INSERT INTO clients (id, name, key_hash, key_prefix) VALUES ('00000000-0000-0000-0000-000000000001', 'shop', decode(repeat('ab', 32), 'hex'), 'k')`)
	exec(`INSERT INTO products (code, name, family) VALUES ('S10', 'Telkomsel 10.000', 'pulsa')`)
	exec(`INSERT INTO purchases (id, client_id, reference_id, fingerprint, product_code, provider, family, customer_number, customer_key,
		confirmation, created_at, updated_at, route, attempt_started_at, provider_product_code)
		VALUES ('00000000-0000-0000-0000-00000000000a', '00000000-0000-0000-0000-000000000001', 'ref-1', '{}', 'S10', 'klikoo', 'pulsa',
		        '0812', '0812', 'automatic', '2025-01-31 16:00Z', '2025-01-31 16:00Z', ARRAY['klikoo'], '2025-01-31 16:00Z', 'S10')`)
	// Rows on both sides of 1 February 2025 00:00 in Asia/Jakarta (31
	// January 17:00 UTC), and one of now; a call and a callback with the
	// event that names each.
	for i, at := range []string{"'2025-01-31 16:30Z'", "'2025-01-31 17:30Z'", "now()"} {
		exec(`WITH c AS (INSERT INTO provider_calls (purchase_id, provider, operation, reference, http_status, code, message, outcome,
		                 reason, latency_ms, request, response, error, created_at)
		           VALUES ('00000000-0000-0000-0000-00000000000a', 'klikoo', 'lookup', 'r', 200, '200', 'ok', 'pending', '', 5, '{}', '{}', '', `+at+`)
		           RETURNING id, created_at),
		      b AS (INSERT INTO callbacks (provider, body_sha256, body, authenticated, purchase_id, action, received_at)
		           VALUES ('klikoo', sha256(convert_to($1::text, 'UTF8')), '{}', false, '00000000-0000-0000-0000-00000000000a', 'hint', `+at+`)
		           RETURNING id)
		INSERT INTO purchase_events (purchase_id, seq, kind, name, provider_call_id, callback_id, created_at)
		SELECT '00000000-0000-0000-0000-00000000000a'::uuid, $2::int, 'provider_call', 'lookup: pending', c.id, NULL, c.created_at FROM c
		UNION ALL
		SELECT '00000000-0000-0000-0000-00000000000a'::uuid, $2::int + 1, 'callback', 'callback: pending', NULL, b.id, c.created_at FROM c, b`,
			at, 2*i+1)
	}
	lastEvent := one(`SELECT max(id) FROM purchase_events`)

	if _, err := p.UpTo(ctx, 12); err != nil {
		t.Fatalf("up to 12: %v", err)
	}
	for table, want := range map[string]int64{"provider_calls": 3, "callbacks": 3, "callback_digests": 3, "purchase_events": 6} {
		if n := one(`SELECT count(*) FROM ` + table); n != want {
			t.Fatalf("%s has %d rows after up, want %d", table, n, want)
		}
	}
	for part, want := range map[string]int64{
		"purchase_events_2025_01": 2, "purchase_events_2025_02": 2, "provider_calls_2025_01": 1,
		"provider_calls_2025_02": 1, "callbacks_2025_01": 1, "callbacks_2025_02": 1,
		"purchase_events_default": 0, "provider_calls_default": 0, "callbacks_default": 0,
	} {
		if n := one(`SELECT count(*) FROM ` + part); n != want {
			t.Errorf("%s holds %d rows, want %d", part, n, want)
		}
	}
	// Every month from January 2025 through three months ahead.
	if gaps := one(`SELECT count(*) FROM generate_series(date '2025-01-01', (now() AT TIME ZONE 'Asia/Jakarta')::date + interval '3 months', interval '1 month') m
		WHERE to_regclass('purchase_events_' || to_char(m, 'YYYY_MM')) IS NULL OR to_regclass('callbacks_' || to_char(m, 'YYYY_MM')) IS NULL
		   OR to_regclass('provider_calls_' || to_char(m, 'YYYY_MM')) IS NULL`); gaps != 0 {
		t.Fatalf("%d months without their partitions", gaps)
	}
	// The identity goes on after the rows copied.
	if next := one(`INSERT INTO purchase_events (purchase_id, seq, kind, name, created_at)
		VALUES ('00000000-0000-0000-0000-00000000000a', 7, 'note', 'after', now()) RETURNING id`); next <= lastEvent {
		t.Fatalf("next event id %d, the migration copied up to %d", next, lastEvent)
	}
	if fks := one(`SELECT count(*) FROM pg_constraint WHERE conrelid = 'purchase_events'::regclass AND contype = 'f'`); fks != 1 {
		t.Fatalf("purchase_events has %d foreign keys, want the one to purchases", fks)
	}

	if _, err := p.DownTo(ctx, 11); err != nil {
		t.Fatalf("down to 11: %v", err)
	}
	for table, want := range map[string]int64{"provider_calls": 3, "callbacks": 3, "purchase_events": 7} {
		if n := one(`SELECT count(*) FROM ` + table); n != want {
			t.Fatalf("%s has %d rows after down, want %d", table, n, want)
		}
	}
	if fks := one(`SELECT count(*) FROM pg_constraint WHERE conrelid = 'purchase_events'::regclass AND contype = 'f'`); fks != 3 {
		t.Fatalf("purchase_events has %d foreign keys after down, want 3", fks)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO callbacks (provider, body_sha256, body, authenticated, received_at)
		SELECT provider, body_sha256, body, authenticated, received_at FROM callbacks LIMIT 1`); err == nil {
		t.Fatal("a second callback of the same body after down: want callbacks_dedupe's refusal")
	}
	if _, err := p.Up(ctx); err != nil {
		t.Fatalf("up again: %v", err)
	}
}

// 00014 makes the months one table at a time (audit_partitions_ensure_table)
// and audit_partitions_ensure calls it; down puts back 00012's
// audit_partitions_ensure, word for word, and drops the new function.
func TestPartitionMakerDownRestores(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, p := emptyDatabase(t)
	if _, err := p.UpTo(ctx, 13); err != nil {
		t.Fatalf("up to 13: %v", err)
	}
	definition := func() (def, comment string) {
		t.Helper()
		if err := db.QueryRowContext(ctx, `SELECT pg_get_functiondef(f), obj_description(f, 'pg_proc')
			FROM (SELECT 'audit_partitions_ensure(timestamptz, timestamptz)'::regprocedure AS f) x`).Scan(&def, &comment); err != nil {
			t.Fatal(err)
		}
		return def, comment
	}
	hasTableMaker := func() bool {
		t.Helper()
		var ok bool
		if err := db.QueryRowContext(ctx, `SELECT to_regprocedure('audit_partitions_ensure_table(text, timestamptz, timestamptz)') IS NOT NULL`).Scan(&ok); err != nil {
			t.Fatal(err)
		}
		return ok
	}
	before, beforeComment := definition()
	if _, err := p.UpTo(ctx, 14); err != nil {
		t.Fatalf("up to 14: %v", err)
	}
	if def, _ := definition(); def == before || !strings.Contains(def, "audit_partitions_ensure_table(tab, since, until)") || !hasTableMaker() {
		t.Fatalf("after 00014 audit_partitions_ensure is\n%s", def)
	}
	if _, err := p.DownTo(ctx, 13); err != nil {
		t.Fatalf("down to 13: %v", err)
	}
	if def, comment := definition(); def != before || comment != beforeComment {
		t.Fatalf("after down audit_partitions_ensure is\n%s\n(%s)\nwant 00012's\n%s\n(%s)", def, comment, before, beforeComment)
	}
	if hasTableMaker() {
		t.Fatal("audit_partitions_ensure_table is still there after down")
	}
}

// 00015 makes audit_partitions_ensure_table and audit_partitions_detach
// lock purchases first; down puts back 00014's and 00012's, word for word.
func TestPartitionLocksDownRestores(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, p := emptyDatabase(t)
	if _, err := p.UpTo(ctx, 14); err != nil {
		t.Fatalf("up to 14: %v", err)
	}
	definitions := func() (defs [2]string) {
		t.Helper()
		for i, f := range []string{"audit_partitions_ensure_table(text, timestamptz, timestamptz)", "audit_partitions_detach(date)"} {
			var def, comment string
			if err := db.QueryRowContext(ctx, `SELECT pg_get_functiondef($1::regprocedure), obj_description($1::regprocedure, 'pg_proc')`, f).Scan(&def, &comment); err != nil {
				t.Fatal(err)
			}
			defs[i] = def + "\n" + comment
		}
		return defs
	}
	before := definitions()
	if _, err := p.UpTo(ctx, 15); err != nil {
		t.Fatalf("up to 15: %v", err)
	}
	for i, def := range definitions() {
		if def == before[i] || !strings.Contains(def, "LOCK TABLE purchases IN EXCLUSIVE MODE") {
			t.Fatalf("after 00015:\n%s", def)
		}
	}
	if _, err := p.DownTo(ctx, 14); err != nil {
		t.Fatalf("down to 14: %v", err)
	}
	if after := definitions(); after != before {
		t.Fatalf("after down:\n%s\n%s\nwant\n%s\n%s", after[0], after[1], before[0], before[1])
	}
}
