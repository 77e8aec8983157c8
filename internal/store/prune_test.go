package store

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ppob-orchestrator/orchestrator/internal/dbtest"
)

// The statements that read one purchase's audit rows take the months'
// bound as a value (audit_since), so PostgreSQL plans the months since it
// only: the plan of a purchase created now names no earlier month's
// partition, and removes none as it starts ("Subplans Removed"), which is
// what a bound computed in the statement (created_at - interval '1 day',
// which depends on the time zone) got.
func TestAuditReadsPlanTheirMonthsOnly(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.NewPool(t)
	now := time.Now()
	if _, err := New(pool).AuditPartitionsEnsure(ctx, AuditPartitionsEnsureParams{Since: now.AddDate(0, -4, 0), Until: now}); err != nil {
		t.Fatal(err)
	}
	old := now.AddDate(0, -3, 0).In(time.FixedZone("WIB", 7*3600)).Format("2006_01")
	id, since := uuid.New(), AuditSince(now)
	cases := []struct {
		name string
		sql  string
		args []any
	}{
		{"EventTimeline", eventTimeline, []any{id, since}},
		{"EventListByPurchaseShown", eventListByPurchaseShown, []any{since, id}},
		{"CallbackOutcomesByPurchase", callbackOutcomesByPurchase, []any{id, since}},
		{"EventInsert", eventInsert, []any{id, "note", "x", nil, nil, "system", nil, nil, json.RawMessage(`{}`), now, since}},
	}
	for _, c := range cases {
		conn, err := pool.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		// A custom plan, as PostgreSQL makes for the first runs of a
		// prepared statement on each connection, with the values given.
		if _, err := conn.Exec(ctx, "SET plan_cache_mode = force_custom_plan"); err != nil {
			t.Fatal(err)
		}
		rows, err := conn.Query(ctx, "EXPLAIN "+c.sql, c.args...)
		if err != nil {
			conn.Release()
			t.Fatalf("%s: %v", c.name, err)
		}
		var plan strings.Builder
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				t.Fatal(err)
			}
			plan.WriteString(line + "\n")
		}
		rows.Close()
		_, _ = conn.Exec(ctx, "RESET plan_cache_mode")
		conn.Release()
		if err := rows.Err(); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		p := plan.String()
		if strings.Contains(p, "_"+old) || strings.Contains(p, "Subplans Removed") {
			t.Errorf("%s plans months before the purchase (%s):\n%s", c.name, old, p)
		}
		if !strings.Contains(p, "_default") {
			t.Errorf("%s: the plan reads no DEFAULT partition, so it is not a plan over the months:\n%s", c.name, p)
		}
	}
}
