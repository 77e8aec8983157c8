package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// analyzeLock is the session advisory lock a process holds while it
// analyzes, so that several processes starting together analyze once.
const analyzeLock = "orchestrator_analyze_unanalyzed"

// AnalyzeMinBytes is the smallest table AnalyzeUnanalyzed analyzes: a
// smaller one is read whole in well under a millisecond whatever its plan,
// and a new database's small tables (goose's versions, the transitions)
// would be analyzed, and warned about, at every first start.
const AnalyzeMinBytes = 1 << 20

// Analyzed is one table AnalyzeUnanalyzed analyzed, and how long it took.
type Analyzed struct {
	Table string
	Took  time.Duration
}

// AnalyzeUnanalyzed analyzes, one at a time, each of our tables of at
// least AnalyzeMinBytes that has no planner statistics
// (TablesWithoutStatistics): a database
// restored from a dump or moved by pg_upgrade, which autovacuum may not
// analyze for days. Without statistics PostgreSQL planned the create's
// reference check as a read of every purchase of the client
// (docs/deployment.md#backups). It calls done after each table. If
// another process holds the lock it does nothing: that one is analyzing.
func AnalyzeUnanalyzed(ctx context.Context, pool *pgxpool.Pool, done func(Analyzed)) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	var locked bool
	if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock(hashtext($1))", analyzeLock).Scan(&locked); err != nil {
		return fmt.Errorf("analyze lock: %w", err)
	}
	if !locked {
		return nil
	}
	defer func() {
		// On a broken connection the session, and its lock, end anyway.
		_, _ = conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock(hashtext($1))", analyzeLock)
	}()
	tables, err := New(conn).TablesWithoutStatistics(ctx, AnalyzeMinBytes)
	if err != nil {
		return fmt.Errorf("tables without statistics: %w", err)
	}
	for _, t := range tables {
		start := time.Now()
		if _, err := conn.Exec(ctx, "ANALYZE "+pgx.Identifier{t}.Sanitize()); err != nil {
			return fmt.Errorf("analyze %s: %w", t, err)
		}
		done(Analyzed{Table: t, Took: time.Since(start)})
	}
	return nil
}
