package bench

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ppob-orchestrator/orchestrator/internal/bench/benchdb"
	"github.com/ppob-orchestrator/orchestrator/internal/dbtest"
	"github.com/ppob-orchestrator/orchestrator/internal/flow"
	"github.com/ppob-orchestrator/orchestrator/internal/recon"
	"github.com/ppob-orchestrator/orchestrator/internal/sandbox"
	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

// catalogPool is a fresh database with the demo catalog, as the bench's
// service seeds it.
func catalogPool(t *testing.T) *pgxpool.Pool {
	t.Helper()
	pool := dbtest.NewPool(t)
	if err := flow.SeedCatalog(context.Background(), store.New(pool), sandbox.Catalog(), time.Now()); err != nil {
		t.Fatal(err)
	}
	return pool
}

// A preload writes purchases as the flow leaves them: the statuses of
// production, each purchase's events replaying to its status through the
// state machine, every call and callback in its timeline, counters that
// count them — and the reconciliation report finds in them only what a
// real flow produces (needs_review purchases, contradicted successes).
func TestPreloadWritesWhatTheFlowLeaves(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := catalogPool(t)
	q := benchdb.New(pool)
	now := time.Now()
	const n = 2000
	res, err := Preload(ctx, pool, PreloadOptions{N: n, Seed: 7, Now: now, contradictions: 0.01})
	if err != nil {
		t.Fatal(err)
	}

	var total int64
	for status, c := range res.ByStatus {
		total += c
		switch status {
		case "succeeded", "failed", "canceled", "needs_review":
		default:
			t.Errorf("%d purchases are %s: a preload leaves none open but needs_review", c, status)
		}
	}
	if total != n || res.Rows["purchases"] != n {
		t.Fatalf("%d purchases by status, %d copied, want %d", total, res.Rows["purchases"], n)
	}
	if s := float64(res.ByStatus["succeeded"]) / n; s < 0.85 || s > 0.95 {
		t.Errorf("%.2f of the purchases succeeded, want about %.2f", s, rateSucceeded)
	}
	if res.ByStatus["failed"] == 0 || res.ByStatus["canceled"] == 0 || res.ByStatus["needs_review"] != 1 {
		t.Errorf("by status %v: want failed and canceled ones, and one needs_review per %d", res.ByStatus, reviewEvery)
	}
	if per := float64(res.Rows["purchase_events"]) / n; per < 5 || per > 15 {
		t.Errorf("%.1f events per purchase", per)
	}
	if res.Rows["callbacks"] == 0 || res.Rows["provider_balances"] == 0 || res.Rows["purchase_attempts"] == 0 || res.Rows["alerts"] == 0 {
		t.Errorf("rows %v: want callbacks, deposits, failed-over attempts and contradiction alerts", res.Rows)
	}

	shape, err := q.PreloadShapeProblems(ctx, res.Clients)
	if err != nil {
		t.Fatal(err)
	}
	if shape != (benchdb.PreloadShapeProblemsRow{}) {
		t.Fatalf("shape problems: %+v", shape)
	}

	report, err := recon.Build(ctx, pool, recon.Options{Since: now.AddDate(-2, 0, 0), Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	for name, count := range map[string]int{"stuck": report.Stuck.Count, "double payments": report.DoublePayments.Count,
		"price above max": report.PriceAboveMax.Count, "price mismatch": report.PriceMismatch.Count,
		"unmatched callbacks": report.UnmatchedCallbacks.Count, "webhook failures": report.WebhookFailures.Count,
		"multiple successes": report.MultipleSuccesses.Count} {
		if count != 0 {
			t.Errorf("reconciliation reports %d %s", count, name)
		}
	}
	if report.NeedsReview.Count != 1 {
		t.Errorf("reconciliation reports %d needs_review, want 1", report.NeedsReview.Count)
	}
	for _, r := range report.NeedsReview.Rows {
		// Past its 7 days of hourly lookups: the sweeper re-drives nothing.
		if r.DeadlineAt == nil || r.DeadlineAt.Add(7*24*time.Hour).After(now) {
			t.Errorf("needs_review %s has its deadline at %v: the sweeper would look it up", r.PurchaseID, r.DeadlineAt)
		}
	}
	if int64(report.Contradictions.Count) != res.Rows["alerts"] {
		t.Errorf("reconciliation reports %d contradictions, the preload wrote %d", report.Contradictions.Count, res.Rows["alerts"])
	}
	var succeeded, failovers int64
	for _, d := range report.DailyTotals.Rows {
		succeeded += d.Succeeded
	}
	for _, f := range report.Failovers.Rows {
		failovers += f.Failovers
	}
	if succeeded != res.ByStatus["succeeded"] || failovers != res.Rows["purchase_attempts"] {
		t.Errorf("daily totals count %d successes and %d failovers, the preload wrote %d and %d",
			succeeded, failovers, res.ByStatus["succeeded"], res.Rows["purchase_attempts"])
	}

	// The service's next rows take ids after the preloaded ones.
	before, err := q.PreloadMaxIDs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	id, err := store.New(pool).ProviderCallInsert(ctx, store.ProviderCallInsertParams{Provider: "klikoo", Operation: "balance",
		Code: "200", Outcome: "succeeded", CreatedAt: now})
	if err != nil || id != before.ProviderCalls+1 {
		t.Fatalf("next provider call id %d (%v), want %d", id, err, before.ProviderCalls+1)
	}
}

// With the per-row checks kept, the same rows go in.
func TestPreloadWithEveryRowChecked(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := catalogPool(t)
	res, err := Preload(ctx, pool, PreloadOptions{N: 300, Batch: 100, CheckEachRow: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.SkippedRowChecks || res.Rows["purchases"] != 300 {
		t.Fatalf("skipped %v, rows %v", res.SkippedRowChecks, res.Rows)
	}
	shape, err := benchdb.New(pool).PreloadShapeProblems(ctx, res.Clients)
	if err != nil || shape != (benchdb.PreloadShapeProblemsRow{}) {
		t.Fatalf("shape problems: %+v, %v", shape, err)
	}
}

// Rows written without the foreign keys' per-row checks are proved
// afterwards: a reference to a missing row is found and named.
func TestPreloadProofFindsWhatTheForeignKeysRefuse(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := catalogPool(t)
	q := benchdb.New(pool)
	res, err := Preload(ctx, pool, PreloadOptions{N: 50})
	if err != nil {
		t.Fatal(err)
	}
	if !res.SkippedRowChecks {
		t.Skip("the test database's user is not a superuser: the preload keeps the per-row checks")
	}
	base, err := q.PreloadMaxIDs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := proveForeignKeys(ctx, q, res.Clients, base); err != nil {
		t.Fatalf("nothing written since: %v", err)
	}
	if err := proveUnenforced(ctx, q, base); err != nil {
		t.Fatalf("nothing written since: %v", err)
	}
	b := &batch{events: []synthEvent{
		{PurchaseID: uuid.New(), Seq: 1, Kind: "note", Name: "received", Actor: "client", Call: -1, Callback: -1, Data: "{}", CreatedAt: time.Now()},
		{PurchaseID: res.Clients[0], Seq: 1, Kind: "provider_call", Name: "lookup: pending", Actor: "system", Call: 5, Callback: -1, Data: "{}", CreatedAt: time.Now()},
	}}
	if err := writeBatch(ctx, pool, b, &idRanges{events: base.PurchaseEvents, calls: base.ProviderCalls}, true); err != nil {
		t.Fatal(err)
	}
	err = proveForeignKeys(ctx, q, res.Clients, base)
	if err == nil || !strings.Contains(err.Error(), "2 rows break purchase_events.purchase_events_purchase_id_fkey") {
		t.Fatalf("proof: %v", err)
	}
	// The event's call is no constraint's (the tables are partitioned):
	// the other proof finds it.
	err = proveUnenforced(ctx, q, base)
	if err == nil || !strings.Contains(err.Error(), "1 rows break purchase_events.provider_call_id") {
		t.Fatalf("proof of the references: %v", err)
	}
}

func TestPreloadRefusesASizeOutOfRange(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, -1, MaxPreload + 1} {
		if _, err := Preload(context.Background(), nil, PreloadOptions{N: n}); err == nil || !strings.Contains(err.Error(), "N must be") {
			t.Errorf("N=%d: %v", n, err)
		}
	}
}

// Purchase i is the same whichever batch writes it.
func TestSynthIsAFunctionOfSeedAndIndex(t *testing.T) {
	t.Parallel()
	prods := []synthProduct{
		{Code: "PLN20", Name: "PLN 20.000", Family: "pln_prepaid", Offers: []synthOffer{{Provider: "klikoo", ProviderProductCode: "PLN20", Inquiry: "optional", Price: 20500}}},
		{Code: "TELKOM_POSTPAID", Name: "Telkom", Family: "postpaid", Offers: []synthOffer{{Provider: "snapcart", ProviderProductCode: "TELKOM_POSTPAID", ItemCode: "TELKOM_POSTPAID", Inquiry: "required", Price: 5500}}},
	}
	now := time.Now()
	s, err := newSynth(3, "x", 1000, now, 365*24*time.Hour, prods, []uuid.UUID{uuid.New()})
	if err != nil {
		t.Fatal(err)
	}
	var whole, parts batch
	s.fill(&whole, 0, 1000)
	s.fill(&parts, 600, 1000)
	s.fill(&parts, 0, 600)
	if len(whole.events) != len(parts.events) || whole.purchases[700].ID != parts.purchases[100].ID ||
		whole.purchases[700].ReferenceID != parts.purchases[100].ReferenceID {
		t.Fatal("the same purchase differs by batch")
	}
	for i := 1; i < len(whole.purchases); i++ {
		if whole.purchases[i].CreatedAt.Before(whole.purchases[i-1].CreatedAt) {
			t.Fatalf("purchase %d was created before purchase %d", i, i-1)
		}
	}
	if first, last := whole.purchases[0].CreatedAt, whole.purchases[999].CreatedAt; first.Before(now.AddDate(-1, 0, 0)) || last.After(now.Add(-10*time.Minute)) {
		t.Fatalf("created from %v to %v, want within the last year, ten minutes before now", first, last)
	}
}
