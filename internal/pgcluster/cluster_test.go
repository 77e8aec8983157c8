package pgcluster_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ppob-orchestrator/orchestrator/internal/dbtest"
	"github.com/ppob-orchestrator/orchestrator/internal/pgcluster"
)

// StartDurable runs the server with fsync and synchronous commits on, and a
// restart keeps them; Start (tests, `dev`) runs it with fsync off.
func TestDurability(t *testing.T) {
	t.Parallel()
	if _, err := pgcluster.FindBinaries(); err != nil {
		t.Fatalf("this test needs PostgreSQL's binaries: %v", err)
	}
	for _, tc := range []struct {
		name        string
		start       func(context.Context, string) (*pgcluster.Cluster, error)
		fsync, sync string
	}{
		{"durable", pgcluster.StartDurable, "on", "on"},
		{"throwaway", pgcluster.Start, "off", "on"},
		{"durable with statements", pgcluster.StartDurableWithStatements, "on", "on"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			c := dbtest.StartCluster(t, tc.start)
			check := func(when string) {
				t.Helper()
				conn, err := pgx.Connect(ctx, c.URL())
				if err != nil {
					t.Fatalf("%s: %v", when, err)
				}
				defer conn.Close(ctx)
				var fsync, sync string
				if err := conn.QueryRow(ctx, "SELECT current_setting('fsync'), current_setting('synchronous_commit')").Scan(&fsync, &sync); err != nil {
					t.Fatalf("%s: %v", when, err)
				}
				if fsync != tc.fsync || sync != tc.sync {
					t.Fatalf("%s: fsync=%s synchronous_commit=%s, want %s and %s", when, fsync, sync, tc.fsync, tc.sync)
				}
			}
			check("after start")
			if err := c.Restart(ctx, "fast"); err != nil {
				t.Fatal(err)
			}
			check("after restart")
		})
	}
}
