package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/ppob-orchestrator/orchestrator/internal/dbtest"
	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

// A pipeline answers each query with its own statement's result, in order,
// and refuses to read answers out of order or to leave some unread.
func TestPipeline(t *testing.T) {
	t.Parallel()
	pool := dbtest.NewPool(t)
	ctx := context.Background()
	q := store.New(pool)
	hash := make([]byte, 32) // a SHA-256
	if _, err := q.ClientInsert(ctx, store.ClientInsertParams{ID: uuid.New(), Name: "pipe", KeyHash: hash, KeyPrefix: "p1", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}

	var (
		client               store.Client
		clientErr, missedErr error
	)
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		return store.Pipeline(ctx, tx, func(q *store.Queries) error {
			if err := q.LockKey(ctx, 42); err != nil {
				return err
			}
			_, missedErr = q.ProductGet(ctx, "NO-SUCH-PRODUCT")
			client, clientErr = q.ClientGetByKeyHash(ctx, hash)
			return nil
		})
	})
	if err != nil || !errors.Is(missedErr, pgx.ErrNoRows) || clientErr != nil || client.Name != "pipe" {
		t.Fatalf("pipeline: %v; missing product: %v; client %q: %v", err, missedErr, client.Name, clientErr)
	}

	// A run that calls other queries when it reads than when it queued.
	queued := false
	err = store.Pipeline(ctx, pool, func(q *store.Queries) error {
		if !queued {
			queued = true
			_, _ = q.ProductGet(ctx, "A")
		}
		_, err := q.ClientGetByKeyHash(ctx, hash)
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "out of order") {
		t.Fatalf("reading out of order: %v, want an error", err)
	}

	// A run that reads fewer answers than it queued statements.
	queued = false
	err = store.Pipeline(ctx, pool, func(q *store.Queries) error {
		_, err := q.ProductGet(ctx, "A")
		if !queued {
			queued = true
			_, _ = q.ClientGetByKeyHash(ctx, hash)
			return nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		return nil
	})
	if err == nil || !strings.Contains(err.Error(), "read 1 answers of 2") {
		t.Fatalf("leaving an answer unread: %v, want an error", err)
	}
}
