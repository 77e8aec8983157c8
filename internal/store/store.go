// Package store is the database: the sqlc-generated queries over the schema
// in migrations/, plus the few helpers every caller needs (transactions, and
// translating "no rows" into ErrNotFound). It imports nothing of ours.
package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ErrNotFound is returned (wrapped) when a query that must find a row finds none.
var ErrNotFound = errors.New("not found")

// NotFound translates pgx.ErrNoRows into ErrNotFound and leaves other errors as they are.
func NotFound(err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return ErrNotFound
	}
	return err
}

// IsUniqueViolation reports whether err is a unique constraint violation of
// the named constraint ("" for any).
func IsUniqueViolation(err error, constraint string) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505" && (constraint == "" || pgErr.ConstraintName == constraint)
}

// InTx runs fn in a transaction on pool, committing when fn returns nil and
// rolling back otherwise.
func InTx(ctx context.Context, pool *pgxpool.Pool, fn func(pgx.Tx) error) error {
	if err := pgx.BeginFunc(ctx, pool, fn); err != nil {
		return fmt.Errorf("transaction: %w", err)
	}
	return nil
}
