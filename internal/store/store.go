// Package store is the database: the sqlc-generated queries over the schema
// in migrations/, plus the few helpers every caller needs (Pipeline, and
// NotFound, the one translation of "no rows" into ErrNotFound). It imports
// nothing of ours.
package store

import (
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
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

// AuditSince is the oldest moment a purchase created at created can have
// audit rows (events, provider calls, callbacks): a day before it, a margin
// for the clocks of different processes. The statements that read one
// purchase's audit rows take it as their audit_since, a value, so that
// PostgreSQL leaves the months before it out as it plans them. The zero
// time stays zero: read every month.
func AuditSince(created time.Time) time.Time {
	if created.IsZero() {
		return created
	}
	return created.Add(-24 * time.Hour)
}
