package recon_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/ppob-orchestrator/orchestrator/internal/flow"
	"github.com/ppob-orchestrator/orchestrator/internal/flowtest"
)

// auditDocQueries returns the sql blocks of docs/audit.md.
func auditDocQueries(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("../../docs/audit.md")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, block := range strings.Split(string(b), "```sql\n")[1:] {
		q, _, ok := strings.Cut(block, "```")
		if !ok {
			t.Fatalf("unterminated sql block: %s", block)
		}
		out = append(out, q)
	}
	return out
}

// The copy-paste queries of docs/audit.md run against the schema, and the
// timeline query shows a real purchase's status changes and provider calls.
func TestAuditDocQueriesRun(t *testing.T) {
	t.Parallel()
	b := flowtest.Setup(t, flowtest.Options{})
	ctx := context.Background()
	id := buy(t, b, flow.CreateRequest{ReferenceID: "order-1", ProductCode: "S10", CustomerNumber: "081211224400"})
	waitStatus(t, b, id, flow.StatusSucceeded)

	queries := auditDocQueries(t)
	if len(queries) != 5 {
		t.Fatalf("docs/audit.md shows %d sql blocks, want 5", len(queries))
	}
	for i, q := range queries {
		rows, err := b.Pool.Query(ctx, q)
		if err != nil {
			t.Fatalf("query %d: %v\n%s", i+1, err, q)
		}
		kinds := map[string]bool{}
		n := 0
		for rows.Next() {
			n++
			if i == 0 {
				v, err := rows.Values()
				if err != nil {
					t.Fatal(err)
				}
				kinds[v[2].(string)] = true
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			t.Fatalf("query %d: %v\n%s", i+1, err, q)
		}
		if i == 0 && (!kinds["status"] || !kinds["provider_call"] || n < 4) {
			t.Fatalf("timeline of order-1: %d rows, kinds %v", n, kinds)
		}
		if i == 1 && n != 1 {
			t.Fatalf("today's totals: %d providers, want 1 (klikoo)", n)
		}
	}
}
