package flow

import (
	"testing"
	"time"

	"github.com/ppob-orchestrator/orchestrator/internal/providers"
	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

// paymentIntent, branch by branch.
func TestPaymentIntent(t *testing.T) {
	t.Parallel()
	price := Price{Amount: 10150, Fresh: true}
	lookup := []Job{{Kind: JobLookup, After: 5 * time.Second}}
	intended := func(attempts int32) func(*testing.T, Step) {
		return func(t *testing.T, st Step) {
			p := st.Purchase
			if p.PaymentAttempts != attempts || !p.PaymentInFlight || !p.PaymentLastSentAt.Equal(t0) || p.NotFoundStreak != 0 {
				t.Errorf("intent: attempts %d (want %d), in flight %v, sent %v, streak %d", p.PaymentAttempts, attempts, p.PaymentInFlight, p.PaymentLastSentAt, p.NotFoundStreak)
			}
		}
	}
	due := func(p *store.Purchase) { p.NotFoundStreak = 2 }
	for _, c := range []struct {
		name   string
		p      store.Purchase
		repeat int
		cat    Price
		pol    providers.Policy
		want   want
	}{
		{"no inquiry: the catalog price, the intent, the call", purchase(StatusReceived), 0, price, byReference,
			want{status: StatusPaying, moves: []string{"pay"}, call: true, check: func(t *testing.T, st Step) {
				intended(1)(t, st)
				if deref(st.Purchase.Amount) != 10150 || deref(st.Purchase.ProviderReference) != fresh {
					t.Errorf("amount %d reference %s", deref(st.Purchase.Amount), deref(st.Purchase.ProviderReference))
				}
			}}},
		{"no inquiry, no price: product_unavailable", purchase(StatusReceived), 0, Price{}, byReference,
			want{status: StatusFailed, moves: []string{"fail"}, failure: "product_unavailable"}},
		{"no inquiry, above max_price", purchase(StatusReceived, maxPrice(10000)), 0, price, byReference,
			want{status: StatusFailed, moves: []string{"fail"}, failure: "price_exceeds_max"}},
		{"no inquiry, stale under max_price: waits, no call", purchase(StatusReceived, maxPrice(20000)), 0, Price{Amount: 10150}, byReference,
			want{status: StatusReceived, notes: []string{"price_unknown"}, snooze: true}},
		{"no inquiry, stale under max_price past the window", purchase(StatusReceived, maxPrice(20000), retryingSince(3*time.Minute)), 0, Price{Amount: 10150}, byReference,
			want{status: StatusFailed, moves: []string{"fail"}, failure: "provider_unavailable"}},
		{"no inquiry, stale, no max_price: paid at it", purchase(StatusReceived), 0, Price{Amount: 10150}, byReference,
			want{status: StatusPaying, moves: []string{"pay"}, call: true, check: intended(1)}},
		{"an attempt in flight (invariant 2): unknown, never called again", purchase(StatusPaying, inFlight), 0, Price{}, byReference,
			want{status: StatusProcessing, moves: []string{"payment_outcome_unknown"}, jobs: lookup, check: func(t *testing.T, st Step) {
				if st.Purchase.PaymentInFlight || !st.Purchase.PaymentUncertain || st.Purchase.PaymentAttempts != 1 {
					t.Errorf("in flight %v, uncertain %v, attempts %d", st.Purchase.PaymentInFlight, st.Purchase.PaymentUncertain, st.Purchase.PaymentAttempts)
				}
			}}},
		{"paying after a refusal: the next attempt", purchase(StatusPaying), 0, Price{}, byReference,
			want{status: StatusPaying, call: true, check: intended(2)}},
		{"moved on (a signed callback): nothing", purchase(StatusSucceeded), 0, Price{}, byReference,
			want{status: StatusSucceeded}},
		{"repeat due (invariant 3): the same reference again", purchase(StatusProcessing, due), 2, Price{}, byReference,
			want{status: StatusProcessing, call: true, notes: []string{"payment_repeat"}, check: func(t *testing.T, st Step) {
				intended(2)(t, st)
				if deref(st.Purchase.ProviderReference) != "ref-1" {
					t.Error("the repeat changed the reference")
				}
			}}},
		{"repeat after one not_found only", purchase(StatusProcessing, streak(1)), 2, Price{}, byReference,
			want{status: StatusProcessing}},
		{"repeat too soon after the last send", purchase(StatusProcessing, due, func(p *store.Purchase) { p.PaymentLastSentAt = ptr(t0.Add(-time.Minute)) }), 2, Price{}, byReference,
			want{status: StatusProcessing}},
		{"repeat of a payment the provider does not dedupe (one-step)", purchase(StatusProcessing, due), 2, Price{}, byRequestID,
			want{status: StatusProcessing}},
		{"repeat of a two-step payment", purchase(StatusProcessing, due, withRequestID), 2, Price{}, byRequestID,
			want{status: StatusProcessing, call: true, notes: []string{"payment_repeat"}, check: intended(2)}},
		{"repeat crashed mid-call: unknown, never called again", purchase(StatusProcessing, inFlight, func(p *store.Purchase) { p.PaymentAttempts = 2; p.NotFoundStreak = 1 }), 2, Price{}, byReference,
			want{status: StatusProcessing, notes: []string{"payment_repeat_outcome_unknown"}, check: func(t *testing.T, st Step) {
				if st.Purchase.PaymentInFlight || st.Purchase.NotFoundStreak != 0 || st.Purchase.PaymentAttempts != 2 {
					t.Errorf("in flight %v, streak %d, attempts %d", st.Purchase.PaymentInFlight, st.Purchase.NotFoundStreak, st.Purchase.PaymentAttempts)
				}
			}}},
		{"repeat delivered again after its answer: nothing", purchase(StatusProcessing, due, func(p *store.Purchase) { p.PaymentAttempts = 2 }), 2, Price{}, byReference,
			want{status: StatusProcessing}},
		{"repeat job for an ended purchase", purchase(StatusSucceeded), 2, Price{}, byReference,
			want{status: StatusSucceeded}},
	} {
		c.want.verify(t, c.name, paymentIntent(c.p, c.repeat, c.cat, fresh, Unread, t0, c.pol, rules))
	}
}

func payment(o providers.Outcome) providers.Payment {
	return providers.Payment{Result: providers.Result{Outcome: o, Calls: []providers.Call{{Code: "x"}}}, TransactionID: "T1"}
}

func paymentFailed(r providers.Reason) providers.Payment {
	a := payment(providers.Failed)
	a.Reason = r
	return a
}

func paymentSucceeded(serial string) providers.Payment {
	a := payment(providers.Succeeded)
	a.Status = providers.Status{Result: providers.Result{Outcome: providers.Succeeded}, SerialNumber: serial, TransactionID: "T1"}
	return a
}

// afterPayment, branch by branch.
func TestAfterPayment(t *testing.T) {
	t.Parallel()
	lookup := []Job{{Kind: JobLookup, After: 5 * time.Second}}
	certain := func(p *store.Purchase) { p.PaymentUncertain = false }
	repeating := func(p *store.Purchase) { p.PaymentAttempts = 2; p.PaymentInFlight = true }
	uncertain := func(t *testing.T, st Step) {
		if !st.Purchase.PaymentUncertain || st.Purchase.PaymentInFlight {
			t.Errorf("uncertain %v, in flight %v", st.Purchase.PaymentUncertain, st.Purchase.PaymentInFlight)
		}
	}
	for _, c := range []struct {
		name   string
		p      store.Purchase
		ans    providers.Payment
		repeat int
		held   bool
		want   want
	}{
		{"ended: a rejection contradicts a success (defect 9)", purchase(StatusSucceeded), paymentFailed(providers.ReasonProductUnavailable), 0, false,
			want{status: StatusSucceeded, notes: []string{"contradiction"}, alerts: []string{"contradiction"}}},
		{"ended: a success contradicts a failure (defect 9)", purchase(StatusFailed), paymentSucceeded("SN"), 2, false,
			want{status: StatusFailed, notes: []string{"contradiction"}, alerts: []string{"contradiction"}}},
		{"ended: an acceptance says nothing", purchase(StatusSucceeded), payment(providers.Pending), 0, false,
			want{status: StatusSucceeded}},
		{"a final success at once", purchase(StatusPaying, inFlight, certain), paymentSucceeded("SN-1"), 0, false,
			want{status: StatusSucceeded, moves: []string{"succeed"}}},
		{"a PLN success without its token waits (invariant 11)", purchase(StatusPaying, inFlight, certain, pln), paymentSucceeded(""), 0, false,
			want{status: StatusProcessing, moves: []string{"success_without_token"}, jobs: lookup, alerts: []string{"missing_token"}}},
		{"accepted: processing", purchase(StatusPaying, inFlight, certain), payment(providers.Pending), 0, false,
			want{status: StatusProcessing, moves: []string{"payment_accepted"}, jobs: lookup, check: uncertain}},
		{"a definitive rejection of the first call: failed", purchase(StatusPaying, inFlight, certain), paymentFailed(providers.ReasonProductUnavailable), 0, false,
			want{status: StatusFailed, moves: []string{"fail"}, failure: "product_unavailable"}},
		{"insufficient deposit alerts", purchase(StatusPaying, inFlight, certain), paymentFailed(providers.ReasonInsufficientBal), 0, false,
			want{status: StatusFailed, moves: []string{"fail"}, failure: "insufficient_balance", alerts: []string{"insufficient_balance"}}},
		{"a rejection after an unknown attempt proves nothing (invariant 4)", purchase(StatusPaying, inFlight, func(p *store.Purchase) { p.PaymentUncertain = true }), paymentFailed(providers.ReasonProductUnavailable), 0, false,
			want{status: StatusProcessing, moves: []string{"payment_repeat_rejected"}, jobs: lookup}},
		{"refused (invariant 12): back off", purchase(StatusPaying, inFlight, certain), payment(providers.Rejected), 0, false,
			want{status: StatusPaying, alerts: []string{"provider_refused"}, snooze: true}},
		{"refused at the deadline: provider_refused", purchase(StatusPaying, inFlight, certain, func(p *store.Purchase) { p.DeadlineAt = ptr(t0) }), payment(providers.Rejected), 0, false,
			want{status: StatusFailed, moves: []string{"fail"}, failure: "provider_refused", alerts: []string{"provider_refused"}}},
		{"no answer (invariant 3): processing, never failed", purchase(StatusPaying, inFlight, certain), payment(providers.Unknown), 0, false,
			want{status: StatusProcessing, moves: []string{"payment_outcome_unknown"}, jobs: lookup, check: uncertain}},
		{"no answer, a signed FAILED held meanwhile (defect 6): failed", purchase(StatusPaying, inFlight, certain), payment(providers.Unknown), 0, true,
			want{status: StatusFailed, moves: []string{"payment_outcome_unknown", "fail"}, failure: "transaction_failed"}},
		{"moved on meanwhile: a success still applies", purchase(StatusProcessing), paymentSucceeded("SN"), 0, false,
			want{status: StatusSucceeded, moves: []string{"succeed"}}},
		{"moved on meanwhile: a rejection is only learned", purchase(StatusProcessing), paymentFailed(providers.ReasonProductUnavailable), 0, false,
			want{status: StatusProcessing}},
		{"the repeat succeeds", purchase(StatusProcessing, repeating), paymentSucceeded("SN"), 2, false,
			want{status: StatusSucceeded, moves: []string{"succeed"}}},
		{"the repeat is rejected: still processing (invariant 4)", purchase(StatusProcessing, repeating), paymentFailed(providers.ReasonProductUnavailable), 2, false,
			want{status: StatusProcessing, notes: []string{"payment_repeat_rejected"}}},
		{"the repeat is refused", purchase(StatusProcessing, repeating), payment(providers.Rejected), 2, false,
			want{status: StatusProcessing, alerts: []string{"provider_refused"}}},
		{"the repeat is accepted (409: the reference exists)", purchase(StatusProcessing, repeating), payment(providers.Pending), 2, false,
			want{status: StatusProcessing, check: uncertain}},
	} {
		c.want.verify(t, c.name, afterPayment(c.p, c.ans, c.repeat, c.held, Unread, t0, byReference, rules))
	}
}
