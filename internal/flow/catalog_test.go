package flow_test

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/ppob-orchestrator/orchestrator/internal/flow"
	"github.com/ppob-orchestrator/orchestrator/internal/flowtest"
	"github.com/ppob-orchestrator/orchestrator/internal/providers/klikoo"
	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

// The balance check records Klikoo's deposit, sets the gauge, and alerts
// once when the deposit is below the configured level.
func TestBalanceCheckAlertsBelowLevel(t *testing.T) {
	t.Parallel()
	b := flowtest.Setup(t, flowtest.Options{NoStart: true, BalanceAlertBelow: 2_000_000_000})
	ctx := context.Background()
	b.Svc.CheckBalances(ctx)
	b.Svc.CheckBalances(ctx)
	deposit := b.Sims.Klikoo.Ledger().Balance()
	latest, err := b.Q.ProviderBalanceLatest(ctx, klikoo.Name)
	if err != nil || latest.Balance != deposit {
		t.Fatalf("recorded balance %d (%v), the simulator holds %d", latest.Balance, err, deposit)
	}
	if got := testutil.ToFloat64(b.Metrics.Balance.WithLabelValues(klikoo.Name)); got != float64(deposit) {
		t.Fatalf("provider_balance_rupiah = %v, want %d", got, deposit)
	}
	var alerts int
	if err := b.Pool.QueryRow(ctx, "SELECT count(*) FROM alerts WHERE kind = 'low_balance' AND provider = 'klikoo'").Scan(&alerts); err != nil {
		t.Fatal(err)
	}
	if alerts != 1 {
		t.Fatalf("%d low_balance alerts after two checks below the level, want 1", alerts)
	}
}

// A catalog price older than PRICE_MAX_AGE is refreshed from the provider's
// product list before a purchase uses it.
func TestStalePriceIsRefreshedBeforeUse(t *testing.T) {
	t.Parallel()
	b := flowtest.Setup(t, flowtest.Options{})
	ctx := context.Background()
	if _, err := b.Pool.Exec(ctx, "UPDATE offers SET price = 1, price_fetched_at = now() - interval '2 hours' WHERE product_code = 'S10'"); err != nil {
		t.Fatal(err)
	}
	p := create(t, b, "stale-1", "S10", "081211115555")
	end := waitStatus(t, b, p.ID, flow.StatusSucceeded)
	row, err := b.Q.OfferGet(ctx, store.OfferGetParams{ProductCode: "S10", Provider: end.Provider})
	if err != nil {
		t.Fatal(err)
	}
	offer := row.Offer
	if deref(offer.Price) <= 1 || time.Since(*offer.PriceFetchedAt) > time.Minute {
		t.Fatalf("price not refreshed: %v at %v", deref(offer.Price), offer.PriceFetchedAt)
	}
	if deref(end.Amount) != deref(offer.Price) {
		t.Fatalf("paid %d, the refreshed price is %d", deref(end.Amount), deref(offer.Price))
	}
}
