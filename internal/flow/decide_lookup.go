package flow

import (
	"fmt"
	"time"

	"github.com/ppob-orchestrator/orchestrator/internal/providers"
	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

// Lookup is what a status lookup learned: the answer, whether a call was
// made at all (a payment the provider cannot look up is not), whether it
// was a single look triggered by an unauthenticated callback (Once), and
// the provider's code of the purchase's product (what a decisive answer to
// such a look must name).
type Lookup struct {
	Answer       providers.Status
	Looked       bool
	Once         bool
	ProviderCode string
}

// afterLookup decides what a status lookup's answer does to p (locked, as
// it is now), and when the next lookup runs (invariant 10):
//   - an ended purchase records the answer, and a contradicting one is a
//     contradiction (invariant 6);
//   - a purchase still paying (a callback's single look while the payment
//     call is in flight) is completed by a verified SUCCESS — our reference,
//     product and amount — exactly as a signed callback would; nothing else
//     applies before the payment's answer;
//   - an open purchase (processing, needs_review): a decisive answer that
//     is not provably ours is ignored (a note); SUCCESS completes (a token
//     product without its token waits, invariant 11); FAILED fails; REFUND
//     before success alerts; not_found counts towards the sanctioned repeat
//     (two in a row, invariant 3) and any other answer starts that count
//     again; a refusal alerts;
//   - then, for a regular lookup: the repeat's payment job when due, the
//     status deadline (processing → needs_review), and the next lookup on
//     the backoff schedule — hourly in needs_review, for ReviewLookupFor.
func afterLookup(p store.Purchase, l Lookup, now time.Time, pol providers.Policy, r Rules) Step {
	st := newStep(p, now)
	ans := l.Answer
	switch Status(p.Status) {
	case StatusProcessing, StatusNeedsReview:
	case StatusPaying:
		if l.Looked && ans.Outcome == providers.Succeeded && mismatch(&p, l.ProviderCode, ans, true) == "" {
			learnLookup(&st.Purchase, ans, l.Looked)
			st.succeed(ans, by{via: "lookup during the payment call"})
		}
		return st
	default:
		if l.Looked {
			st.contradiction(ans.Outcome, ans.RawStatus, "lookup")
		}
		return st
	}
	if l.Looked {
		if why := mismatch(&p, l.ProviderCode, ans, l.Once); why != "" {
			// Not provably ours: never applied on its own word.
			st.note("lookup_answer_ignored", map[string]any{"why": why, "outcome": ans.Outcome})
			ans.Outcome = providers.Unknown
		}
	}
	applyAnswer(&st, ans, l)
	if l.Once || st.Terminal() {
		return st
	}
	scheduleLookup(&st, l.Looked, pol, r)
	return st
}

// applyAnswer applies one status answer to an open purchase.
func applyAnswer(st *Step, ans providers.Status, l Lookup) {
	p := &st.Purchase
	learnLookup(p, ans, l.Looked)
	if !l.Looked {
		return
	}
	streak := int32(0)
	switch ans.Outcome {
	case providers.Succeeded:
		st.succeed(ans, by{via: "lookup"})
	case providers.Failed:
		st.fail(string(providers.ReasonTransactionFailed), fmt.Sprintf("the provider reports the transaction failed (%s)", ans.RawStatus),
			map[string]any{"raw_status": ans.RawStatus})
	case providers.Refunded:
		st.alert("refund_before_success", "the provider reports a refund for a purchase never confirmed as succeeded", map[string]any{"raw_status": ans.RawStatus})
	case providers.NotFound:
		switch {
		case l.Once:
			streak = p.NotFoundStreak // a callback's hint does not count
		case !p.PaymentInFlight:
			streak = p.NotFoundStreak + 1 // a call in flight may not have landed yet: no count
		}
	case providers.Rejected:
		st.alert("provider_refused", fmt.Sprintf("%s refused a status lookup: %s", p.Provider, ans.Reason), map[string]any{"reason": ans.Reason})
	}
	if !st.Terminal() {
		p.NotFoundStreak = streak
	}
}

// learnLookup counts a lookup and takes the transaction id it names.
func learnLookup(p *store.Purchase, ans providers.Status, looked bool) {
	if !looked {
		return
	}
	p.Lookups++
	if ans.TransactionID != "" && p.ProviderTransactionID == nil {
		p.ProviderTransactionID = ptr(ans.TransactionID)
	}
}

// scheduleLookup plans what follows a regular lookup of an open purchase:
// the sanctioned repeat, the deadline, and the next lookup.
func scheduleLookup(st *Step, looked bool, pol providers.Policy, r Rules) {
	p := &st.Purchase
	now := st.now
	if repeatDue(*p, now, pol, r) {
		st.queue(Job{Kind: JobPayment, Repeat: int(p.PaymentAttempts) + 1})
	}
	if Status(p.Status) == StatusProcessing && p.DeadlineAt != nil && !now.Before(*p.DeadlineAt) {
		st.move(EventDeadline, "", "", map[string]any{"lookups": p.Lookups})
	}
	if Status(p.Status) == StatusNeedsReview {
		if reviewLookupsOver(*p, now, r) {
			return // nothing of this attempt to look up, or past the window: an operator decides
		}
		st.queue(Job{Kind: JobLookup, After: r.ReviewLookupEvery})
		return
	}
	d := r.LookupBackoff[min(max(int(p.Lookups)-1, 0), len(r.LookupBackoff)-1)]
	if !looked {
		// Nothing to look up with (a one-step payment whose answer was
		// lost): only a callback or the deadline can change it, so wait on
		// the longest interval rather than spin on the first.
		d = maxDuration(r.LookupBackoff)
	}
	if p.DeadlineAt != nil {
		// Never sleep past the deadline; notice it on time.
		d = min(d, max(p.DeadlineAt.Sub(now), time.Millisecond))
	}
	st.queue(Job{Kind: JobLookup, After: d})
}

// mismatch says why a status answer cannot be applied to p, or "". Every
// decisive answer naming a reference must name ours; a strict one (a
// callback's hint, or during the payment call) must also carry our
// reference, the provider's code of our product and our amount
// (docs/flow.md#callbacks).
func mismatch(p *store.Purchase, providerCode string, ans providers.Status, strict bool) string {
	decisive := ans.Outcome == providers.Succeeded || ans.Outcome == providers.Failed || ans.Outcome == providers.Refunded
	if !decisive {
		return ""
	}
	ours := deref(p.ProviderReference)
	if ans.Reference != "" && ans.Reference != ours {
		return fmt.Sprintf("answer names reference %q, ours is %q", ans.Reference, ours)
	}
	if !strict {
		return ""
	}
	if ans.Reference != ours {
		return "answer carries no reference"
	}
	if ans.ProductCode != providerCode {
		return fmt.Sprintf("answer names product %q, ours is %q", ans.ProductCode, providerCode)
	}
	if ans.Amount != deref(p.Amount) {
		return fmt.Sprintf("answer names amount %d, ours is %d", ans.Amount, deref(p.Amount))
	}
	return ""
}

func maxDuration(ds []time.Duration) time.Duration {
	var m time.Duration
	for _, d := range ds {
		m = max(m, d)
	}
	return m
}
