package chaos

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/ppob-orchestrator/orchestrator/internal/flow"
	"github.com/ppob-orchestrator/orchestrator/internal/sandbox"
	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

// Kind is a way of buying (sandbox.Kinds: the kinds covering both
// providers, Klikoo with and without inquiry, Snapcart two-step and
// one-step, and the products routed across both).
type Kind = sandbox.Kind

// Kinds are the kinds the chaos run mixes: all of sandbox.Kinds.
var Kinds = sandbox.Kinds

// Scenarios are every scenario of sandbox.Scenarios (docs/simulators.md's
// table, and "13max") plus "" (an identifier without a scenario: plain
// success).
var Scenarios = append([]string{""}, sandbox.Scenarios...)

// Submission is how an order is sent to the API.
type Submission string

// The submissions.
const (
	SubmitOnce       Submission = "once"       // one POST
	SubmitTwice      Submission = "twice"      // the same POST again after the answer: 200, same purchase
	SubmitConcurrent Submission = "concurrent" // three identical POSTs at once: one purchase
	SubmitReused     Submission = "reused"     // then the same reference_id with other parameters: 409 reference_id_reused
)

// Order is one purchase of the run, as the client buys it.
type Order struct {
	Client      int // index of the API client buying it
	ReferenceID string
	Kind        Kind
	Scenario    string
	Submit      Submission
	// Manual is "" (confirmation automatic), "confirm" or "cancel": the
	// purchase asks for confirmation and the client confirms or cancels it
	// once it awaits confirmation.
	Manual string
	Body   map[string]any
}

// Plan returns n orders for clients API clients: every (kind, scenario) pair
// in turn, so a run of at least len(Kinds)*len(Scenarios) orders covers each,
// in an order shuffled by rng; some sent twice, concurrently or with their
// reference_id reused, some confirmed or canceled by hand. Different clients
// reuse the same reference_ids (tenancy: each owns its own).
func Plan(n, clients int, rng *rand.Rand) []Order {
	orders := make([]Order, n)
	seq := map[string]int{}
	for i := range orders {
		combo := i % (len(Kinds) * len(Scenarios))
		k, sc := Kinds[combo/len(Scenarios)], Scenarios[combo%len(Scenarios)]
		s := seq[k.Name]
		seq[k.Name]++
		cust, user, zone := k.Ident(s, sc)
		o := Order{Client: i % clients, ReferenceID: fmt.Sprintf("chaos-%06d", i/clients), Kind: k, Scenario: sc, Submit: SubmitOnce}
		o.Body = map[string]any{"reference_id": o.ReferenceID, "product_code": k.Product}
		if cust != "" {
			o.Body["customer_number"] = cust
		}
		if user != "" {
			o.Body["user_id"], o.Body["zone_id"] = user, zone
		}
		if max := sandbox.MaxPrice(sc); max != nil {
			o.Body["max_price"] = *max
		}
		switch r := rng.Float64(); {
		case r < 0.10:
			o.Submit = SubmitTwice
		case r < 0.20:
			o.Submit = SubmitConcurrent
		case r < 0.25:
			o.Submit = SubmitReused
		}
		if k.Inquiry && rng.Float64() < 0.25 {
			o.Manual = "confirm"
			if rng.IntN(2) == 0 {
				o.Manual = "cancel"
			}
			o.Body["confirmation"] = "manual"
		}
		orders[i] = o
	}
	rng.Shuffle(len(orders), func(i, j int) { orders[i], orders[j] = orders[j], orders[i] })
	return orders
}

// The alternatives' names, as Verify counts them.
const (
	AltOneStepAnswerLost     = "one_step_answer_lost"    // Snapcart one-step payment whose answer was lost and no signed callback settled it
	AltPaymentRefusalLost    = "payment_refusal_lost"    // a payment refusal (11, 12) whose answer was lost: unresolvable, needs_review
	AltInquiryUnavailable    = "inquiry_unavailable"     // every inquiry attempt ended unknown: failed provider_unavailable
	AltScenario24SuccessLost = "scenario24_success_lost" // scenario 24 whose only SUCCESS answer was lost: the provider reports the charge as failed or refunded
	AltFailoverPaused        = "failover_paused"         // an offer that failed over to a provider paused at that moment: failed there
)

// Conditions are what the run did to the service that a purchase's end
// depends on besides its order.
type Conditions struct {
	InquiryWindow time.Duration // INQUIRY_RETRY_WINDOW
	Pauses        []Pause       // providers paused through the admin API
}

// Pause is a time a provider was paused: from before the pause was asked
// for until after the resume answered.
type Pause struct {
	Provider string
	From, To time.Time
}

// Expect is how o must end, given the route its purchase was created with
// (nil: every offer of its product). The alternatives are the ends the flow's
// rules allow once a fault or a kill has lost an answer, or a pause has left
// no offer to fail over to (docs/chaos.md), each demanding its evidence from
// the purchase and its events.
func Expect(o Order, route []string, c Conditions) Expectation {
	k := along(o.Kind, route)
	at := k.At(o.Scenario)
	end := k.Expected(o.Scenario)
	want := Expectation{Status: end.Status, Charges: end.Charges, Failure: end.Failure}
	routed := o.Kind.Then != nil
	if routed {
		want.Provider = at.Provider
	}
	if o.Manual == "cancel" && k.Inquiry && !refusedBy(k, end, true) {
		want = Expectation{Status: flow.StatusCanceled}
	}
	// The purchase ends at the offer docs/routing.md's table names, or earlier:
	// at an offer where a lost answer left money maybe moved (no failover
	// then), or whose next provider was paused when it failed over.
	for x := k; ; x = *x.Then {
		alone := x
		alone.Then = nil
		for _, a := range alternatives(o, alone, want, c.InquiryWindow) {
			if x.Name != at.Name && a.Status == flow.StatusFailed && (sandbox.End{Status: a.Status, Failure: a.Failure}).FailsOver() {
				continue // an offer that fails so moves on
			}
			if routed {
				a.When = atProvider(x.Provider, a.When)
			}
			want.Or = append(want.Or, a)
		}
		if x.Name == at.Name {
			return want
		}
		own := alone.Expected(o.Scenario)
		want.Or = append(want.Or, Alternative{Name: AltFailoverPaused, Status: own.Status, Charges: []int{0}, Failure: own.Failure,
			When: atProvider(x.Provider, failedWhilePaused(x.Then.Provider, c.Pauses))})
	}
}

// along is kind k with only the offers of route, in its order (a provider
// paused when the purchase was created is not in it).
func along(k Kind, route []string) Kind {
	if route == nil {
		return k
	}
	var offers []Kind
	for _, provider := range route {
		for x := &k; x != nil; x = x.Then {
			if x.Provider == provider {
				offers = append(offers, *x)
			}
		}
	}
	if len(offers) == 0 {
		return k
	}
	for i := len(offers) - 1; i >= 0; i-- {
		offers[i].Then = nil
		if i+1 < len(offers) {
			offers[i].Then = &offers[i+1]
		}
	}
	return offers[0]
}

// alternatives are the ends a lost answer allows a purchase of order o at
// the single offer k, beside want.
func alternatives(o Order, k Kind, want Expectation, inquiryWindow time.Duration) []Alternative {
	var or []Alternative
	end := k.Expected(o.Scenario)
	charged := []int{0}
	if end.Charges == 1 || o.Scenario == "31" || o.Scenario == "33" || o.Scenario == "34" || o.Scenario == "35" {
		charged = []int{0, 1}
	}
	if k.OneStep && end.Status != flow.StatusNeedsReview && want.Status != flow.StatusCanceled {
		// Invariant 3 (docs/invariants.md#3-unknown-is-not-failed): a
		// one-step payment whose answer is lost can be settled only by a
		// signed callback.
		or = append(or, Alternative{Name: AltOneStepAnswerLost, Status: flow.StatusNeedsReview, Charges: charged, When: paymentUncertain})
	}
	if refusedBy(k, end, false) {
		// A refusal nobody heard: lookups find nothing, repeats are refused
		// again, and a refused repeat proves nothing (invariant 4).
		or = append(or, Alternative{Name: AltPaymentRefusalLost, Status: flow.StatusNeedsReview, Charges: []int{0}, When: paymentUncertain})
	}
	if k.Inquires {
		// An inquiry that keeps answering 5xx or timing out is retried for
		// INQUIRY_RETRY_WINDOW, then fails; it moved no money. The verdict
		// follows the flow's own rule, from what the database records: no
		// inquiry answered, and the failure came at least the window after
		// the first answer that did not do.
		or = append(or, Alternative{Name: AltInquiryUnavailable, Status: flow.StatusFailed, Charges: []int{0}, Failure: "provider_unavailable",
			When: func(_ store.Purchase, ev []store.PurchaseEvent) bool { return inquiryGaveUp(ev, inquiryWindow) }})
	}
	if o.Scenario == "24" {
		// 24 answers SUCCESS to the first lookup only, then FAILED/REFUND:
		// when that one SUCCESS answer is lost, the provider's own word is
		// failed (Snapcart) or refunded (Klikoo, which leaves it open). It is
		// lost to a fault (a lookup recorded unknown) or to a kill or a
		// database restart between the answer and its commit (nothing
		// recorded, but the provider already gives its later word) — or
		// never asked for: the provider's signed FAILED callback can come
		// before the first lookup runs. Either way no lookup or callback
		// may have recorded the SUCCESS: a flow that heard it and still
		// ended elsewhere is wrong.
		lostLookup := func(_ store.Purchase, ev []store.PurchaseEvent) bool {
			later := countCalls(ev, "lookup: refunded") + countCalls(ev, "lookup: failed") +
				countNamed(ev, "callback", "callback: refunded") + countNamed(ev, "callback", "callback: failed")
			heard := countCalls(ev, "lookup: succeeded") + countNamed(ev, "callback", "callback: succeeded")
			return heard == 0 && (countCalls(ev, "lookup: unknown") > 0 || later > 0)
		}
		or = append(or,
			Alternative{Name: AltScenario24SuccessLost, Status: flow.StatusFailed, Charges: []int{1}, When: lostLookup},
			Alternative{Name: AltScenario24SuccessLost, Status: flow.StatusNeedsReview, Charges: []int{1}, When: lostLookup})
	}
	return or
}

// refusedBy reports whether the provider refuses a purchase of kind k that
// ends so (no charge) at its inquiry (inquiry true) or at its first payment
// call: a customer it does not know (11), a product closed (15–17) or a
// price above max_price (13) at the inquiry when there is one, else at the
// payment; an insufficient deposit (12) always at the payment.
func refusedBy(k Kind, end sandbox.End, inquiry bool) bool {
	if end.Status != flow.StatusFailed || end.Charges != 0 {
		return false
	}
	switch end.Failure {
	case "insufficient_balance":
		return !inquiry
	case "customer_not_found", "product_unavailable":
		return inquiry == k.Inquiry
	case "price_exceeds_max":
		return inquiry && k.Inquiry
	}
	return false
}

// atProvider narrows evidence to purchases whose current attempt is at
// provider: an alternative of one offer says nothing of another's.
func atProvider(provider string, when func(store.Purchase, []store.PurchaseEvent) bool) func(store.Purchase, []store.PurchaseEvent) bool {
	return func(p store.Purchase, ev []store.PurchaseEvent) bool {
		return p.Provider == provider && (when == nil || when(p, ev))
	}
}

// pauseSlack widens a pause on both sides: the failover's transaction reads
// the pause, and stamps its event, a moment apart from the chaos run's clock.
const pauseSlack = 2 * time.Second

// failedWhilePaused is the evidence that a purchase failed where it would
// have failed over, because next was paused then (docs/routing.md condition 4):
// its failing event falls within one of next's pauses.
func failedWhilePaused(next string, pauses []Pause) func(store.Purchase, []store.PurchaseEvent) bool {
	return func(_ store.Purchase, ev []store.PurchaseEvent) bool {
		for _, e := range ev {
			if e.Kind != "status" || e.ToStatus == nil || *e.ToStatus != store.PurchaseStatusFailed {
				continue
			}
			for _, p := range pauses {
				if p.Provider == next && !e.CreatedAt.Before(p.From.Add(-pauseSlack)) && !e.CreatedAt.After(p.To.Add(pauseSlack)) {
					return true
				}
			}
		}
		return false
	}
}

// paymentUncertain is the evidence that a payment call's outcome was lost:
// the flow marks a purchase so when a payment answer was unknown or a
// payment job found its attempt in flight after a crash.
func paymentUncertain(p store.Purchase, _ []store.PurchaseEvent) bool { return p.PaymentUncertain }

// countCalls counts the provider-call events of a given name
// ("<operation>: <outcome>").
// inquiryGaveUp reports whether events show an inquiry given up by the
// flow's rule: no inquiry call succeeded, and the purchase failed at least
// window after its first inquiry call that got no answer.
func inquiryGaveUp(events []store.PurchaseEvent, window time.Duration) bool {
	var first, failed time.Time
	for _, e := range events {
		switch {
		case e.Kind == "provider_call" && e.Name == "inquiry: succeeded":
			return false
		case e.Kind == "provider_call" && (e.Name == "inquiry: unknown" || e.Name == "inquiry: rejected") && first.IsZero():
			first = e.CreatedAt
		case e.Kind == "status" && e.ToStatus != nil && *e.ToStatus == store.PurchaseStatusFailed:
			failed = e.CreatedAt
		}
	}
	return !first.IsZero() && !failed.IsZero() && failed.Sub(first) >= window
}

func countCalls(events []store.PurchaseEvent, name string) int {
	return countNamed(events, "provider_call", name)
}

// countNamed counts the events of a kind and name.
func countNamed(events []store.PurchaseEvent, kind, name string) int {
	n := 0
	for _, e := range events {
		if e.Kind == kind && e.Name == name {
			n++
		}
	}
	return n
}
