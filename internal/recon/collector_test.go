package recon_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ppob-orchestrator/orchestrator/internal/flow"
	"github.com/ppob-orchestrator/orchestrator/internal/flowtest"
	"github.com/ppob-orchestrator/orchestrator/internal/providers/klikoo"
	"github.com/ppob-orchestrator/orchestrator/internal/recon"
	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

// scrape gathers a registry holding only a collector of pool and returns
// every sample as "name{status}" (or "name") → value.
func scrape(t *testing.T, pool *pgxpool.Pool, now func() time.Time) map[string]float64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(recon.NewCollector(pool, recon.CollectorOptions{Now: now}))
	families, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	out := map[string]float64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			key := f.GetName()
			for _, l := range m.GetLabel() {
				key += fmt.Sprintf("{%s}", l.GetValue())
			}
			out[key] = m.GetGauge().GetValue()
		}
	}
	return out
}

// wantGauges fails t unless every named sample has its value.
func wantGauges(t *testing.T, got map[string]float64, want map[string]float64) {
	t.Helper()
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v", k, g, ok, v)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
}

// The collector reports the open purchases by status (zeros included), the
// stuck ones, the oldest open purchase's age per status and the longest
// needs_review wait, measured on the flow's clock, as the views see them.
func TestCollectorReadsTheViews(t *testing.T) {
	t.Parallel()
	b := flowtest.Setup(t, flowtest.Options{StatusDeadline: time.Hour})
	waiting := buy(t, b, flow.CreateRequest{ReferenceID: "manual-1", ProductCode: "PLN20", CustomerNumber: "551234567801", Confirmation: "manual"})
	pending := buy(t, b, flow.CreateRequest{ReferenceID: "review-41", ProductCode: "S10", CustomerNumber: "0812119941"})
	waitStatus(t, b, waiting, flow.StatusAwaitingConfirmation)
	waitStatus(t, b, pending, flow.StatusProcessing)

	got := scrape(t, b.Pool, b.Clock.Now)
	wantGauges(t, got, map[string]float64{
		"recon_up":                 1,
		"purchases_open{received}": 0, "purchases_open{inquiring}": 0, "purchases_open{paying}": 0,
		"purchases_open{awaiting_confirmation}": 1, "purchases_open{processing}": 1, "purchases_open{needs_review}": 0,
		"purchases_stuck{awaiting_confirmation}": 0, "purchases_stuck{processing}": 0,
		"purchase_oldest_open_seconds{received}":     0,
		"purchase_needs_review_longest_wait_seconds": 0,
	})
	if _, ok := got["purchases_stuck{needs_review}"]; ok {
		t.Fatal("purchases_stuck has a needs_review series; recon_stuck never holds one")
	}

	// Past STATUS_DEADLINE (1h) the pending purchase goes to needs_review;
	// the one awaiting confirmation is past its expiry (INQUIRY_TTL, 1h),
	// and its expiry job, scheduled on the real clock, has not run: stuck.
	b.Clock.Advance(2 * time.Hour)
	waitStatus(t, b, pending, flow.StatusNeedsReview)
	b.Clock.Advance(30 * time.Minute)
	got = scrape(t, b.Pool, b.Clock.Now)
	wantGauges(t, got, map[string]float64{
		"recon_up":                              1,
		"purchases_open{awaiting_confirmation}": 1, "purchases_open{processing}": 0, "purchases_open{needs_review}": 1,
		"purchases_stuck{awaiting_confirmation}": 1, "purchases_stuck{processing}": 0,
	})
	within := func(name string, lo, hi float64) {
		if v := got[name]; v < lo || v > hi {
			t.Errorf("%s = %v, want %v to %v", name, v, lo, hi)
		}
	}
	within("purchase_oldest_open_seconds{awaiting_confirmation}", 150*60, 152*60)
	within("purchase_oldest_open_seconds{needs_review}", 150*60, 152*60)
	within("purchase_needs_review_longest_wait_seconds", 30*60, 31*60)
	// The scrape reads the wait per purchase, not through the view; both
	// say the same.
	if v, want := got["purchase_needs_review_longest_wait_seconds"], viewLongestReview(t, b); v != want {
		t.Errorf("purchase_needs_review_longest_wait_seconds = %v, recon_needs_review's longest wait = %v", v, want)
	}

	// The last deposit any process observed, per provider.
	ctx := context.Background()
	for _, o := range []struct {
		balance int64
		at      time.Time
	}{{500_000, b.Clock.Now()}, {300_000, b.Clock.Now().Add(time.Second)}, {900_000, b.Clock.Now().Add(-time.Hour)}} {
		if err := b.Q.ProviderBalanceInsert(ctx, store.ProviderBalanceInsertParams{Provider: klikoo.Name, Balance: o.balance, Source: "test", ObservedAt: o.at}); err != nil {
			t.Fatal(err)
		}
	}
	wantGauges(t, scrape(t, b.Pool, b.Clock.Now), map[string]float64{"provider_balance_observed_rupiah{klikoo}": 300_000})
}

// viewLongestReview is recon_needs_review's longest wait in whole seconds,
// on the flow's clock.
func viewLongestReview(t *testing.T, b *flowtest.Env) float64 {
	t.Helper()
	ctx := context.Background()
	tx, err := b.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if err := store.New(tx).ReconNowSet(ctx, b.Clock.Now().UTC().Format(time.RFC3339Nano)); err != nil {
		t.Fatal(err)
	}
	var secs int64
	if err := tx.QueryRow(ctx, "SELECT coalesce(extract(epoch FROM max(waiting)), 0)::bigint FROM recon_needs_review").Scan(&secs); err != nil {
		t.Fatal(err)
	}
	return float64(secs)
}

// A database that cannot be read costs the scrape the purchase gauges and
// sets recon_up to 0; the scrape itself still succeeds.
func TestCollectorWithoutDatabase(t *testing.T) {
	t.Parallel()
	b := flowtest.Setup(t, flowtest.Options{NoStart: true})
	pool, err := pgxpool.New(context.Background(), b.Pool.Config().ConnString())
	if err != nil {
		t.Fatal(err)
	}
	pool.Close()
	got := scrape(t, pool, nil)
	if len(got) != 1 || got["recon_up"] != 0 {
		t.Fatalf("scrape without a database: %v, want only recon_up 0", got)
	}
}

// The collector reports each audit table's DEFAULT partition rows (none
// until a row of a month without a partition arrives) and how far ahead
// its month partitions reach (docs/observability.md).
func TestCollectorReadsThePartitions(t *testing.T) {
	t.Parallel()
	b := flowtest.Setup(t, flowtest.Options{NoStart: true})
	got := scrape(t, b.Pool, b.Clock.Now)
	for _, table := range []string{"purchase_events", "provider_calls", "callbacks"} {
		wantGauges(t, got, map[string]float64{"audit_default_partition_rows{" + table + "}": 0})
		if ahead := got["audit_partitions_ahead_seconds{"+table+"}"]; ahead < 60*24*3600 {
			t.Fatalf("%s's partitions reach %v s ahead, want two months or more", table, ahead)
		}
	}
	id := buy(t, b, flow.CreateRequest{ReferenceID: "far-1", ProductCode: "S10", CustomerNumber: "0812119951"})
	if _, err := b.Q.EventInsert(context.Background(), store.EventInsertParams{PurchaseID: id, Kind: "note", Name: "far", Actor: "system",
		Data: []byte(`{}`), CreatedAt: b.Clock.Now().AddDate(10, 0, 0)}); err != nil {
		t.Fatal(err)
	}
	got = scrape(t, b.Pool, b.Clock.Now)
	wantGauges(t, got, map[string]float64{"audit_default_partition_rows{purchase_events}": 1, "audit_default_partition_rows{provider_calls}": 0})
	// Ten years on, the partitions are behind.
	if ahead := scrape(t, b.Pool, func() time.Time { return b.Clock.Now().AddDate(10, 0, 0) })["audit_partitions_ahead_seconds{callbacks}"]; ahead >= 0 {
		t.Fatalf("ten years on, the partitions reach %v s ahead, want behind", ahead)
	}
}
