package bench

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ppob-orchestrator/orchestrator/internal/bench/benchdb"
)

// bigTable matches a plan node that reads a whole table of the history.
var bigTable = regexp.MustCompile(`Seq Scan on (purchases|purchase_events|provider_calls|callbacks|provider_balances)\b`)

// The probes are the statements the service and its operators send, each
// timed and explained on both databases; the report compares them and
// writes their plans. On a history of 20,000 purchases no probe reads a
// table of the history whole (migrations/00011_big_tables.sql).
func TestBigTablesProbesBothDatabases(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := catalogPool(t)
	out := filepath.Join(t.TempDir(), "plans.txt")
	var log strings.Builder
	rep, err := BigTables(ctx, pool, PreloadPlan{N: 20_000, ExplainOut: out, Log: &log})
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	if rep.LastDay.Purchases != 200 || rep.History == nil || rep.History.Purchases != 19_800 {
		t.Fatalf("last day %d, history %+v: want 200 and 19,800", rep.LastDay.Purchases, rep.History)
	}
	for _, p := range rep.Preloaded {
		for _, s := range p.Statements {
			if m := bigTable.FindString(s.Plan); m != "" {
				t.Errorf("probe %s: %s reads history whole (%s):\n%s", p.Name, s.Query, m, s.Plan)
			}
		}
	}
	want := []string{"create", "sweeper", "lookup", "api list", "api list status=failed", "api list status=needs_review",
		"console list", "console list status=failed", "console search", "timeline", "metrics scrape", reconcileProbe}
	for _, round := range [][]ProbeResult{rep.Empty, rep.Preloaded} {
		if len(round) != len(want) {
			t.Fatalf("%d probes, want %d", len(round), len(want))
		}
		for i, p := range round {
			if p.Name != want[i] || p.MedianMS <= 0 || len(p.Statements) == 0 {
				t.Fatalf("probe %d: %s, median %v, %d statements", i, p.Name, p.MedianMS, len(p.Statements))
			}
			for _, s := range p.Statements {
				if s.Query == "" || !strings.Contains(s.Plan, "Execution Time") || s.MS <= 0 {
					t.Fatalf("probe %s: statement %q has no plan: %q", p.Name, s.Query, s.Plan)
				}
			}
		}
	}
	if len(rep.Comparison) != len(want) || rep.ReconcileSeconds <= 0 || rep.EmptyReconcileSeconds <= 0 {
		t.Fatalf("comparison %+v, reconcile %v and %v", rep.Comparison, rep.EmptyReconcileSeconds, rep.ReconcileSeconds)
	}
	// The lookup's statements include the ones a purchase's end sends.
	var lookup []string
	for _, s := range rep.Preloaded[2].Statements {
		lookup = append(lookup, s.Query)
	}
	if got := strings.Join(lookup, " "); !strings.Contains(got, "PurchaseLock") || !strings.Contains(got, "CallbackOutcomesByPurchase") ||
		!strings.Contains(got, "LookupJobsCancel") || !strings.Contains(got, "TimelineAppend") {
		t.Fatalf("lookup probe sent %s", got)
	}
	plans, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range want {
		if !strings.Contains(string(plans), "==== "+name+" — ") {
			t.Errorf("--explain-out has no plan of %s", name)
		}
	}
	if !strings.Contains(log.String(), "bytes per preloaded purchase") || !strings.Contains(log.String(), "reconcile --since 24h") {
		t.Errorf("log:\n%s", log.String())
	}
	// Probing changed nothing: every probe's writes were rolled back.
	if n, err := countProbePurchases(ctx, pool); err != nil || n != 0 {
		t.Fatalf("%d probe purchases left (%v)", n, err)
	}
}

func TestCompareProbes(t *testing.T) {
	t.Parallel()
	probe := func(name string, ms float64) ProbeResult { return ProbeResult{Name: name, MedianMS: ms} }
	got := compareProbes(
		[]ProbeResult{probe("slow", 2), probe("noise", 0.2), probe("fine", 10), probe("edge", 1)},
		[]ProbeResult{probe("slow", 4.5), probe("noise", 0.9), probe("fine", 19), probe("edge", 2.5)})
	over := map[string]bool{}
	for _, c := range got {
		over[c.Name] = c.Over
	}
	// Over when more than twice as slow and by more than a millisecond.
	if !over["slow"] || over["noise"] || over["fine"] || !over["edge"] || got[0].Ratio != 2.25 {
		t.Fatalf("%+v", got)
	}
	r := &PreloadReport{Comparison: got}
	p := &PreloadResult{Report: r}
	if len(r.Over()) != 2 || len(p.targets()) != 4 || p.targets()[0].Met {
		t.Fatalf("over %v, targets %+v", r.Over(), p.targets())
	}
	if (*PreloadResult)(nil).targets() != nil {
		t.Fatal("no preload, no targets")
	}
}

func TestPlanCost(t *testing.T) {
	t.Parallel()
	plan := strings.Split(`Limit  (cost=0.42..8.44 rows=1 width=8) (actual time=0.020..0.021 rows=1 loops=1)
  Buffers: shared hit=3 read=2
  ->  Index Scan using purchases_pkey on purchases  (cost=0.42..8.44 rows=1 width=8) (actual time=0.019..0.019 rows=1 loops=1)
        Buffers: shared hit=3 read=1
Planning:
  Buffers: shared hit=40
Planning Time: 0.100 ms
Execution Time: 0.035 ms`, "\n")
	ms, buffers := planCost(plan)
	if ms != 0.035 || buffers != 5 {
		t.Fatalf("%v ms, %d buffers", ms, buffers)
	}
	if queryName("-- name: PurchaseGetByID :one\nSELECT 1") != "PurchaseGetByID" || queryName("begin") != "begin" {
		t.Fatal("queryName")
	}
}

func countProbePurchases(ctx context.Context, pool *pgxpool.Pool) (int64, error) {
	return benchdb.New(pool).ProbePurchaseCount(ctx)
}
