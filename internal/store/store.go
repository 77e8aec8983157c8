// Package store is the database: the sqlc-generated queries over the schema
// in migrations/, plus the few helpers every caller needs (Pipeline, and
// NotFound, the one translation of "no rows" into ErrNotFound). It imports
// nothing of ours.
package store

import (
	"errors"

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
