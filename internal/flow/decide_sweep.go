package flow

import (
	"time"

	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

// redrive returns the job an open purchase's status calls for, when the
// sweeper finds it untouched for too long (its job gone missing), and
// whether there is one (invariant 10). inquiry is its product's inquiry
// mode. A re-driven paying purchase obeys invariant 2 like any other.
func redrive(p store.Purchase, inquiry string, now time.Time, r Rules) (Job, bool) {
	switch Status(p.Status) {
	case StatusReceived:
		if inquiry == "none" {
			return Job{Kind: JobPayment}, true
		}
		return Job{Kind: JobInquiry}, true
	case StatusInquiring:
		return Job{Kind: JobInquiry}, true
	case StatusPaying:
		return Job{Kind: JobPayment}, true
	case StatusAwaitingConfirmation:
		return Job{Kind: JobExpire, After: deref(p.ExpiresAt).Sub(now)}, true
	case StatusProcessing:
		return Job{Kind: JobLookup}, true
	case StatusNeedsReview:
		if reviewLookupsOver(p, now, r) {
			return Job{}, false
		}
		return Job{Kind: JobLookup}, true
	}
	return Job{}, false
}

// reviewLookupsOver reports whether needs_review purchase p has nothing
// more to look up at now: its current attempt paid nothing (a late success
// of an earlier attempt put it there), or its review window, ReviewLookupFor
// from its deadline, is over. An operator decides it.
func reviewLookupsOver(p store.Purchase, now time.Time, r Rules) bool {
	return p.PaymentAttempts == 0 || (p.DeadlineAt != nil && p.DeadlineAt.Before(reviewLookupsFrom(now, r)))
}

// reviewLookupsFrom is the earliest deadline_at of a needs_review purchase
// still looked up at now (reviewLookupsOver). The sweeper's query leaves
// the others out (PurchaseListStale's review_from).
func reviewLookupsFrom(now time.Time, r Rules) time.Time {
	return now.Add(-r.ReviewLookupFor)
}

// staleAfter is how long each open status may go untouched before the
// sweeper suspects its job: a processing purchase is looked up at least
// every max(LookupBackoff), a needs_review one every ReviewLookupEvery.
func staleAfter(s Status, base time.Duration, r Rules) time.Duration {
	switch s {
	case StatusProcessing:
		return base + maxDuration(r.LookupBackoff)
	case StatusNeedsReview:
		return base + r.ReviewLookupEvery
	}
	return base
}
