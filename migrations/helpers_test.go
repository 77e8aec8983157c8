package migrations_test

import (
	"context"
	"database/sql"
	"testing"

	"github.com/pressly/goose/v3"

	"github.com/ppob-orchestrator/orchestrator/internal/dbtest"
	"github.com/ppob-orchestrator/orchestrator/migrations"
)

// emptyDatabase returns a fresh database with no migration applied, closed
// at cleanup, and the goose provider of every migration for it.
func emptyDatabase(t *testing.T) (*sql.DB, *goose.Provider) {
	t.Helper()
	db, err := sql.Open("pgx", dbtest.NewEmptyDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	p, err := migrations.NewProvider(db)
	if err != nil {
		t.Fatal(err)
	}
	return db, p
}

// sqlRunner runs statements on db, failing t at the first error.
type sqlRunner struct {
	t  *testing.T
	db *sql.DB
}

// exec runs q.
func (r sqlRunner) exec(q string, args ...any) {
	r.t.Helper()
	if _, err := r.db.ExecContext(context.Background(), q, args...); err != nil {
		r.t.Fatalf("%s: %v", q, err)
	}
}
