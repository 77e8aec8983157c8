package migrations_test

import (
	"context"
	"testing"
)

// Every migration goes up, comes all the way down to an empty schema, and
// goes up again.
func TestUpDownUp(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, p := emptyDatabase(t)
	sources := p.ListSources()
	if len(sources) < 2 {
		t.Fatalf("want at least the core and River migrations, got %d", len(sources))
	}
	last := sources[len(sources)-1].Version

	tables := func() int {
		t.Helper()
		var n int
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM pg_tables WHERE schemaname = 'public'
			AND tablename NOT IN ('goose_db_version')`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	if _, err := p.Up(ctx); err != nil {
		t.Fatalf("up: %v", err)
	}
	if v, _ := p.GetDBVersion(ctx); v != last {
		t.Fatalf("version after up = %d, want %d", v, last)
	}
	full := tables()
	if full < 10 {
		t.Fatalf("after up only %d tables", full)
	}
	if _, err := p.DownTo(ctx, 0); err != nil {
		t.Fatalf("down to 0: %v", err)
	}
	if n := tables(); n != 0 {
		t.Fatalf("after down %d tables remain", n)
	}
	var types int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
		WHERE n.nspname = 'public' AND t.typtype = 'e'`).Scan(&types); err != nil {
		t.Fatal(err)
	}
	if types != 0 {
		t.Fatalf("after down %d enum types remain", types)
	}
	if _, err := p.Up(ctx); err != nil {
		t.Fatalf("up again: %v", err)
	}
	if n := tables(); n != full {
		t.Fatalf("second up made %d tables, first made %d", n, full)
	}
}
