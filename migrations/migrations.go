// Package migrations holds the database schema as goose migrations embedded
// in the binary: our SQL files, and River's own tables as a Go migration that
// runs River's migrator at a pinned version, so one `migrate up` prepares a
// fresh database and `migrate down` undoes every step.
package migrations

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
)

// SQL holds the goose SQL migrations.
//
//go:embed *.sql
var SQL embed.FS

// RiverVersion is the River migration version the River step migrates to.
// Upgrading River past a new River migration means adding a goose migration
// that moves to the new version, never editing this one.
const RiverVersion = 8

// riverStep is the goose version of the River step.
const riverStep = 2

// NewProvider returns a goose provider for db with every migration, holding a
// PostgreSQL session lock while it migrates so that several processes
// starting at once migrate one after the other.
func NewProvider(db *sql.DB) (*goose.Provider, error) {
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return nil, fmt.Errorf("migration lock: %w", err)
	}
	sqlFS, err := fs.Sub(SQL, ".")
	if err != nil {
		return nil, err
	}
	return goose.NewProvider(goose.DialectPostgres, db, sqlFS,
		goose.WithSessionLocker(locker),
		goose.WithDisableGlobalRegistry(true),
		goose.WithGoMigrations(goose.NewGoMigration(riverStep,
			&goose.GoFunc{RunDB: riverUp},
			&goose.GoFunc{RunDB: riverDown},
		)),
	)
}

// riverUp applies River's migrations with River's own migrator, which runs
// each version in its own transaction (a later River step uses an enum value
// an earlier one adds, which PostgreSQL forbids within one transaction).
func riverUp(ctx context.Context, db *sql.DB) error {
	return withRiverMigrator(ctx, db, func(m *rivermigrate.Migrator[pgx.Tx]) error {
		_, err := m.Migrate(ctx, rivermigrate.DirectionUp, &rivermigrate.MigrateOpts{TargetVersion: RiverVersion})
		return err
	})
}

// riverDown removes every River table.
func riverDown(ctx context.Context, db *sql.DB) error {
	return withRiverMigrator(ctx, db, func(m *rivermigrate.Migrator[pgx.Tx]) error {
		_, err := m.Migrate(ctx, rivermigrate.DirectionDown, &rivermigrate.MigrateOpts{TargetVersion: -1})
		return err
	})
}

// withRiverMigrator gives fn a River migrator on a small pgx pool to the
// database behind db (River's migrator speaks pgx, not database/sql).
func withRiverMigrator(ctx context.Context, db *sql.DB, fn func(*rivermigrate.Migrator[pgx.Tx]) error) error {
	connCfg, err := connConfig(ctx, db)
	if err != nil {
		return err
	}
	poolCfg, err := pgxpool.ParseConfig("")
	if err != nil {
		return err
	}
	poolCfg.ConnConfig = connCfg
	poolCfg.MaxConns = 2
	pool, err := pgxpool.NewWithConfig(ctx, poolCfg)
	if err != nil {
		return fmt.Errorf("river migration: connect: %w", err)
	}
	defer pool.Close()
	m, err := rivermigrate.New(riverpgxv5.New(pool), nil)
	if err != nil {
		return err
	}
	return fn(m)
}

// connConfig returns a copy of the pgx connection configuration behind db.
func connConfig(ctx context.Context, db *sql.DB) (*pgx.ConnConfig, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	var cfg *pgx.ConnConfig
	err = conn.Raw(func(driverConn any) error {
		c, ok := driverConn.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("river migration needs the pgx driver, got %T", driverConn)
		}
		cfg = c.Conn().Config().Copy()
		return nil
	})
	return cfg, err
}
