package flow

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ppob-orchestrator/orchestrator/internal/providers"
	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

// A route of two offers: byref first, byreq second.
func twoOffers(p *store.Purchase) { p.Route = []string{"byref", "byreq"} }

var second = &store.Offer{ProductCode: "P", Provider: "byreq", ProviderProductCode: "PC2", Inquiry: "none", Price: ptr(int64(10200))}

func known(o *store.Offer) NextOffer { return NextOffer{Known: true, Offer: o} }

// failedOver checks a failover to the second offer: the ended attempt's
// record, a fresh attempt there, and its first job.
func failedOver(reason string, status Status) func(*testing.T, Step) {
	return func(t *testing.T, st Step) {
		p := st.Purchase
		if st.Ended == nil || st.Ended.Provider != "byref" || st.Ended.FailureCode != reason || st.Ended.Number != 1 {
			t.Fatalf("ended attempt %+v, want byref's attempt 1 ended %s", st.Ended, reason)
		}
		if p.Provider != "byreq" || p.Attempt != 2 || p.ProviderProductCode != "PC2" || p.ProviderReference != nil ||
			p.PaymentAttempts != 0 || p.Amount != nil || p.DeadlineAt != nil || p.RetrySince != nil || p.FailureCode != nil {
			t.Errorf("the next attempt does not start fresh: %+v", p)
		}
		if Status(p.Status) != status || !slices.ContainsFunc(st.Jobs, func(j Job) bool { return j.Kind == JobPayment && j.Repeat == 0 }) {
			t.Errorf("status %s jobs %+v, want %s and the second offer's payment", p.Status, st.Jobs, status)
		}
	}
}

// Failover: each of docs/routing.md's four conditions failing alone keeps the
// purchase where it is; all holding moves it. The decisions ask for the next
// offer only when the rest holds.
func TestFailover(t *testing.T) {
	t.Parallel()
	confirmedManual := func(p *store.Purchase) { manual(p); p.ConfirmedAt = ptr(t0.Add(-time.Minute)) }
	uncertain := func(p *store.Purchase) { p.PaymentUncertain = true }
	closed := paymentFailed(providers.ReasonProductUnavailable)
	for _, c := range []struct {
		name string
		st   func(NextOffer) Step
		want want
	}{
		{"all hold: the next offer (paying → received)", func(n NextOffer) Step {
			return afterPayment(purchase(StatusPaying, inFlight, twoOffers, func(p *store.Purchase) { p.PaymentUncertain = false }), closed, 0, false, n, t0, byReference, rules)
		}, want{status: StatusReceived, moves: []string{"fail_over"}, jobs: []Job{{Kind: JobLookup, Check: 1, After: 5 * time.Minute}, {Kind: JobLookup, Check: 1, After: time.Hour}, {Kind: JobPayment}},
			check: failedOver("product_unavailable", StatusReceived)}},
		{"1 fails: a customer not found fails everywhere", func(n NextOffer) Step {
			return afterPayment(purchase(StatusPaying, inFlight, twoOffers, func(p *store.Purchase) { p.PaymentUncertain = false }), paymentFailed(providers.ReasonCustomerNotFound), 0, false, n, t0, byReference, rules)
		}, want{status: StatusFailed, moves: []string{"fail"}, failure: "customer_not_found"}},
		{"1 fails: FAILED from a lookup never fails over", func(n NextOffer) Step {
			return afterLookup(purchase(StatusProcessing, twoOffers), looked(answer(providers.Failed)), t0, byReference, rules)
		}, want{status: StatusFailed, moves: []string{"fail"}, failure: "transaction_failed"}},
		{"2 fails: money may have moved", func(n NextOffer) Step {
			return afterPayment(purchase(StatusPaying, inFlight, twoOffers, uncertain), closed, 0, false, n, t0, byReference, rules)
		}, want{status: StatusProcessing, moves: []string{"payment_repeat_rejected"}, jobs: []Job{{Kind: JobLookup, After: 5 * time.Second}}}},
		{"3 fails: the client confirmed this provider's bill", func(n NextOffer) Step {
			return afterInquiry(purchase(StatusInquiring, twoOffers, confirmedManual), inquiryFailed(providers.ReasonProductUnavailable), Price{Amount: 1, Fresh: true}, fresh, n, t0, byReference, rules)
		}, want{status: StatusFailed, moves: []string{"fail"}, failure: "product_unavailable"}},
		{"4 fails: no offer usable now", func(n NextOffer) Step {
			if n.Known {
				n.Offer = nil
			}
			return afterPayment(purchase(StatusPaying, inFlight, twoOffers, func(p *store.Purchase) { p.PaymentUncertain = false }), closed, 0, false, n, t0, byReference, rules)
		}, want{status: StatusFailed, moves: []string{"fail"}, failure: "product_unavailable"}},
		{"4 fails: the last offer of the route", func(n NextOffer) Step {
			return afterPayment(purchase(StatusPaying, inFlight, func(p *store.Purchase) { p.PaymentUncertain = false; p.Route = []string{"byreq", "byref"} }), closed, 0, false, n, t0, byReference, rules)
		}, want{status: StatusFailed, moves: []string{"fail"}, failure: "product_unavailable"}},
		{"an inquiry's closed product, still received: the attempt switches without a status change", func(n NextOffer) Step {
			return afterInquiry(purchase(StatusReceived, twoOffers), inquiryFailed(providers.ReasonProductUnavailable), Price{Amount: 1, Fresh: true}, fresh, n, t0, byReference, rules)
		}, want{status: StatusReceived, moves: []string{"start_inquiry", "fail_over"}, jobs: []Job{{Kind: JobPayment}}, check: failedOver("product_unavailable", StatusReceived)}},
		{"insufficient deposit fails over, with its alert", func(n NextOffer) Step {
			return afterPayment(purchase(StatusPaying, inFlight, twoOffers, func(p *store.Purchase) { p.PaymentUncertain = false }), paymentFailed(providers.ReasonInsufficientBal), 0, false, n, t0, byReference, rules)
		}, want{status: StatusReceived, moves: []string{"fail_over"}, alerts: []string{"insufficient_balance"},
			jobs: []Job{{Kind: JobLookup, Check: 1, After: 5 * time.Minute}, {Kind: JobLookup, Check: 1, After: time.Hour}, {Kind: JobPayment}}}},
		{"refused for FAILOVER_REFUSED_AFTER: provider_refused fails over", func(n NextOffer) Step {
			return afterPayment(purchase(StatusPaying, inFlight, twoOffers, retryingSince(2*time.Minute), func(p *store.Purchase) { p.PaymentUncertain = false }), payment(providers.Rejected), 0, false, n, t0, byReference, rules)
		}, want{status: StatusReceived, moves: []string{"fail_over"}, alerts: []string{"provider_refused"},
			jobs:  []Job{{Kind: JobLookup, Check: 1, After: 5 * time.Minute}, {Kind: JobLookup, Check: 1, After: time.Hour}, {Kind: JobPayment}},
			check: failedOver("provider_refused", StatusReceived)}},
		{"refused, not long enough: back off", func(n NextOffer) Step {
			return afterPayment(purchase(StatusPaying, inFlight, twoOffers, retryingSince(time.Minute), func(p *store.Purchase) { p.PaymentUncertain = false }), payment(providers.Rejected), 0, false, n, t0, byReference, rules)
		}, want{status: StatusPaying, alerts: []string{"provider_refused"}, snooze: true}},
		{"a price above max_price at this offer fails over", func(n NextOffer) Step {
			return paymentIntent(purchase(StatusReceived, twoOffers, maxPrice(10000)), 0, Price{Amount: 10150, Fresh: true}, fresh, n, t0, byReference, rules)
		}, want{status: StatusReceived, notes: []string{"fail_over"}, jobs: []Job{{Kind: JobPayment}}, check: failedOver("price_exceeds_max", StatusReceived)}},
	} {
		first := c.st(Unread)
		if first.AskNext {
			first = c.st(known(second))
		}
		c.want.verify(t, c.name, first)
	}
}

// A route: usable offers in the order given, low deposits last, and why
// none is usable.
func TestRoute(t *testing.T) {
	t.Parallel()
	o := func(provider string, price int64, enabled, active bool) store.Offer {
		return store.Offer{Provider: provider, Price: &price, Enabled: enabled, Active: active}
	}
	offers := []store.Offer{o("a", 100, true, true), o("b", 90, true, true), o("c", 80, false, true), o("d", 70, true, false), o("e", 60, true, true)}
	for _, c := range []struct {
		name            string
		paused, tripped map[string]bool
		deposits        map[string]int64
		want            []string
		whyHas          string
	}{
		{"usable ones in order", nil, nil, nil, []string{"a", "b", "e"}, ""},
		{"paused and tripped left out", map[string]bool{"a": true}, map[string]bool{"e": true}, nil, []string{"b"}, ""},
		{"a low deposit goes last", nil, nil, map[string]int64{"a": 50, "b": 1000}, []string{"b", "e", "a"}, ""},
		{"none: why", map[string]bool{"a": true, "b": true, "e": true}, nil, nil, nil, "paused"},
	} {
		got, why := Route(offers, c.paused, c.tripped, c.deposits)
		if !slices.Equal(got, c.want) || (c.whyHas != "" && !strings.Contains(why, c.whyHas)) {
			t.Errorf("%s: %v (%q), want %v", c.name, got, why, c.want)
		}
	}
}

// A SUCCESS for an attempt the purchase moved on from: before any payment of
// the current attempt, needs_review and no payment call; after one, a
// paging alert.
func TestLateSuccess(t *testing.T) {
	t.Parallel()
	ended := store.PurchaseAttempt{PurchaseID: pid, Number: 1, Provider: "byref", ProviderReference: ptr("old-ref")}
	okOld := answer(providers.Succeeded)
	okOld.Reference = "old-ref"
	for _, c := range []struct {
		name string
		st   Step
		want want
	}{
		{"received: needs_review, no payment", afterAttemptLookup(purchase(StatusReceived, twoOffers), ended, looked(okOld), t0),
			want{status: StatusNeedsReview, moves: []string{"late_success"}}},
		{"awaiting confirmation: needs_review", afterAttemptLookup(purchase(StatusAwaitingConfirmation, twoOffers), ended, looked(okOld), t0),
			want{status: StatusNeedsReview, moves: []string{"late_success"}}},
		{"paid at the next offer: a paging alert", afterAttemptLookup(purchase(StatusProcessing, twoOffers), ended, looked(okOld), t0),
			want{status: StatusProcessing, notes: []string{"late_success"}, alerts: []string{"late_success_after_failover"}}},
		{"ended already: the alert still", afterAttemptLookup(purchase(StatusSucceeded, twoOffers), ended, looked(okOld), t0),
			want{status: StatusSucceeded, notes: []string{"late_success"}, alerts: []string{"late_success_after_failover"}}},
		{"not found: nothing", afterAttemptLookup(purchase(StatusReceived, twoOffers), ended, looked(answer(providers.NotFound)), t0),
			want{status: StatusReceived}},
		{"SUCCESS naming another reference: nothing", afterAttemptLookup(purchase(StatusReceived, twoOffers), ended, looked(answer(providers.Succeeded)), t0),
			want{status: StatusReceived}},
		{"a signed SUCCESS callback", func() Step {
			st, _ := afterAttemptCallback(purchase(StatusInquiring, twoOffers), ended, okOld, true, t0)
			return st
		}(), want{status: StatusNeedsReview, moves: []string{"late_success"}}},
		{"an unsigned callback: a look at that attempt", func() Step {
			st, _ := afterAttemptCallback(purchase(StatusInquiring, twoOffers), ended, okOld, false, t0)
			return st
		}(), want{status: StatusInquiring, jobs: []Job{{Kind: JobLookup, Check: 1, Once: true}}}},
	} {
		c.want.verify(t, c.name, c.st)
	}
}
