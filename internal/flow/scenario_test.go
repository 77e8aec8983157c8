package flow_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ppob-orchestrator/orchestrator/internal/flow"
	"github.com/ppob-orchestrator/orchestrator/internal/flowtest"
	"github.com/ppob-orchestrator/orchestrator/internal/sandbox"
	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

type bought struct {
	kind     sandbox.Kind
	scenario string
	id       [16]byte
}

// Every scenario of docs/simulators.md, for both providers (Snapcart two-step
// and one-step) and both products routed across them, through the real flow:
// each purchase ends as the table says (docs/routing.md's for a routed
// product), at the offer it must, with exactly as many charges in all as it
// must (0 or 1), a valid event path, and 24's contradiction recorded.
func TestEveryScenarioReachesItsExpectedEnd(t *testing.T) {
	t.Parallel()
	// Scenarios 14, 31-35 and 61 answer unknown on purpose: the health
	// rule must not leave a provider out of the purchases created after.
	b := flowtest.Setup(t, flowtest.Options{Signed: true, ProviderTripAfter: -1})
	ctx := context.Background()

	var all []bought
	for _, k := range sandbox.Kinds {
		for _, sc := range sandbox.Scenarios {
			cust, user, zone := k.Ident(0, sc)
			req := flow.CreateRequest{
				ClientID: b.ClientID, ReferenceID: fmt.Sprintf("%s-%s", k.Name, sc), ProductCode: k.Product,
				CustomerNumber: cust, UserID: user, ZoneID: zone, MaxPrice: sandbox.MaxPrice(sc), AllowRepeat: true,
			}
			p, created, err := b.Svc.Create(ctx, req)
			if err != nil || !created {
				t.Fatalf("%s %s: create: created=%v err=%v", k.Name, sc, created, err)
			}
			all = append(all, bought{k, sc, p.ID})
		}
	}

	settled := func(x bought) bool {
		p := b.Purchase(t, x.id)
		want := x.kind.Expected(x.scenario)
		if want.Status == flow.StatusNeedsReview {
			return flow.Status(p.Status) == flow.StatusProcessing || flow.Status(p.Status) == flow.StatusNeedsReview
		}
		return flow.Status(p.Status).Terminal()
	}
	report := func() string {
		var open []string
		for _, x := range all {
			if !settled(x) {
				p := b.Purchase(t, x.id)
				open = append(open, fmt.Sprintf("%s/%s=%s", x.kind.Name, x.scenario, p.Status))
			}
		}
		return "still open: " + strings.Join(open, ", ")
	}
	flowtest.WaitFor(t, 90*time.Second, report, func() bool {
		for _, x := range all {
			if !settled(x) {
				return false
			}
		}
		return true
	})

	// The deadline: what cannot be resolved goes to needs_review.
	b.Clock.Advance(2 * time.Hour)
	flowtest.WaitFor(t, 30*time.Second, report, func() bool {
		for _, x := range all {
			want := x.kind.Expected(x.scenario)
			if want.Status == flow.StatusNeedsReview && flow.Status(b.Purchase(t, x.id).Status) != flow.StatusNeedsReview {
				return false
			}
		}
		return true
	})

	for _, x := range all {
		p := b.Purchase(t, x.id)
		want := x.kind.Expected(x.scenario)
		name := x.kind.Name + "/" + x.scenario
		if flow.Status(p.Status) != want.Status {
			t.Errorf("%s: status %s, want %s (failure %v)", name, p.Status, want.Status, deref(p.FailureMessage))
		}
		if want.Failure != "" && deref(p.FailureCode) != want.Failure {
			t.Errorf("%s: failure %q, want %q", name, deref(p.FailureCode), want.Failure)
		}
		if got := b.Charges(t, p); got != want.Charges {
			t.Errorf("%s: charged %d times in all, want %d", name, got, want.Charges)
		}
		// A product with two offers ends at the offer docs/routing.md's table
		// says: the first, or (failed over) the second.
		at, attempt := x.kind.At(x.scenario), int32(1)
		if at.Name != x.kind.Name {
			attempt = 2
		}
		if p.Provider != at.Provider || p.Attempt != attempt {
			t.Errorf("%s: ended at %s (attempt %d), want %s (attempt %d)", name, p.Provider, p.Attempt, at.Provider, attempt)
		}
		if p.Status == store.PurchaseStatusSucceeded {
			var r map[string]string
			_ = json.Unmarshal(p.Result, &r)
			if x.kind.Token && len(r["token"]) != 20 {
				t.Errorf("%s: succeeded without a 20-digit token: %v", name, r)
			}
			if x.scenario == "13" && x.kind.Inquiry && deref(p.Price) != 999999 {
				t.Errorf("%s: price %d, want the inquiry's 999999", name, deref(p.Price))
			}
		}
		checkPath(t, b, name, p)
	}
	// 24: SUCCESS, then FAILED/REFUND — recorded as a contradiction, not applied.
	missing := func() string {
		var m []string
		for _, x := range all {
			if x.scenario == "24" && !hasAlert(t, b, x.id, "contradiction") {
				m = append(m, x.kind.Name)
			}
		}
		rows, _ := b.Pool.Query(context.Background(), "SELECT provider, coalesce(reference,''), action, coalesce(outcome,''), authenticated, coalesce(purchase_id::text,'') FROM callbacks WHERE body LIKE '%99' || '24%' OR body LIKE '%REFUND%'")
		for rows.Next() {
			var a, r, c, d, f string
			var e bool
			_ = rows.Scan(&a, &r, &c, &d, &e, &f)
			m = append(m, fmt.Sprintf("[cb %s %s %s %s %v %s]", a, r, c, d, e, f))
		}
		rows.Close()
		return "no contradiction alert for scenario 24 of " + strings.Join(m, ", ")
	}
	flowtest.WaitFor(t, 20*time.Second, missing, func() bool {
		for _, x := range all {
			if x.scenario == "24" && !hasAlert(t, b, x.id, "contradiction") {
				return false
			}
		}
		return true
	})
}

// checkPath asserts a purchase's status events form a path of the state
// machine from received to its current status.
func checkPath(t *testing.T, b *flowtest.Env, name string, p store.Purchase) {
	t.Helper()
	events, err := b.Q.EventListByPurchase(context.Background(), p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := flow.PathError(events, flow.Status(p.Status)); err != nil {
		t.Errorf("%s: %v", name, err)
	}
}

func hasAlert(t *testing.T, b *flowtest.Env, id [16]byte, kind string) bool {
	t.Helper()
	var n int
	if err := b.Pool.QueryRow(context.Background(), "SELECT count(*) FROM alerts WHERE purchase_id = $1 AND kind = $2", id, kind).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n > 0
}

// Without a callback secret, Snapcart callbacks are hints: a one-step
// payment whose answer was lost (31) cannot be resolved by lookups and ends
// in needs_review at the deadline, never failed and never paid twice.
func TestUnsignedOneStepLostAnswerEndsInReview(t *testing.T) {
	t.Parallel()
	b := flowtest.Setup(t, flowtest.Options{})
	ctx := context.Background()
	p, _, err := b.Svc.Create(ctx, flow.CreateRequest{ClientID: b.ClientID, ReferenceID: "lost-1", ProductCode: "TSEL10", CustomerNumber: "0812339931"})
	if err != nil {
		t.Fatal(err)
	}
	flowtest.WaitFor(t, 30*time.Second, func() string { return "purchase never reached processing" }, func() bool {
		return flow.Status(b.Purchase(t, p.ID).Status) == flow.StatusProcessing
	})
	// The simulator charged it and sent its (unsigned) callback.
	flowtest.WaitFor(t, 30*time.Second, func() string { return "no callback stored" }, func() bool {
		var n int
		_ = b.Pool.QueryRow(ctx, "SELECT count(*) FROM callbacks WHERE purchase_id = $1", p.ID).Scan(&n)
		return n > 0
	})
	if got := flow.Status(b.Purchase(t, p.ID).Status); got != flow.StatusProcessing {
		t.Fatalf("an unsigned callback moved the purchase to %s", got)
	}
	b.Clock.Advance(2 * time.Hour)
	flowtest.WaitFor(t, 30*time.Second, func() string { return "not in needs_review" }, func() bool {
		return flow.Status(b.Purchase(t, p.ID).Status) == flow.StatusNeedsReview
	})
	if c := b.Charges(t, b.Purchase(t, p.ID)); c != 1 {
		t.Fatalf("charged %d times, want 1", c)
	}
}

// 50 identical creations at once make one purchase and one flow.
func TestConcurrentIdenticalCreatesMakeOnePurchase(t *testing.T) {
	t.Parallel()
	b := flowtest.Setup(t, flowtest.Options{NoStart: true})
	ctx := context.Background()
	req := flow.CreateRequest{ClientID: b.ClientID, ReferenceID: "same-1", ProductCode: "PLN20", CustomerNumber: "55 1234-5678"}
	var wg sync.WaitGroup
	ids := make([][16]byte, 50)
	createdCount := 0
	var mu sync.Mutex
	for i := range ids {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			p, created, err := b.Svc.Create(ctx, req)
			if err != nil {
				t.Errorf("create %d: %v", i, err)
				return
			}
			ids[i] = p.ID
			if created {
				mu.Lock()
				createdCount++
				mu.Unlock()
			}
		}(i)
	}
	wg.Wait()
	if createdCount != 1 {
		t.Fatalf("%d creations reported created, want 1", createdCount)
	}
	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("different purchase ids returned: %x and %x", id, ids[0])
		}
	}
	var purchases, jobs int
	if err := b.Pool.QueryRow(ctx, "SELECT count(*) FROM purchases").Scan(&purchases); err != nil {
		t.Fatal(err)
	}
	if err := b.Pool.QueryRow(ctx, "SELECT count(*) FROM river_job").Scan(&jobs); err != nil {
		t.Fatal(err)
	}
	if purchases != 1 || jobs != 1 {
		t.Fatalf("%d purchases and %d jobs, want 1 and 1", purchases, jobs)
	}
	// Same reference, other parameters: refused, naming the existing purchase.
	other := req
	other.CustomerNumber = "5512340000"
	_, _, err := b.Svc.Create(ctx, other)
	var reused *flow.ReferenceReusedError
	if !errors.As(err, &reused) || reused.Purchase.ID != ids[0] {
		t.Fatalf("different parameters: %v", err)
	}
	// Even when the other parameters are invalid for the product: the
	// client learns that its reference bought something, never only that
	// the request was bad.
	other.CustomerNumber = "12"
	if _, _, err := b.Svc.Create(ctx, other); !errors.As(err, &reused) || reused.Purchase.ID != ids[0] {
		t.Fatalf("different, invalid parameters: %v", err)
	}
	// Another reference for the same customer within the window: the guard.
	dup := req
	dup.ReferenceID = "same-2"
	_, _, err = b.Svc.Create(ctx, dup)
	var guard *flow.DuplicateError
	if !errors.As(err, &guard) || guard.Purchase.ID != ids[0] {
		t.Fatalf("duplicate guard: %v", err)
	}
	dup.AllowRepeat = true
	if _, created, err := b.Svc.Create(ctx, dup); err != nil || !created {
		t.Fatalf("allow_repeat: created=%v err=%v", created, err)
	}
}

// 30 creations at once for the same customer and product under different
// references, none allowing a repeat: the creation lock serializes them, so
// the duplicate guard lets exactly one through.
func TestConcurrentCreatesForOneCustomerBuyOnce(t *testing.T) {
	t.Parallel()
	b := flowtest.Setup(t, flowtest.Options{NoStart: true})
	ctx := context.Background()
	var (
		wg               sync.WaitGroup
		mu               sync.Mutex
		created, guarded int
	)
	for i := range 30 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, ok, err := b.Svc.Create(ctx, flow.CreateRequest{
				ClientID: b.ClientID, ReferenceID: fmt.Sprintf("race-%d", i), ProductCode: "PLN20", CustomerNumber: "551234567800",
			})
			var guard *flow.DuplicateError
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil && ok:
				created++
			case errors.As(err, &guard):
				guarded++
			default:
				t.Errorf("create race-%d: created=%v err=%v", i, ok, err)
			}
		}()
	}
	wg.Wait()
	var purchases int
	if err := b.Pool.QueryRow(ctx, "SELECT count(*) FROM purchases").Scan(&purchases); err != nil {
		t.Fatal(err)
	}
	if created != 1 || guarded != 29 || purchases != 1 {
		t.Fatalf("%d created, %d refused by the guard, %d purchases stored; want 1, 29, 1", created, guarded, purchases)
	}
}

func ptr[T any](v T) *T { return &v }

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
