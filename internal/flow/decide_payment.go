package flow

import (
	"fmt"
	"time"

	"github.com/ppob-orchestrator/orchestrator/internal/providers"
	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

// Payment is the job that pays: the first call and the sanctioned repeat
// (invariant 3) alike, so only one place ever calls a provider's payment.
// Its first transaction commits the intent (paymentIntent), the call
// follows outside any transaction, and its second transaction records the
// answer (afterPayment).

// paymentIntent decides, before any call, whether the payment job calls.
// repeat is 0 for the purchase's first payment job, else the payment
// attempt the sanctioned repeat makes. It plans:
//   - received (a product without inquiry): the price guard on the catalog
//     price, then the intent;
//   - paying with an attempt in flight: the job crashed mid-call or was
//     delivered twice, so it never calls again (invariant 2): the outcome is
//     unknown, the purchase goes to processing and lookups resolve it;
//   - paying: the intent (a first call, or one after refusals);
//   - processing, for a repeat job: its own attempt in flight means it
//     crashed mid-repeat (unknown, lookups go on); otherwise the repeat's
//     conditions are checked again and its intent committed;
//   - anything else (a signed callback ended it, a cancel, a repeat no
//     longer due): nothing.
//
// The intent counts the attempt, marks it in flight and sets Call.
func paymentIntent(p store.Purchase, repeat int, cat Price, fresh string, next NextOffer, now time.Time, pol providers.Policy, r Rules) Step {
	st := newStep(p, now)
	switch status := Status(p.Status); {
	case repeat > 0:
		repeatIntent(&st, repeat, pol, r)
	case status == StatusReceived:
		amount, ok := st.guardPrice(0, 0, cat, next, pol, r)
		if !ok {
			return st
		}
		fixPayment(&st.Purchase, amount, fresh, now, pol, r)
		intent(&st)
		st.move(EventPay, "", "", nil)
	case status == StatusPaying && p.PaymentInFlight:
		st.Purchase.PaymentInFlight = false
		st.Purchase.PaymentUncertain = true
		st.move(EventPaymentPending, "payment_outcome_unknown", "",
			map[string]any{"why": "a payment job found its attempt already in flight (crash or duplicate delivery); not calling again"})
		st.queue(Job{Kind: JobLookup, After: r.LookupBackoff[0]})
	case status == StatusPaying:
		intent(&st)
	}
	return st
}

// repeatIntent is the sanctioned repeat's intent, re-checked under the lock:
// the purchase still processing, the attempt before this one answered, two
// consecutive not_found lookups since, the later at least
// PAYMENT_REPEAT_MIN_AGE after the last send, and a provider that dedupes
// the repeat (invariant 3). The same reference is sent again.
func repeatIntent(st *Step, attempt int, pol providers.Policy, r Rules) {
	p := &st.Purchase
	if Status(p.Status) != StatusProcessing {
		return
	}
	switch done := int(p.PaymentAttempts); {
	case done >= attempt && p.PaymentInFlight:
		// This repeat crashed mid-call: never call again for it.
		p.PaymentInFlight = false
		p.PaymentUncertain = true
		p.NotFoundStreak = 0
		st.note("payment_repeat_outcome_unknown", map[string]any{"attempt": attempt})
	case done+1 == attempt && repeatDue(*p, st.now, pol, r):
		intent(st)
		st.note("payment_repeat", map[string]any{"attempt": attempt, "reference_reused": true})
	}
}

// repeatDue reports whether invariant 3 sanctions repeating p's payment now.
func repeatDue(p store.Purchase, now time.Time, pol providers.Policy, r Rules) bool {
	return Status(p.Status) == StatusProcessing && !p.PaymentInFlight && p.NotFoundStreak >= 2 &&
		pol.Repeatable(inquiryOf(&p).RequestID) && p.PaymentLastSentAt != nil &&
		now.Sub(*p.PaymentLastSentAt) >= r.PaymentRepeatMinAge
}

// intent counts a payment attempt and marks it in flight: committed, it
// lets the job call (invariant 2).
func intent(st *Step) {
	p := &st.Purchase
	p.PaymentAttempts++
	p.PaymentInFlight = true
	p.PaymentLastSentAt = ptr(st.now)
	p.NotFoundStreak = 0
	st.Call = true
}

// afterPayment decides what a payment answer does to p (locked, as it is
// now). heldFailure is a signed FAILED callback for p that arrived while
// the call was in flight: it is applied once the answer leaves the
// purchase open in processing: a signed report is never thrown away. The
// plan:
//   - a purchase already ended another way records the answer, and a
//     contradicting one (SUCCESS for a failed purchase, a definitive
//     rejection for a succeeded one) is a contradiction (invariant 6);
//   - a purchase no longer paying with this attempt in flight (moved on
//     meanwhile) takes a SUCCESS and learns ids, nothing else;
//   - the first call's answer: SUCCESS completes (a token product without
//     its token goes to processing); pending → processing; a definitive
//     failure → failed, unless an earlier attempt's outcome is unknown
//     (invariant 4); a refusal backs off and retries, and fails
//     provider_refused only at the deadline if every call was refused
//     (invariant 12); unknown → processing (invariant 3);
//   - a repeat's answer: SUCCESS completes; a rejection proves only that
//     the repeat moved no money (invariant 4); lookups go on.
func afterPayment(p store.Purchase, ans providers.Payment, repeat int, heldFailure bool, next NextOffer, now time.Time, pol providers.Policy, r Rules) Step {
	st := newStep(p, now)
	status := Status(p.Status)
	if status.Terminal() {
		st.contradiction(ans.Outcome, "payment answer "+string(ans.Outcome), "payment answer")
		return st
	}
	learn(&st.Purchase, ans)
	if !p.PaymentInFlight || (repeat == 0 && status != StatusPaying) || (repeat > 0 && (status != StatusProcessing || int(p.PaymentAttempts) != repeat)) {
		// Moved on meanwhile (its in-flight attempt was settled as
		// unknown by another delivery of the job): only a success applies.
		if ans.Outcome == providers.Succeeded && (status == StatusProcessing || status == StatusNeedsReview) {
			st.succeed(ans.Status, by{via: "payment answer"})
		}
		return st
	}
	st.Purchase.PaymentInFlight = false
	if repeat > 0 {
		afterRepeat(&st, ans)
		return st
	}
	switch ans.Outcome {
	case providers.Succeeded:
		if !st.succeed(ans.Status, by{via: "payment answer"}) {
			toProcessing(&st, "success_without_token", ans, false, r)
		}
	case providers.Pending:
		toProcessing(&st, "payment_accepted", ans, true, r)
	case providers.Failed:
		if p.PaymentUncertain {
			toProcessing(&st, "payment_repeat_rejected", ans, true, r)
			break
		}
		st.endOrFailOver(string(ans.Reason), ans.Detail, map[string]any{"code": lastCode(ans.Result)}, next, pol, r)
		if ans.Reason == providers.ReasonInsufficientBal {
			st.alert("insufficient_balance", "provider reports insufficient deposit", nil)
		}
	case providers.Rejected:
		st.alert("provider_refused", fmt.Sprintf("%s refused a payment: %s", p.Provider, ans.Reason), map[string]any{"reason": ans.Reason})
		if st.retrying() >= r.FailoverRefusedAfter && st.failOver("provider_refused", "the provider refused every payment call for "+r.FailoverRefusedAfter.String()+": "+string(ans.Reason), next, pol, r) {
			break
		}
		if !p.PaymentUncertain && p.DeadlineAt != nil && !now.Before(*p.DeadlineAt) {
			st.fail("provider_refused", "the provider refused every payment call until the deadline: "+string(ans.Reason), nil)
			break
		}
		st.Snooze = backoff(r.StepBackoff, r.StepBackoffMax, int(p.PaymentAttempts))
	default:
		toProcessing(&st, "payment_outcome_unknown", ans, true, r)
	}
	if heldFailure && Status(st.Purchase.Status) == StatusProcessing {
		st.Jobs = nil
		st.fail(string(providers.ReasonTransactionFailed), "the provider's signed callback, received during the payment call, reports the transaction failed",
			map[string]any{"via": "signed callback held during the payment call"})
	}
	return st
}

// afterRepeat applies a sanctioned repeat's answer to a processing purchase.
func afterRepeat(st *Step, ans providers.Payment) {
	p := &st.Purchase
	if ans.Outcome != providers.Failed && ans.Outcome != providers.Rejected {
		p.PaymentUncertain = true
	}
	switch ans.Outcome {
	case providers.Succeeded:
		st.succeed(ans.Status, by{via: "payment repeat"})
	case providers.Failed:
		st.note("payment_repeat_rejected", map[string]any{"reason": ans.Reason})
	case providers.Rejected:
		st.alert("provider_refused", "the provider refused a payment repeat: "+string(ans.Reason), map[string]any{"reason": ans.Reason})
	}
}

// toProcessing moves a paying purchase to processing and queues its first
// lookup. uncertain marks that money may have moved (never cleared).
func toProcessing(st *Step, name string, ans providers.Payment, uncertain bool, r Rules) {
	st.Purchase.PaymentUncertain = st.Purchase.PaymentUncertain || uncertain
	st.move(EventPaymentPending, name, "", map[string]any{"outcome": ans.Outcome, "code": lastCode(ans.Result)})
	st.queue(Job{Kind: JobLookup, After: r.LookupBackoff[0]})
}

// learn takes the ids a payment answer carries: the provider's transaction
// id, and the request id a one-step payment learns only here.
func learn(p *store.Purchase, ans providers.Payment) {
	if ans.TransactionID != "" {
		p.ProviderTransactionID = ptr(ans.TransactionID)
	}
	if ans.RequestID != "" && p.ProviderRequestID == nil {
		p.ProviderRequestID = ptr(ans.RequestID)
	}
}

func lastCode(r providers.Result) string {
	if len(r.Calls) == 0 {
		return ""
	}
	return r.Calls[len(r.Calls)-1].Code
}
