package flow

import (
	"testing"
	"time"

	"github.com/ppob-orchestrator/orchestrator/internal/providers"
	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

func answer(o providers.Outcome) providers.Status {
	return providers.Status{Result: providers.Result{Outcome: o}, Reference: "ref-1", ProductCode: "PC", Amount: 10150, RawStatus: string(o)}
}

func answerWith(o providers.Outcome, serial string) providers.Status {
	a := answer(o)
	a.SerialNumber = serial
	return a
}

func looked(a providers.Status) Lookup { return Lookup{Answer: a, Looked: true, ProviderCode: "PC"} }

func once(a providers.Status) Lookup {
	return Lookup{Answer: a, Looked: true, Once: true, ProviderCode: "PC"}
}

// afterLookup, branch by branch.
func TestAfterLookup(t *testing.T) {
	t.Parallel()
	next := func(d time.Duration) []Job { return []Job{{Kind: JobLookup, After: d}} }
	streakIs := func(n int32) func(*testing.T, Step) {
		return func(t *testing.T, st Step) {
			if st.Purchase.NotFoundStreak != n {
				t.Errorf("not-found streak %d, want %d", st.Purchase.NotFoundStreak, n)
			}
		}
	}
	sentLongAgo := func(p *store.Purchase) { p.PaymentLastSentAt = ptr(t0.Add(-10 * time.Minute)) }
	wrongAmount := answer(providers.Succeeded)
	wrongAmount.Amount = 1
	otherRef := answer(providers.Succeeded)
	otherRef.Reference = "not-ours"
	noRef := answer(providers.Succeeded)
	noRef.Reference = ""
	for _, c := range []struct {
		name string
		p    store.Purchase
		l    Lookup
		pol  providers.Policy
		want want
	}{
		{"ended: a contradiction (invariant 6)", purchase(StatusSucceeded), looked(answer(providers.Refunded)), byReference,
			want{status: StatusSucceeded, notes: []string{"contradiction"}, alerts: []string{"contradiction"}}},
		{"ended: agreeing", purchase(StatusSucceeded), looked(answer(providers.Succeeded)), byReference,
			want{status: StatusSucceeded}},
		{"paying, a callback's look finds our SUCCESS (defect 1): succeeded", purchase(StatusPaying, inFlight), once(answerWith(providers.Succeeded, "SN")), byReference,
			want{status: StatusSucceeded, moves: []string{"succeed"}}},
		{"paying, a SUCCESS for another amount: nothing", purchase(StatusPaying, inFlight), Lookup{Answer: wrongAmount, Looked: true, Once: true, ProviderCode: "PC"}, byReference,
			want{status: StatusPaying}},
		{"paying, FAILED waits for the payment's answer", purchase(StatusPaying, inFlight), once(answer(providers.Failed)), byReference,
			want{status: StatusPaying}},
		{"SUCCESS completes", purchase(StatusProcessing), looked(answerWith(providers.Succeeded, "SN")), byReference,
			want{status: StatusSucceeded, moves: []string{"succeed"}}},
		{"a PLN SUCCESS without its token waits and restarts the count (defect 5)", purchase(StatusProcessing, pln, streak(1)), looked(answer(providers.Succeeded)), byReference,
			want{status: StatusProcessing, alerts: []string{"missing_token"}, jobs: next(5 * time.Second), check: streakIs(0)}},
		{"a PLN SUCCESS with its token", purchase(StatusProcessing, pln), looked(answerWith(providers.Succeeded, plnSerial)), byReference,
			want{status: StatusSucceeded, moves: []string{"succeed"}}},
		{"FAILED fails", purchase(StatusProcessing), looked(answer(providers.Failed)), byReference,
			want{status: StatusFailed, moves: []string{"fail"}, failure: "transaction_failed"}},
		{"REFUND before success alerts, restarts the count", purchase(StatusProcessing, streak(1)), looked(answer(providers.Refunded)), byReference,
			want{status: StatusProcessing, alerts: []string{"refund_before_success"}, jobs: next(5 * time.Second), check: streakIs(0)}},
		{"not_found counts", purchase(StatusProcessing), looked(answer(providers.NotFound)), byReference,
			want{status: StatusProcessing, jobs: next(5 * time.Second), check: streakIs(1)}},
		{"not_found while a call is in flight does not count", purchase(StatusProcessing, inFlight, streak(1)), looked(answer(providers.NotFound)), byReference,
			want{status: StatusProcessing, jobs: next(5 * time.Second), check: streakIs(0)}},
		{"two not_found, long after the send: the repeat (invariant 3)", purchase(StatusProcessing, streak(1), sentLongAgo), looked(answer(providers.NotFound)), byReference,
			want{status: StatusProcessing, jobs: []Job{{Kind: JobPayment, Repeat: 2}, {Kind: JobLookup, After: 5 * time.Second}}, check: streakIs(2)}},
		{"two not_found, too soon after the send: no repeat", purchase(StatusProcessing, streak(1), func(p *store.Purchase) { p.PaymentLastSentAt = ptr(t0.Add(-time.Minute)) }), looked(answer(providers.NotFound)), byReference,
			want{status: StatusProcessing, jobs: next(5 * time.Second), check: streakIs(2)}},
		{"two not_found of a two-step payment: the repeat", purchase(StatusProcessing, streak(1), withRequestID), looked(answer(providers.NotFound)), byRequestID,
			want{status: StatusProcessing, jobs: []Job{{Kind: JobPayment, Repeat: 2}, {Kind: JobLookup, After: 5 * time.Second}}, check: streakIs(2)}},
		{"a callback's not_found does not count", purchase(StatusProcessing, streak(1)), once(answer(providers.NotFound)), byReference,
			want{status: StatusProcessing, check: streakIs(1)}},
		{"pending restarts the count (defect 5)", purchase(StatusProcessing, streak(1)), looked(answer(providers.Pending)), byReference,
			want{status: StatusProcessing, jobs: next(5 * time.Second), check: streakIs(0)}},
		{"no answer restarts the count (defect 5)", purchase(StatusProcessing, streak(1)), looked(answer(providers.Unknown)), byReference,
			want{status: StatusProcessing, jobs: next(5 * time.Second), check: streakIs(0)}},
		{"refused: alert, the count restarts", purchase(StatusProcessing, streak(1)), looked(answer(providers.Rejected)), byReference,
			want{status: StatusProcessing, alerts: []string{"provider_refused"}, jobs: next(5 * time.Second), check: streakIs(0)}},
		{"an answer naming another reference is ignored", purchase(StatusProcessing), looked(otherRef), byReference,
			want{status: StatusProcessing, notes: []string{"lookup_answer_ignored"}, jobs: next(5 * time.Second)}},
		{"a callback's look must carry our reference", purchase(StatusProcessing), Lookup{Answer: noRef, Looked: true, Once: true, ProviderCode: "PC"}, byReference,
			want{status: StatusProcessing, notes: []string{"lookup_answer_ignored"}}},
		{"a callback's look must carry our product", purchase(StatusProcessing), Lookup{Answer: answer(providers.Succeeded), Looked: true, Once: true, ProviderCode: "OTHER"}, byReference,
			want{status: StatusProcessing, notes: []string{"lookup_answer_ignored"}}},
		{"the deadline: needs_review", purchase(StatusProcessing, func(p *store.Purchase) { p.DeadlineAt = ptr(t0) }), looked(answer(providers.Pending)), byReference,
			want{status: StatusNeedsReview, moves: []string{"deadline"}, jobs: next(time.Hour)}},
		{"the schedule backs off", purchase(StatusProcessing, func(p *store.Purchase) { p.Lookups = 5 }), looked(answer(providers.Pending)), byReference,
			want{status: StatusProcessing, jobs: next(30 * time.Second)}},
		{"never sleeps past the deadline", purchase(StatusProcessing, func(p *store.Purchase) { p.Lookups = 5; p.DeadlineAt = ptr(t0.Add(7 * time.Second)) }), looked(answer(providers.Pending)), byReference,
			want{status: StatusProcessing, jobs: next(7 * time.Second)}},
		{"needs_review: hourly", purchase(StatusNeedsReview), looked(answer(providers.Pending)), byReference,
			want{status: StatusNeedsReview, jobs: next(time.Hour)}},
		{"needs_review past its lookup window: an operator decides", purchase(StatusNeedsReview, func(p *store.Purchase) { p.DeadlineAt = ptr(t0.Add(-8 * 24 * time.Hour)) }), looked(answer(providers.Pending)), byReference,
			want{status: StatusNeedsReview}},
		{"a late success out of needs_review", purchase(StatusNeedsReview), looked(answerWith(providers.Succeeded, "SN")), byReference,
			want{status: StatusSucceeded, moves: []string{"succeed"}}},
		{"nothing to look up with: wait on the longest interval", purchase(StatusProcessing), Lookup{}, byRequestID,
			want{status: StatusProcessing, jobs: next(30 * time.Second)}},
	} {
		c.want.verify(t, c.name, afterLookup(c.p, c.l, t0, c.pol, rules))
	}
}

// afterCallback, branch by branch.
func TestAfterCallback(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name          string
		p             store.Purchase
		rep           providers.Status
		authenticated bool
		action        string
		want          want
	}{
		{"ended, contradicted (signed or not)", purchase(StatusSucceeded), answer(providers.Failed), false, CallbackContradiction,
			want{status: StatusSucceeded, notes: []string{"contradiction"}, alerts: []string{"contradiction"}}},
		{"ended, agreeing", purchase(StatusSucceeded), answer(providers.Succeeded), true, CallbackIgnored, want{status: StatusSucceeded}},
		{"before any payment", purchase(StatusInquiring), answer(providers.Succeeded), true, CallbackIgnored, want{status: StatusInquiring}},
		{"a hint: a single lookup now", purchase(StatusPaying, inFlight), answer(providers.Refunded), false, CallbackLookupTriggered,
			want{status: StatusPaying, jobs: []Job{{Kind: JobLookup, Once: true}}}},
		{"signed SUCCESS", purchase(StatusProcessing), answerWith(providers.Succeeded, "SN"), true, CallbackApplied,
			want{status: StatusSucceeded, moves: []string{"succeed"}}},
		{"signed SUCCESS during the payment call", purchase(StatusPaying, inFlight), answerWith(providers.Succeeded, "SN"), true, CallbackApplied,
			want{status: StatusSucceeded, moves: []string{"succeed"}}},
		{"signed PLN SUCCESS without its token", purchase(StatusProcessing, pln), answer(providers.Succeeded), true, CallbackIgnored,
			want{status: StatusProcessing, alerts: []string{"missing_token"}}},
		{"signed FAILED", purchase(StatusProcessing), answer(providers.Failed), true, CallbackApplied,
			want{status: StatusFailed, moves: []string{"fail"}, failure: "transaction_failed"}},
		{"signed FAILED during the payment call is held (defect 6)", purchase(StatusPaying, inFlight), answer(providers.Failed), true, CallbackHeld,
			want{status: StatusPaying}},
		{"signed REFUND before success", purchase(StatusProcessing), answer(providers.Refunded), true, CallbackIgnored,
			want{status: StatusProcessing, alerts: []string{"refund_before_success"}}},
		{"signed pending", purchase(StatusProcessing), answer(providers.Pending), true, CallbackIgnored, want{status: StatusProcessing}},
	} {
		st, action := afterCallback(c.p, c.rep, c.authenticated, t0)
		if action != c.action {
			t.Errorf("%s: action %q, want %q", c.name, action, c.action)
		}
		c.want.verify(t, c.name, st)
	}
}
