package bench

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ppob-orchestrator/orchestrator/internal/dbtest"
	"github.com/ppob-orchestrator/orchestrator/internal/pgcluster"
)

// TestStatementsPerPurchase runs statements on a cluster that loads
// pg_stat_statements and reads them back per purchase: the counts are the
// ones run, divided by the purchases, and the table names each statement.
func TestStatementsPerPurchase(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := dbtest.StartCluster(t, pgcluster.StartDurableWithStatements)
	pool, err := pgxpool.New(ctx, c.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if _, err := pool.Exec(ctx, "CREATE TABLE profiled (n int PRIMARY KEY, s text)"); err != nil {
		t.Fatal(err)
	}
	if err := ResetStatements(ctx, pool); err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		if _, err := pool.Exec(ctx, "INSERT INTO profiled (n, s) VALUES ($1, $2)", i, strings.Repeat("x", 100)); err != nil {
			t.Fatal(err)
		}
	}
	var got int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM profiled WHERE n < $1", 5).Scan(&got); err != nil || got != 5 {
		t.Fatalf("count = %d, %v", got, err)
	}

	st, err := ReadStatements(ctx, pool, 5)
	if err != nil {
		t.Fatal(err)
	}
	var insert, count *Statement
	var share float64
	for i := range st {
		share += st[i].ShareOfExecTime
		switch {
		case strings.HasPrefix(st[i].Query, "INSERT INTO profiled"):
			insert = &st[i]
		case strings.HasPrefix(st[i].Query, "SELECT count(*) FROM profiled"):
			count = &st[i]
		}
	}
	if insert == nil || count == nil {
		t.Fatalf("statements read = %+v, want the insert and the count", st)
	}
	if insert.Calls != 10 || insert.CallsPer != 2 || insert.RowsPer != 2 || insert.WALBytesPer <= 0 {
		t.Errorf("insert = %+v, want 10 calls, 2 calls and 2 rows per purchase of 5, and WAL written", *insert)
	}
	if count.Calls != 1 || count.WALBytesPer != 0 {
		t.Errorf("count = %+v, want 1 call writing no WAL", *count)
	}
	if share < 0.99 || share > 1.01 {
		t.Errorf("shares of execution time add up to %v, want 1", share)
	}

	var out bytes.Buffer
	if err := WriteStatements(&out, "instant", 5, st); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "instant: 5 purchases; per purchase") || !strings.Contains(out.String(), "INSERT INTO profiled (n, s) VALUES ($1, $2)") {
		t.Errorf("written table:\n%s", out.String())
	}
}

// TestStatementsNeedTheLibrary: on a server that does not load
// pg_stat_statements, the reset fails with an error naming the flag and the
// setting, instead of a profile that would read nothing.
func TestStatementsNeedTheLibrary(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, dbtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var loaded string
	if err := pool.QueryRow(ctx, "SELECT current_setting('shared_preload_libraries')").Scan(&loaded); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(loaded, "pg_stat_statements") {
		t.Skip("the test server loads pg_stat_statements")
	}
	err = ResetStatements(ctx, pool)
	if err == nil || !strings.Contains(err.Error(), "--statements-out") || !strings.Contains(err.Error(), "shared_preload_libraries") {
		t.Fatalf("err = %v, want one naming --statements-out and shared_preload_libraries", err)
	}
}
