package flow

import (
	"time"

	"github.com/ppob-orchestrator/orchestrator/internal/providers"
	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

// Callback actions, as stored in callbacks.action and counted in metrics.
const (
	CallbackDuplicate       = "duplicate"        // same provider and body seen before
	CallbackUnreadable      = "unreadable"       // stored, but not a callback we can parse
	CallbackUnmatched       = "unmatched"        // no purchase has that provider reference
	CallbackApplied         = "applied"          // authenticated, moved the purchase
	CallbackIgnored         = "ignored"          // nothing to change (pending, stale, same result, before any payment)
	CallbackHeld            = "held"             // authenticated FAILED during the payment call: applied once the call's answer is known
	CallbackLookupTriggered = "lookup_triggered" // a hint: a lookup was queued
	CallbackContradiction   = "contradiction"    // contradicts a terminal purchase: recorded, alerted, not applied
)

// afterCallback decides what a provider's callback for p (locked, as it is
// now) does, and returns the action to store with it (docs/flow.md#callbacks):
//   - an ended purchase: a contradicting report (signed or not) is recorded
//     as a contradiction, anything else is ignored;
//   - a purchase with no payment call yet: ignored;
//   - unauthenticated: a hint, never applied on its own word: a single
//     lookup now, whose answer applies only if it carries our reference,
//     product and amount;
//   - authenticated SUCCESS completes it (also from paying: the payment job
//     then finds it moved); a token product without its token waits;
//   - authenticated FAILED fails it, except during the payment call
//     (paying), where it is held and applied once the call's answer leaves
//     the purchase open (afterPayment);
//   - authenticated REFUND before success alerts; anything else is ignored.
func afterCallback(p store.Purchase, rep providers.Status, authenticated bool, now time.Time) (Step, string) {
	st := newStep(p, now)
	status := Status(p.Status)
	if status.Terminal() {
		if st.contradiction(rep.Outcome, rep.RawStatus, "callback") {
			return st, CallbackContradiction
		}
		return st, CallbackIgnored
	}
	if status != StatusPaying && status != StatusProcessing && status != StatusNeedsReview {
		return st, CallbackIgnored
	}
	if !authenticated {
		st.queue(Job{Kind: JobLookup, Once: true})
		return st, CallbackLookupTriggered
	}
	switch rep.Outcome {
	case providers.Succeeded:
		if st.succeed(rep, by{via: "signed callback"}) {
			return st, CallbackApplied
		}
	case providers.Failed:
		if status == StatusPaying {
			return st, CallbackHeld
		}
		st.fail(string(providers.ReasonTransactionFailed), "the provider's signed callback reports the transaction failed",
			map[string]any{"via": "signed callback"})
		return st, CallbackApplied
	case providers.Refunded:
		st.alert("refund_before_success", "a signed callback reports a refund for a purchase never confirmed as succeeded", nil)
	}
	return st, CallbackIgnored
}
