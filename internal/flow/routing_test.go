package flow_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/ppob-orchestrator/orchestrator/internal/flow"
	"github.com/ppob-orchestrator/orchestrator/internal/flowtest"
	"github.com/ppob-orchestrator/orchestrator/internal/providers"
	"github.com/ppob-orchestrator/orchestrator/internal/providers/klikoo"
	"github.com/ppob-orchestrator/orchestrator/internal/providers/snapcart"
	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

// twoOfferProducts adds Telkomsel 10.000 sold by both simulators, as two
// products: one routed Klikoo first, one Snapcart first.
func twoOfferProducts(t *testing.T, b *flowtest.Env) {
	t.Helper()
	var entries []flow.CatalogEntry
	for code, first := range map[string]string{"TSEL10-K": klikoo.Name, "TSEL10-S": snapcart.Name} {
		for _, e := range []flow.CatalogEntry{
			{Code: code, Name: "Telkomsel 10.000", Family: providers.FamilyPulsa, Provider: klikoo.Name, Inquiry: "none", ProviderProductCode: "S10", Price: 10150},
			{Code: code, Name: "Telkomsel 10.000", Family: providers.FamilyPulsa, Provider: snapcart.Name, Inquiry: "none", ProviderProductCode: "TSEL10", Price: 10200},
		} {
			e.Priority = 20
			if e.Provider == first {
				e.Priority = 10
			}
			entries = append(entries, e)
		}
	}
	if err := flow.SeedCatalog(context.Background(), b.Q, entries, b.Clock.Now()); err != nil {
		t.Fatal(err)
	}
}

func attemptsOf(t *testing.T, b *flowtest.Env, p store.Purchase) []store.PurchaseAttempt {
	t.Helper()
	a, err := b.Q.PurchaseAttemptList(context.Background(), p.ID)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// Insufficient deposit at both (scenario 12 with a route of both): the
// purchase fails over to the second offer, then fails with the last
// attempt's reason; no charge anywhere; both attempts recorded; the
// failover counted and its event a valid path.
func TestFailoverThenExhausted(t *testing.T) {
	t.Parallel()
	b := flowtest.Setup(t, flowtest.Options{})
	twoOfferProducts(t, b)
	p := create(t, b, "route-12", "TSEL10-K", "081244449912")
	if p.Provider != klikoo.Name || strings.Join(p.Route, ",") != "klikoo,snapcart" {
		t.Fatalf("route %v, provider %s; want klikoo then snapcart", p.Route, p.Provider)
	}
	end := waitStatus(t, b, p.ID, flow.StatusFailed)
	if deref(end.FailureCode) != "insufficient_balance" || end.Provider != snapcart.Name || end.Attempt != 2 {
		t.Fatalf("ended %s at %s (attempt %d), want insufficient_balance at snapcart, attempt 2", deref(end.FailureCode), end.Provider, end.Attempt)
	}
	ended := attemptsOf(t, b, end)
	if len(ended) != 1 || ended[0].Provider != klikoo.Name || ended[0].FailureCode != "insufficient_balance" || ended[0].ProviderReference == nil {
		t.Fatalf("ended attempts %+v, want klikoo's, insufficient_balance, with its reference", ended)
	}
	if c := b.ChargesAt(klikoo.Name, *ended[0].ProviderReference) + b.ChargesAt(snapcart.Name, deref(end.ProviderReference)); c != 0 {
		t.Fatalf("%d charges", c)
	}
	if got := testutil.ToFloat64(b.Metrics.Failovers.WithLabelValues(klikoo.Name, "insufficient_balance")); got != 1 {
		t.Fatalf("provider_failovers_total = %v, want 1", got)
	}
	checkPath(t, b, "route-12", end)
	v, err := b.Svc.View(context.Background(), end)
	if err != nil {
		t.Fatal(err)
	}
	if len(v.Attempts) != 2 || v.Attempts[0].Outcome != "failed_over" || v.Attempts[1].Provider != snapcart.Name || v.Provider != snapcart.Name {
		t.Fatalf("the view's attempts: %+v", v.Attempts)
	}
}

// Money may have moved (scenarios 31–35 with a route of both): the purchase
// ends at the first offer exactly as a single-offer one does, and the
// second provider's ledger stays empty for it.
func TestNoFailoverOnceMoneyMayHaveMoved(t *testing.T) {
	t.Parallel()
	b := flowtest.Setup(t, flowtest.Options{Signed: true})
	twoOfferProducts(t, b)
	var ids []store.Purchase
	for _, sc := range []string{"31", "32", "33", "34", "35"} {
		ids = append(ids, create(t, b, "moved-"+sc, "TSEL10-K", "08124444"+"99"+sc))
	}
	for _, p := range ids {
		end := waitStatus(t, b, p.ID, flow.StatusSucceeded)
		if end.Provider != klikoo.Name || end.Attempt != 1 || b.Charges(t, end) != 1 {
			t.Fatalf("%s ended at %s (attempt %d) with %d charges; want klikoo, attempt 1, once", end.ReferenceID, end.Provider, end.Attempt, b.Charges(t, end))
		}
		if c := b.ChargesAt(snapcart.Name, end.ID.String()); c != 0 {
			t.Fatalf("%s charged at snapcart too", end.ReferenceID)
		}
	}
}

// A paused provider gets no new route; with every offer's provider
// paused, creation answers product_unavailable naming why and creates
// nothing; resumed, it routes again. Each change is audited.
func TestPauseRoutesAround(t *testing.T) {
	t.Parallel()
	b := flowtest.Setup(t, flowtest.Options{})
	twoOfferProducts(t, b)
	ctx := context.Background()
	if err := b.Svc.SetPaused(ctx, klikoo.Name, true, "ana"); err != nil {
		t.Fatal(err)
	}
	p := create(t, b, "paused-1", "TSEL10-K", "081244440001")
	if p.Provider != snapcart.Name || strings.Join(p.Route, ",") != "snapcart" {
		t.Fatalf("with klikoo paused: route %v at %s", p.Route, p.Provider)
	}
	if end := waitStatus(t, b, p.ID, flow.StatusSucceeded); b.Charges(t, end) != 1 {
		t.Fatal("not charged once at snapcart")
	}
	if err := b.Svc.SetPaused(ctx, snapcart.Name, true, "ana"); err != nil {
		t.Fatal(err)
	}
	_, _, err := b.Svc.Create(ctx, flow.CreateRequest{ClientID: b.ClientID, ReferenceID: "paused-2", ProductCode: "TSEL10-K", CustomerNumber: "081244440002"})
	var unavailable *flow.ProductUnavailableError
	if !errors.As(err, &unavailable) || !strings.Contains(unavailable.Why, "paused") {
		t.Fatalf("every provider paused: %v, want product_unavailable naming the pause", err)
	}
	if _, err := b.Q.PurchaseGetByClientReference(ctx, store.PurchaseGetByClientReferenceParams{ClientID: b.ClientID, ReferenceID: "paused-2"}); err == nil {
		t.Fatal("a refused purchase was stored")
	}
	if err := b.Svc.SetPaused(ctx, klikoo.Name, false, "ana"); err != nil {
		t.Fatal(err)
	}
	if p := create(t, b, "paused-3", "TSEL10-K", "081244440003"); p.Provider != klikoo.Name {
		t.Fatalf("resumed klikoo is not first: %s", p.Provider)
	}
	var audited int
	if err := b.Pool.QueryRow(ctx, "SELECT count(*) FROM admin_events WHERE actor = 'ana' AND subject LIKE 'provider:%'").Scan(&audited); err != nil || audited != 3 {
		t.Fatalf("%d audited changes (%v), want 3", audited, err)
	}
	if err := b.Svc.SetPaused(ctx, "acme", true, "ana"); !errors.Is(err, flow.ErrNotFound) {
		t.Fatalf("pausing an unknown provider: %v", err)
	}
}

// A signed SUCCESS for an attempt the purchase moved on from is never
// ignored: the purchase already ended at the next offer, so it raises the
// paging alert, and reconciliation lists it as charged twice.
func TestLateSuccessOfAnEndedAttempt(t *testing.T) {
	t.Parallel()
	b := flowtest.Setup(t, flowtest.Options{Signed: true})
	twoOfferProducts(t, b)
	ctx := context.Background()
	p := create(t, b, "late-1", "TSEL10-S", "081244449912")
	end := waitStatus(t, b, p.ID, flow.StatusFailed)
	ended := attemptsOf(t, b, end)
	if len(ended) != 1 || ended[0].Provider != snapcart.Name {
		t.Fatalf("ended attempts %+v, want snapcart's first", ended)
	}
	body := []byte(`{"request_id":"01JABCDEFGHJKMNPQRSTVWXYZ0","reference_id":"` + deref(ended[0].ProviderReference) + `","product_code":"TSEL10","bill_amount":10200,"bill_number":"081244449912","status_code":"200","status_message":"Transaction successful","biller_code":"200","biller_message":"Transaction successful","serial_number":"SN-LATE"}`)
	action, err := b.Svc.HandleCallback(ctx, snapcart.Name, body, snapcart.SignCallback([]byte(b.Creds.SnapcartCallbackSecret), body))
	if err != nil || action != flow.CallbackApplied {
		t.Fatalf("a signed success for the ended attempt: %q %v", action, err)
	}
	if !hasAlert(t, b, end.ID, "late_success_after_failover") {
		t.Fatal("no late_success_after_failover alert")
	}
	var listed int
	if err := b.Pool.QueryRow(ctx, "SELECT count(*) FROM recon_multiple_successes WHERE purchase_id = $1", end.ID).Scan(&listed); err != nil || listed != 1 {
		t.Fatalf("recon_multiple_successes lists it %d times (%v)", listed, err)
	}
}

// The health rule: a provider that refused PROVIDER_TRIP_AFTER calls in a
// row is left out of new routes (its gauge and an alert say so), and tried
// again after PROVIDER_TRIP_FOR; a purchase already at it stays there.
func TestTrippedProviderLeftOutOfNewRoutes(t *testing.T) {
	t.Parallel()
	b := flowtest.Setup(t, flowtest.Options{BadKlikooSecret: true, ProviderTripAfter: 2, ProviderTripFor: time.Hour})
	twoOfferProducts(t, b)
	ctx := context.Background()
	first := create(t, b, "trip-1", "TSEL10-K", "081244440011")
	if first.Provider != klikoo.Name {
		t.Fatalf("before any refusal the route starts at %s", first.Provider)
	}
	// The alert commits with the call that tripped it; the gauge is set
	// as it trips.
	flowtest.WaitFor(t, 30*time.Second, func() string { return "no provider_tripped alert for klikoo" }, func() bool {
		var alerts int
		if err := b.Pool.QueryRow(ctx, "SELECT count(*) FROM alerts WHERE kind = 'provider_tripped' AND provider = 'klikoo'").Scan(&alerts); err != nil {
			t.Fatal(err)
		}
		return alerts > 0
	})
	if got := testutil.ToFloat64(b.Metrics.Tripped.WithLabelValues(klikoo.Name)); got != 1 {
		t.Fatalf("provider_tripped{klikoo} = %v, want 1", got)
	}
	next := create(t, b, "trip-2", "TSEL10-K", "081244440012")
	if strings.Join(next.Route, ",") != "snapcart" {
		t.Fatalf("with klikoo tripped the route is %v", next.Route)
	}
	if end := waitStatus(t, b, next.ID, flow.StatusSucceeded); b.Charges(t, end) != 1 {
		t.Fatal("the purchase routed around the tripped provider was not charged once")
	}
	if p := b.Purchase(t, first.ID); p.Provider != klikoo.Name || p.Attempt != 1 {
		t.Fatalf("the purchase already at klikoo moved: %s attempt %d", p.Provider, p.Attempt)
	}
	b.Clock.Advance(2 * time.Hour)
	if again := create(t, b, "trip-3", "TSEL10-K", "081244440013"); again.Provider != klikoo.Name {
		t.Fatalf("after PROVIDER_TRIP_FOR klikoo is not tried again: %v", again.Route)
	}
}

// The routing scenarios with a route of both (docs/routing.md), each way
// round: 15 (Klikoo closed) and 16 (Snapcart's product not found) end
// succeeded at the other provider with one charge in all; 17 (closed at
// both) fails product_unavailable and 12 (our deposit low at both)
// insufficient_balance after both, never charged.
func TestRoutingScenarios(t *testing.T) {
	t.Parallel()
	b := flowtest.Setup(t, flowtest.Options{Signed: true})
	twoOfferProducts(t, b)
	type want struct {
		status   flow.Status
		failure  string
		provider string // where it ended
		attempts int32
	}
	cases := map[string]map[string]want{ // product → scenario → end
		"TSEL10-K": {
			"15": {flow.StatusSucceeded, "", snapcart.Name, 2},
			"16": {flow.StatusSucceeded, "", klikoo.Name, 1},
			"17": {flow.StatusFailed, "product_unavailable", snapcart.Name, 2},
			"12": {flow.StatusFailed, "insufficient_balance", snapcart.Name, 2},
		},
		"TSEL10-S": {
			"15": {flow.StatusSucceeded, "", snapcart.Name, 1},
			"16": {flow.StatusSucceeded, "", klikoo.Name, 2},
			"17": {flow.StatusFailed, "product_unavailable", klikoo.Name, 2},
			"12": {flow.StatusFailed, "insufficient_balance", klikoo.Name, 2},
		},
	}
	type bought struct {
		product, scenario string
		id                store.Purchase
	}
	var all []bought
	n := 0
	for product, scenarios := range cases {
		for sc := range scenarios {
			n++
			all = append(all, bought{product, sc, create(t, b, fmt.Sprintf("rs-%s-%s", product, sc), product, fmt.Sprintf("081255%02d99%s", n, sc))})
		}
	}
	for _, x := range all {
		w := cases[x.product][x.scenario]
		end := waitStatus(t, b, x.id.ID, w.status)
		name := x.product + "/" + x.scenario
		if deref(end.FailureCode) != w.failure || end.Provider != w.provider || end.Attempt != w.attempts {
			t.Errorf("%s: ended %s at %s (attempt %d), want %s at %s (attempt %d)", name, deref(end.FailureCode), end.Provider, end.Attempt, w.failure, w.provider, w.attempts)
		}
		if wantCharges := map[flow.Status]int{flow.StatusSucceeded: 1}[w.status]; b.Charges(t, end) != wantCharges {
			t.Errorf("%s: %d charges in all, want %d", name, b.Charges(t, end), wantCharges)
		}
		checkPath(t, b, name, end)
	}
}

// A kill -9 in a failover's window, in-process. Killed after the first
// offer's refusal came back but before it was committed: the restarted
// payment job finds its call in flight, so money may have moved and the
// purchase never fails over (docs/routing.md condition 2) — it stays at Klikoo
// and, the repeat refused again, ends needs_review, charged nowhere.
// Killed after the failover was committed: River delivers every step again,
// and the first attempt's steps, no longer current, change nothing.
func TestFailoverAcrossCrashes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("killed before the refusal was committed", func(t *testing.T) {
		t.Parallel()
		b := flowtest.Setup(t, flowtest.Options{NoStart: true})
		p := create(t, b, "crash-failover-1", "PULSA-TSEL-10K", "081500019912")
		crashAfterIntent(t, b, p.ID, 10150)
		if err := b.Svc.Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = b.Svc.Stop(context.Background()) })
		waitStatus(t, b, p.ID, flow.StatusProcessing)
		// The sanctioned repeat is refused again, which proves nothing
		// (invariant 4): the purchase waits for its deadline.
		flowtest.WaitFor(t, 30*time.Second, func() string { return "no sanctioned repeat" }, func() bool { return paymentCalls(t, b, p.ID) > 0 })
		b.Clock.Advance(2 * time.Hour)
		end := waitStatus(t, b, p.ID, flow.StatusNeedsReview)
		if end.Attempt != 1 || end.Provider != klikoo.Name || !end.PaymentUncertain || len(attemptsOf(t, b, end)) != 0 {
			t.Fatalf("after the crash: attempt %d at %s (uncertain %v, %d ended attempts), want attempt 1 at klikoo, uncertain, none ended",
				end.Attempt, end.Provider, end.PaymentUncertain, len(attemptsOf(t, b, end)))
		}
		if c := b.Charges(t, end); c != 0 || len(b.Sims.Snapcart.Ledger().Snapshot()) != 0 {
			t.Fatalf("charged %d times; Snapcart's ledger %v", c, b.Sims.Snapcart.Ledger().Snapshot())
		}
	})

	t.Run("every step delivered again after the failover", func(t *testing.T) {
		t.Parallel()
		b := flowtest.Setup(t, flowtest.Options{Signed: true})
		p := create(t, b, "crash-failover-2", "PULSA-TSEL-10K", "081500029915")
		done := waitStatus(t, b, p.ID, flow.StatusSucceeded)
		if done.Attempt != 2 || done.Provider != snapcart.Name {
			t.Fatalf("scenario 15 ended at attempt %d at %s, want 2 at snapcart", done.Attempt, done.Provider)
		}
		settledJobs := func() bool {
			var open int
			_ = b.Pool.QueryRow(ctx, "SELECT count(*) FROM river_job WHERE state NOT IN ('completed', 'discarded', 'cancelled')").Scan(&open)
			return open == 0
		}
		// Snapcart's signed callback comes a moment after the payment and
		// may trigger a lookup: wait for both, so only a re-delivery can
		// add an event.
		var before []store.PurchaseEvent
		flowtest.WaitFor(t, 30*time.Second, func() string { return "no callback, or jobs still open" }, func() bool {
			before, _ = b.Q.EventListByPurchase(ctx, p.ID)
			return slices.ContainsFunc(before, func(e store.PurchaseEvent) bool { return e.Kind == "callback" }) && settledJobs()
		})
		done = b.Purchase(t, p.ID)
		client := b.Svc.River()
		jobs, err := client.JobList(ctx, river.NewJobListParams().States(rivertype.JobStateCompleted).First(100))
		if err != nil {
			t.Fatal(err)
		}
		firstAttempt := 0
		for _, j := range jobs.Jobs {
			var args struct {
				Attempt int32 `json:"attempt"`
			}
			_ = json.Unmarshal(j.EncodedArgs, &args)
			if args.Attempt == 1 {
				firstAttempt++
			}
			if _, err := client.JobRetry(ctx, j.ID); err != nil {
				t.Fatal(err)
			}
		}
		if firstAttempt == 0 {
			t.Fatal("no completed step of the first attempt to deliver again")
		}
		flowtest.WaitFor(t, 30*time.Second, func() string { return "the re-delivered jobs never finished" }, settledJobs)
		after := b.Purchase(t, p.ID)
		events, _ := b.Q.EventListByPurchase(ctx, p.ID)
		// A re-delivered check of the first attempt (a lookup at Klikoo of
		// the attempt the purchase moved on from) asks again whenever it
		// runs: it completed, rather than being cancelled, when it ran
		// before the callback ended the purchase. Its call is recorded, and
		// nothing else may change.
		var added []string
		changed := len(events) < len(before)
		for _, e := range events[min(len(before), len(events)):] {
			added = append(added, fmt.Sprintf("%s %q %s", e.Kind, e.Name, e.Data))
			changed = changed || e.Kind != "provider_call" || !strings.HasPrefix(e.Name, "lookup: ")
		}
		if !after.UpdatedAt.Equal(done.UpdatedAt) || changed {
			t.Fatalf("a second delivery changed the purchase: updated %v → %v, events %d → %d, added %v", done.UpdatedAt, after.UpdatedAt, len(before), len(events), added)
		}
		if c := b.Charges(t, after); c != 1 {
			t.Fatalf("charged %d times in all, want 1", c)
		}
	})
}
