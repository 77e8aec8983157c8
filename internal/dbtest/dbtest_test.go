package dbtest_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ppob-orchestrator/orchestrator/internal/dbtest"
	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

// Two parallel tests each get their own migrated database: both insert the
// same client and each sees exactly its own row.
func TestParallelDatabasesAreFreshAndMigrated(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"first", "second"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			pool := dbtest.NewPool(t)

			var clients, riverTables int
			if err := pool.QueryRow(ctx, "SELECT count(*) FROM clients").Scan(&clients); err != nil {
				t.Fatalf("count clients: %v", err)
			}
			if clients != 0 {
				t.Fatalf("fresh database has %d clients, want 0", clients)
			}
			if err := pool.QueryRow(ctx, "SELECT count(*) FROM pg_tables WHERE tablename IN ('river_job', 'river_leader', 'river_queue')").Scan(&riverTables); err != nil {
				t.Fatalf("count river tables: %v", err)
			}
			if riverTables != 3 {
				t.Fatalf("River tables present: %d, want 3", riverTables)
			}
			q := store.New(pool)
			if _, err := q.ClientInsert(ctx, store.ClientInsertParams{
				ID: uuid.New(), Name: "shop", KeyHash: make([]byte, 32), KeyPrefix: "ppob_x", CreatedAt: time.Now(),
			}); err != nil {
				t.Fatalf("insert client: %v", err)
			}
			if err := pool.QueryRow(ctx, "SELECT count(*) FROM clients").Scan(&clients); err != nil {
				t.Fatalf("count clients: %v", err)
			}
			if clients != 1 {
				t.Fatalf("database shared between tests: %d clients, want 1", clients)
			}
		})
	}
}
