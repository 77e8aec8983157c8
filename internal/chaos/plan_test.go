package chaos

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ppob-orchestrator/orchestrator/internal/flow"
	"github.com/ppob-orchestrator/orchestrator/internal/providers/klikoo"
	"github.com/ppob-orchestrator/orchestrator/internal/providers/snapcart"
	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

// A plan of at least one round covers every kind with every scenario, every
// way of submitting, manual confirmations and cancellations; reference_ids
// are unique per client and shared across clients; identifiers end as the
// simulators read them.
func TestPlanCoversEverything(t *testing.T) {
	t.Parallel()
	orders := Plan(300, 2, rand.New(rand.NewPCG(1, 2)))
	if len(orders) != 300 {
		t.Fatalf("%d orders, want 300", len(orders))
	}
	pairs := map[string]bool{}
	submits := map[Submission]int{}
	manual := map[string]int{}
	refs := map[int]map[string]bool{0: {}, 1: {}}
	idents := map[string]bool{}
	for _, o := range orders {
		pairs[o.Kind.Name+"/"+o.Scenario] = true
		submits[o.Submit]++
		manual[o.Manual]++
		if refs[o.Client][o.ReferenceID] {
			t.Errorf("client %d uses %s twice", o.Client, o.ReferenceID)
		}
		refs[o.Client][o.ReferenceID] = true
		id, _ := o.Body["customer_number"].(string)
		if id == "" {
			id, _ = o.Body["user_id"].(string)
		}
		if idents[o.Kind.Product+id] {
			t.Errorf("identifier %s used twice for %s", id, o.Kind.Product)
		}
		idents[o.Kind.Product+id] = true
		xx := o.Scenario
		if xx == "13max" {
			xx = "13"
		}
		if got := id[len(id)-4:]; xx != "" && got != "99"+xx {
			t.Errorf("%s plays %q with identifier %s", o.ReferenceID, o.Scenario, id)
		} else if xx == "" && got[:2] == "99" {
			t.Errorf("%s plays no scenario but its identifier %s ends in 99XX", o.ReferenceID, id)
		}
		if o.Manual != "" && !o.Kind.Inquiry {
			t.Errorf("%s asks for confirmation of a product without inquiry", o.ReferenceID)
		}
	}
	for _, k := range Kinds {
		for _, sc := range Scenarios {
			if !pairs[k.Name+"/"+sc] {
				t.Errorf("no order of %s with scenario %q", k.Name, sc)
			}
		}
	}
	for _, s := range []Submission{SubmitOnce, SubmitTwice, SubmitConcurrent, SubmitReused} {
		if submits[s] == 0 {
			t.Errorf("no order submitted %s", s)
		}
	}
	if manual["confirm"] == 0 || manual["cancel"] == 0 {
		t.Errorf("manual orders: %v, want some confirmed and some canceled", manual)
	}
	shared := 0
	for ref := range refs[0] {
		if refs[1][ref] {
			shared++
		}
	}
	if shared == 0 {
		t.Error("the two clients share no reference_id")
	}
}

// endCase is an end a purchase reached, and the alternative Expect must
// accept it as ("" for none).
type endCase struct {
	name     string
	order    Order
	p        store.Purchase
	events   []store.PurchaseEvent
	st       flow.Status
	charges  int
	failure  string
	accepted string
}

func kind(name string) Kind {
	i := slices.IndexFunc(Kinds, func(k Kind) bool { return k.Name == name })
	return Kinds[i]
}

// Expect is docs/simulators.md's table per kind, and its alternatives need
// their evidence.
func TestExpect(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		kind, scenario, manual string
		want                   flow.Status
		charges                int
		failure                string
	}{
		{"klikoo-pln", "00", "", flow.StatusSucceeded, 1, ""},
		{"klikoo-pln", "11", "", flow.StatusFailed, 0, "customer_not_found"},
		{"klikoo-pln", "11", "cancel", flow.StatusFailed, 0, "customer_not_found"},
		{"klikoo-pln", "13max", "", flow.StatusFailed, 0, "price_exceeds_max"},
		{"klikoo-pulsa", "13max", "", flow.StatusSucceeded, 1, ""},
		{"snapcart-bill", "21", "cancel", flow.StatusCanceled, 0, ""},
		{"snapcart-bill", "32", "confirm", flow.StatusSucceeded, 1, ""},
		{"snapcart-pulsa", "32", "", flow.StatusNeedsReview, 0, ""},
		{"snapcart-voucher", "41", "", flow.StatusNeedsReview, 0, ""},
		{"snapcart-pulsa", "22", "", flow.StatusFailed, 0, "transaction_failed"},
		{"klikoo-pulsa", "12", "", flow.StatusFailed, 0, "insufficient_balance"},
		// A product closed at the inquiry leaves nothing to cancel.
		{"snapcart-bill", "16", "cancel", flow.StatusFailed, 0, "product_unavailable"},
		{"klikoo-pln", "15", "cancel", flow.StatusFailed, 0, "product_unavailable"},
		{"klikoo-pln", "16", "cancel", flow.StatusCanceled, 0, ""},
		{"klikoo-pln", "12", "cancel", flow.StatusCanceled, 0, ""},
	} {
		e := Expect(Order{Kind: kind(c.kind), Scenario: c.scenario, Manual: c.manual}, nil, Conditions{InquiryWindow: time.Minute})
		if e.Status != c.want || e.Charges != c.charges || e.Failure != c.failure {
			t.Errorf("%s/%s/%s: %s %d %q, want %s %d %q", c.kind, c.scenario, c.manual, e.Status, e.Charges, e.Failure, c.want, c.charges, c.failure)
		}
	}

	certain := store.Purchase{ID: uuid.New()}
	uncertain := store.Purchase{ID: uuid.New(), PaymentUncertain: true}
	lostLookup := []store.PurchaseEvent{{Kind: "provider_call", Name: "lookup: unknown"}}
	for _, c := range []endCase{
		{"one-step success lost, no callback", Order{Kind: kind("snapcart-pulsa"), Scenario: "31"}, uncertain, nil, flow.StatusNeedsReview, 1, "", AltOneStepAnswerLost},
		{"one-step success never lost", Order{Kind: kind("snapcart-pulsa"), Scenario: "00"}, certain, nil, flow.StatusNeedsReview, 1, "", ""},
		{"one-step refusal lost charged", Order{Kind: kind("snapcart-pulsa"), Scenario: "12"}, uncertain, nil, flow.StatusNeedsReview, 1, "", ""},
		{"two-step success lost", Order{Kind: kind("snapcart-bill"), Scenario: "31"}, uncertain, nil, flow.StatusNeedsReview, 1, "", ""},
		{"klikoo refusal lost", Order{Kind: kind("klikoo-pulsa"), Scenario: "11"}, uncertain, nil, flow.StatusNeedsReview, 0, "", AltPaymentRefusalLost},
		{"klikoo closed product's refusal lost", Order{Kind: kind("klikoo-pulsa"), Scenario: "17"}, uncertain, nil, flow.StatusNeedsReview, 0, "", AltPaymentRefusalLost},
		{"an inquiry's refusal is never a lost payment", Order{Kind: kind("klikoo-pln"), Scenario: "15"}, uncertain, nil, flow.StatusNeedsReview, 0, "", ""},
		{"klikoo refusal heard", Order{Kind: kind("klikoo-pulsa"), Scenario: "12"}, certain, nil, flow.StatusNeedsReview, 0, "", ""},
		{"24 success lost, refunded", Order{Kind: kind("klikoo-pln"), Scenario: "24"}, certain, lostLookup, flow.StatusNeedsReview, 1, "", AltScenario24SuccessLost},
		{"24 success never asked for: the signed FAILED callback came first", Order{Kind: kind("snapcart-voucher"), Scenario: "24"}, certain, []store.PurchaseEvent{{Kind: "callback", Name: "callback: failed"}}, flow.StatusFailed, 1, "transaction_failed", AltScenario24SuccessLost},
		{"24 success heard by a callback, then failed", Order{Kind: kind("snapcart-voucher"), Scenario: "24"}, certain, []store.PurchaseEvent{{Kind: "callback", Name: "callback: succeeded"}, {Kind: "callback", Name: "callback: failed"}}, flow.StatusFailed, 1, "transaction_failed", ""},
		{"24 success lost to a kill, refunded", Order{Kind: kind("klikoo-pulsa"), Scenario: "24"}, certain, []store.PurchaseEvent{{Kind: "provider_call", Name: "lookup: refunded"}}, flow.StatusNeedsReview, 1, "", AltScenario24SuccessLost},
		{"24 success heard, then ignored", Order{Kind: kind("klikoo-pulsa"), Scenario: "24"}, certain, []store.PurchaseEvent{{Kind: "provider_call", Name: "lookup: succeeded"}, {Kind: "provider_call", Name: "lookup: refunded"}}, flow.StatusNeedsReview, 1, "", ""},
		{"24 failed without a lost lookup", Order{Kind: kind("snapcart-bill"), Scenario: "24"}, certain, nil, flow.StatusFailed, 1, "transaction_failed", ""},
		{"inquiry unavailable for the window", Order{Kind: kind("klikoo-pln"), Scenario: "14"}, certain, inquiryFor(time.Minute, "inquiry: unknown", "inquiry: rejected"), flow.StatusFailed, 0, "provider_unavailable", AltInquiryUnavailable},
		{"inquiry failed before the window, however many calls", Order{Kind: kind("klikoo-pln"), Scenario: "14"}, certain, inquiryFor(59*time.Second, "inquiry: unknown", "inquiry: unknown", "inquiry: unknown", "inquiry: unknown", "inquiry: unknown"), flow.StatusFailed, 0, "provider_unavailable", ""},
		{"inquiry answered once", Order{Kind: kind("klikoo-pln"), Scenario: "14"}, certain, inquiryFor(2*time.Minute, "inquiry: unknown", "inquiry: succeeded", "inquiry: unknown"), flow.StatusFailed, 0, "provider_unavailable", ""},
	} {
		e := Expect(c.order, nil, Conditions{InquiryWindow: time.Minute})
		got := ""
		if a := matchAlternative(e.Or, c.p, c.events, c.st, c.charges, c.failure); a != nil {
			got = a.Name
		}
		if got != c.accepted {
			t.Errorf("%s: accepted as %q, want %q", c.name, got, c.accepted)
		}
	}
}

// inquiryFor is the event log of a purchase whose inquiry calls (names)
// came one second apart from t0, and which failed d after the first.
func inquiryFor(d time.Duration, names ...string) []store.PurchaseEvent {
	t0 := time.Date(2026, 11, 30, 1, 0, 0, 0, time.UTC)
	var out []store.PurchaseEvent
	for i, n := range names {
		out = append(out, store.PurchaseEvent{Kind: "provider_call", Name: n, CreatedAt: t0.Add(time.Duration(i) * time.Second)})
	}
	failed := store.PurchaseStatusFailed
	return append(out, store.PurchaseEvent{Kind: "status", Name: "fail", ToStatus: &failed, CreatedAt: t0.Add(d)})
}

// A product with two offers ends where docs/routing.md's table says, along the
// route its purchase was created with; earlier offers' alternatives need
// the purchase to be at that offer, and a failover a pause prevented needs
// its failing event inside the pause.
func TestExpectRouted(t *testing.T) {
	t.Parallel()
	both := []string{klikoo.Name, snapcart.Name}
	for _, c := range []struct {
		kind, scenario string
		route          []string
		st             flow.Status
		failure        string
		provider       string
	}{
		{"routed-pulsa", "15", both, flow.StatusSucceeded, "", snapcart.Name},
		{"routed-pulsa", "15", []string{snapcart.Name}, flow.StatusSucceeded, "", snapcart.Name},
		{"routed-pulsa", "00", both, flow.StatusSucceeded, "", klikoo.Name},
		{"routed-pulsa", "17", both, flow.StatusFailed, "product_unavailable", snapcart.Name},
		{"routed-data", "16", []string{snapcart.Name, klikoo.Name}, flow.StatusSucceeded, "", klikoo.Name},
		{"routed-data", "16", nil, flow.StatusSucceeded, "", klikoo.Name},
		// Klikoo paused when it was created: a route of Snapcart alone.
		{"routed-data", "16", []string{snapcart.Name}, flow.StatusFailed, "product_unavailable", snapcart.Name},
		{"klikoo-pulsa", "15", []string{klikoo.Name}, flow.StatusFailed, "product_unavailable", ""},
	} {
		e := Expect(Order{Kind: kind(c.kind), Scenario: c.scenario}, c.route, Conditions{InquiryWindow: time.Minute})
		if e.Status != c.st || e.Failure != c.failure || e.Provider != c.provider {
			t.Errorf("%s/%s along %v: %s %q at %q, want %s %q at %q", c.kind, c.scenario, c.route, e.Status, e.Failure, e.Provider, c.st, c.failure, c.provider)
		}
	}

	t0 := time.Date(2026, 11, 30, 1, 0, 0, 0, time.UTC)
	pauses := []Pause{{Provider: klikoo.Name, From: t0, To: t0.Add(30 * time.Second)}}
	failedAt := func(at time.Time) []store.PurchaseEvent {
		failed := store.PurchaseStatusFailed
		return []store.PurchaseEvent{{Kind: "status", Name: "fail", ToStatus: &failed, CreatedAt: at}}
	}
	at := func(provider string, uncertain bool) store.Purchase {
		return store.Purchase{ID: uuid.New(), Provider: provider, PaymentUncertain: uncertain}
	}
	for _, c := range []endCase{
		{"failover to a paused provider", Order{Kind: kind("routed-data"), Scenario: "16"}, at(snapcart.Name, false), failedAt(t0.Add(10 * time.Second)), flow.StatusFailed, 0, "product_unavailable", AltFailoverPaused},
		{"no failover though the provider was back", Order{Kind: kind("routed-data"), Scenario: "16"}, at(snapcart.Name, false), failedAt(t0.Add(time.Minute)), flow.StatusFailed, 0, "product_unavailable", ""},
		{"no failover with nothing paused", Order{Kind: kind("routed-pulsa"), Scenario: "15"}, at(klikoo.Name, false), failedAt(t0.Add(10 * time.Second)), flow.StatusFailed, 0, "product_unavailable", ""},
		{"a failed end at the wrong provider", Order{Kind: kind("routed-data"), Scenario: "16"}, at(klikoo.Name, false), failedAt(t0.Add(10 * time.Second)), flow.StatusFailed, 0, "product_unavailable", ""},
		{"first offer's refusal lost", Order{Kind: kind("routed-pulsa"), Scenario: "12"}, at(klikoo.Name, true), nil, flow.StatusNeedsReview, 0, "", AltPaymentRefusalLost},
		// Snapcart's offer is one-step: its lost refusal is a lost one-step answer.
		{"second offer's refusal lost", Order{Kind: kind("routed-pulsa"), Scenario: "12"}, at(snapcart.Name, true), nil, flow.StatusNeedsReview, 0, "", AltOneStepAnswerLost},
		{"second offer's refusal lost, charged", Order{Kind: kind("routed-pulsa"), Scenario: "12"}, at(snapcart.Name, true), nil, flow.StatusNeedsReview, 1, "", ""},
		{"one-step first offer's answer lost", Order{Kind: kind("routed-data"), Scenario: "00"}, at(snapcart.Name, true), nil, flow.StatusNeedsReview, 1, "", AltOneStepAnswerLost},
		{"a one-step rule at the two-step offer", Order{Kind: kind("routed-data"), Scenario: "16"}, at(klikoo.Name, true), nil, flow.StatusNeedsReview, 1, "", ""},
		{"one-step second offer's answer lost", Order{Kind: kind("routed-pulsa"), Scenario: "15"}, at(snapcart.Name, true), nil, flow.StatusNeedsReview, 0, "", AltOneStepAnswerLost},
	} {
		e := Expect(c.order, nil, Conditions{InquiryWindow: time.Minute, Pauses: pauses})
		got := ""
		if a := matchAlternative(e.Or, c.p, c.events, c.st, c.charges, c.failure); a != nil {
			got = a.Name
		}
		if got != c.accepted {
			t.Errorf("%s: accepted as %q, want %q", c.name, got, c.accepted)
		}
	}

	for _, c := range []struct {
		kind      string
		sent      time.Time
		explained bool
	}{
		{"klikoo-pulsa", t0.Add(5 * time.Second), true},
		{"klikoo-pln", t0.Add(-time.Second), true}, // answered within the slack
		{"klikoo-pulsa", t0.Add(time.Minute), false},
		{"routed-pulsa", t0.Add(5 * time.Second), false}, // Snapcart still sells it
		{"snapcart-pulsa", t0.Add(5 * time.Second), false},
	} {
		f := refusal{order: Order{Kind: kind(c.kind)}, sent: c.sent, answeredAt: c.sent.Add(100 * time.Millisecond)}
		if got := refusedWhilePaused(f, pauses); got != c.explained {
			t.Errorf("%s refused at %s: explained by the pause %v, want %v", c.kind, c.sent.Format(time.TimeOnly), got, c.explained)
		}
	}
}
