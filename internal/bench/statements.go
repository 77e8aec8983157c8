package bench

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Statement is one normalized statement's share of a run, from
// pg_stat_statements: what the database spent on it per purchase.
type Statement struct {
	Query           string  `json:"query"`
	Calls           int64   `json:"calls"`
	CallsPer        float64 `json:"calls_per_purchase"`
	MSPer           float64 `json:"exec_ms_per_purchase"`
	MeanMS          float64 `json:"mean_ms"`
	RowsPer         float64 `json:"rows_per_purchase"`
	WALBytesPer     float64 `json:"wal_bytes_per_purchase"`
	BlocksHitPer    float64 `json:"shared_blocks_hit_per_purchase"`
	BlocksDirtyPer  float64 `json:"shared_blocks_dirtied_per_purchase"`
	ShareOfExecTime float64 `json:"share_of_exec_time"`
}

// ResetStatements creates pg_stat_statements in the database when missing
// and empties it, so that what it holds next is one run's. The server must
// load the library (pgcluster.StartDurableWithStatements, or
// shared_preload_libraries on the server DATABASE_URL names).
func ResetStatements(ctx context.Context, pool *pgxpool.Pool) error {
	if _, err := pool.Exec(ctx, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements"); err != nil {
		return fmt.Errorf("--statements-out: create extension pg_stat_statements: %w", err)
	}
	if _, err := pool.Exec(ctx, "SELECT pg_stat_statements_reset()"); err != nil {
		return fmt.Errorf("--statements-out: reset pg_stat_statements (is it in shared_preload_libraries?): %w", err)
	}
	return nil
}

// statementsSQL reads every statement run since the reset, by execution
// time. COMMIT is a statement of its own (track_utility): with fsync on, its
// time is the wait for the WAL to reach the disk.
const statementsSQL = `
SELECT query, calls, total_exec_time, rows, wal_bytes::float8, shared_blks_hit, shared_blks_dirtied
FROM pg_stat_statements
WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND query NOT LIKE '%pg_stat_statements%'
ORDER BY total_exec_time DESC`

// ReadStatements returns what pg_stat_statements holds since the reset,
// divided by n purchases, largest execution time first.
func ReadStatements(ctx context.Context, pool *pgxpool.Pool, n int) ([]Statement, error) {
	rows, err := pool.Query(ctx, statementsSQL)
	if err != nil {
		return nil, fmt.Errorf("--statements-out: read pg_stat_statements: %w", err)
	}
	defer rows.Close()
	per := float64(max(n, 1))
	var out []Statement
	var total float64
	for rows.Next() {
		var (
			s                 Statement
			ms, walBytes      float64
			rowCount          int64
			blksHit, blksDirt int64
		)
		if err := rows.Scan(&s.Query, &s.Calls, &ms, &rowCount, &walBytes, &blksHit, &blksDirt); err != nil {
			return nil, err
		}
		total += ms
		s.CallsPer = float64(s.Calls) / per
		s.MSPer = ms / per
		s.MeanMS = ms / float64(max(s.Calls, 1))
		s.RowsPer = float64(rowCount) / per
		s.WALBytesPer = walBytes / per
		s.BlocksHitPer = float64(blksHit) / per
		s.BlocksDirtyPer = float64(blksDirt) / per
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i := range out {
		if total > 0 {
			out[i].ShareOfExecTime = out[i].MSPer * per / total
		}
	}
	return out, nil
}

// WriteStatements writes statements as a table: per purchase, calls,
// execution ms, rows, WAL bytes and shared blocks hit and dirtied, with
// each statement's share of all execution time and its first 160
// characters on one line.
func WriteStatements(w io.Writer, name string, n int, statements []Statement) error {
	var sumMS, sumCalls, sumWAL float64
	for _, s := range statements {
		sumMS += s.MSPer
		sumCalls += s.CallsPer
		sumWAL += s.WALBytesPer
	}
	fmt.Fprintf(w, "%s: %d purchases; per purchase %.1f statements, %.2f ms executing, %.0f WAL bytes\n\n", name, n, sumCalls, sumMS, sumWAL)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "share\tcalls/p\tms/p\tmean ms\trows/p\tWAL B/p\thit/p\tdirtied/p\t\tstatement")
	for _, s := range statements {
		fmt.Fprintf(tw, "%.1f%%\t%.2f\t%.3f\t%.3f\t%.2f\t%.0f\t%.1f\t%.2f\t\t%s\n",
			100*s.ShareOfExecTime, s.CallsPer, s.MSPer, s.MeanMS, s.RowsPer, s.WALBytesPer, s.BlocksHitPer, s.BlocksDirtyPer, oneLine(s.Query, 160))
	}
	return tw.Flush()
}

// oneLine folds a statement's whitespace to single spaces and cuts it to
// at most max characters.
func oneLine(q string, max int) string {
	q = strings.Join(strings.Fields(q), " ")
	if len(q) > max {
		q = q[:max] + "…"
	}
	return q
}
