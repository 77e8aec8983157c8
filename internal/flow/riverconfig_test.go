package flow_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/ppob-orchestrator/orchestrator/internal/dbtest"
	"github.com/ppob-orchestrator/orchestrator/internal/flow"
)

// River keeps a completed or cancelled job for JOB_RETENTION (an hour
// unless set), discarded ones for River's own week; its reindexer rebuilds
// only indexes the migrated job table has (it warns on every run about one
// that is missing, and migrations/00013_storage.sql drops two of River's).
func TestRiverConfigRetentionAndReindexer(t *testing.T) {
	t.Parallel()
	rc := flow.RiverConfig(flow.Config{JobTimeout: 10 * time.Second, RescueAfter: 20 * time.Second})
	if rc.CompletedJobRetentionPeriod != time.Hour || rc.CancelledJobRetentionPeriod != time.Hour || rc.DiscardedJobRetentionPeriod != 0 {
		t.Fatalf("default retention: completed %s, cancelled %s, discarded %s", rc.CompletedJobRetentionPeriod,
			rc.CancelledJobRetentionPeriod, rc.DiscardedJobRetentionPeriod)
	}
	rc = flow.RiverConfig(flow.Config{JobTimeout: 10 * time.Second, RescueAfter: 20 * time.Second, JobRetention: 3 * time.Hour})
	if rc.CompletedJobRetentionPeriod != 3*time.Hour || rc.CancelledJobRetentionPeriod != 3*time.Hour {
		t.Fatalf("JobRetention 3h: completed %s, cancelled %s", rc.CompletedJobRetentionPeriod, rc.CancelledJobRetentionPeriod)
	}

	rows, err := dbtest.NewPool(t).Query(context.Background(), `SELECT indexname FROM pg_indexes WHERE tablename = 'river_job'`)
	if err != nil {
		t.Fatal(err)
	}
	var have []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		have = append(have, name)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(rc.ReindexerIndexNames) < 5 {
		t.Fatalf("the reindexer rebuilds only %v", rc.ReindexerIndexNames)
	}
	for _, name := range rc.ReindexerIndexNames {
		if !slices.Contains(have, name) {
			t.Errorf("the reindexer rebuilds %s, which river_job lacks (it has %v)", name, have)
		}
	}
}
