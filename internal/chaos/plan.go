package chaos

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/ppob-orchestrator/orchestrator/internal/flow"
	"github.com/ppob-orchestrator/orchestrator/internal/sandbox"
	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

// Kind is a way of buying (sandbox.Kinds: the five kinds covering both
// providers, Klikoo with and without inquiry, Snapcart two-step and
// one-step).
type Kind = sandbox.Kind

// Kinds are the kinds the chaos run mixes: all of sandbox.Kinds.
var Kinds = sandbox.Kinds

// Scenarios are every scenario of sandbox.Scenarios (providers.md's table,
// and "13max") plus "" (an identifier without a scenario: plain success).
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
)

// Expect is how o must end. The alternatives are the ends flow.md and
// providers.md allow once a fault or a kill has lost an answer, each
// demanding its evidence from the purchase and its events.
func Expect(o Order, inquiryWindow time.Duration) Expectation {
	end := o.Kind.Expected(o.Scenario)
	want := Expectation{Status: end.Status, Charges: end.Charges, Failure: end.Failure}
	inquiryFails := o.Scenario == "11" || (o.Scenario == "13max" && o.Kind.Inquiry)
	if o.Manual == "cancel" && o.Kind.Inquiry && !inquiryFails {
		want = Expectation{Status: flow.StatusCanceled}
	}

	charged := []int{0}
	if want.Charges == 1 || o.Scenario == "31" || o.Scenario == "33" || o.Scenario == "34" || o.Scenario == "35" {
		charged = []int{0, 1}
	}
	if o.Kind.OneStep && want.Status != flow.StatusNeedsReview {
		// flow.md invariant 3 and providers.md: a one-step payment whose
		// answer is lost can be settled only by a signed callback.
		want.Or = append(want.Or, Alternative{Name: AltOneStepAnswerLost, Status: flow.StatusNeedsReview, Charges: charged, When: paymentUncertain})
	}
	if o.Scenario == "12" || (o.Scenario == "11" && !o.Kind.Inquiry) {
		// A refusal nobody heard: lookups find nothing, repeats are refused
		// again, and a refused repeat proves nothing (invariant 4).
		want.Or = append(want.Or, Alternative{Name: AltPaymentRefusalLost, Status: flow.StatusNeedsReview, Charges: []int{0}, When: paymentUncertain})
	}
	if o.Kind.Inquires {
		// An inquiry that keeps answering 5xx or timing out is retried for
		// INQUIRY_RETRY_WINDOW, then fails; it moved no money. The verdict
		// follows the flow's own rule, from what the database records: no
		// inquiry answered, and the failure came at least the window after
		// the first answer that did not do.
		want.Or = append(want.Or, Alternative{Name: AltInquiryUnavailable, Status: flow.StatusFailed, Charges: []int{0}, Failure: "provider_unavailable",
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
		want.Or = append(want.Or,
			Alternative{Name: AltScenario24SuccessLost, Status: flow.StatusFailed, Charges: []int{1}, When: lostLookup},
			Alternative{Name: AltScenario24SuccessLost, Status: flow.StatusNeedsReview, Charges: []int{1}, When: lostLookup})
	}
	return want
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
