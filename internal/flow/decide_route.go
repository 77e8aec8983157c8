package flow

import (
	"fmt"
	"slices"
	"time"

	"github.com/ppob-orchestrator/orchestrator/internal/providers"
	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

// Routing's decisions (docs/routing.md): the route fixed at creation, the
// failover from one offer to the next, and what a report for an attempt
// the purchase moved on from does. A failover can never charge twice: it
// happens only when everything below holds.

// NextOffer is what a decision knows of the offer a failover would move to: not
// read yet (Known false — the decision asks for it with Step.AskNext and
// is asked again once the shell read it), or read: the first offer after
// the current one in the purchase's route that is enabled, active and of
// an unpaused provider now, nil when none remains.
type NextOffer struct {
	Known bool
	Offer *store.Offer
}

// Unread is the NextOffer of a first decision: the next offer not read yet.
var Unread = NextOffer{}

// failoverReasons are the failures that end an attempt and may move the
// purchase to the next offer: what another provider may not share (the
// product closed at this one, our deposit there, no answer, refusals, its
// price). Any provider would say the same of a customer not found or an
// amount below the minimum; an expired inquiry is the client's; and a
// transaction the provider reports FAILED existed — never.
var failoverReasons = map[string]bool{
	string(providers.ReasonProductUnavailable): true,
	string(providers.ReasonInsufficientBal):    true,
	"provider_unavailable":                     true,
	"provider_refused":                         true,
	string(providers.ReasonPriceExceedsMax):    true,
}

// EndedAttempt is the record of the attempt a failover ended.
type EndedAttempt = store.PurchaseAttemptInsertParams

// Failover is what a step's failover did, for the metrics.
type Failover struct {
	From, To, Reason string
}

// endOrFailOver ends the current attempt with a failure: it fails over to the
// next offer where docs/routing.md allows it, else fails the purchase with
// code (the last attempt's reason). data goes with the failure.
func (st *Step) endOrFailOver(code, message string, data map[string]any, next NextOffer, pol providers.Policy, r Rules) {
	if st.failOver(code, message, next, pol, r) {
		return
	}
	st.fail(code, message, data)
}

// failOver moves the purchase to the next offer when all of docs/routing.md's
// conditions hold, and reports whether it did (or asked for the next offer,
// Step.AskNext, which the shell answers by deciding again):
//  1. the attempt ended for a reason another offer may not share
//     (failoverReasons), before money may have moved;
//  2. payment_uncertain is false: no payment answer of this purchase was
//     anything but a refusal (never cleared, so never from processing or
//     needs_review);
//  3. the client confirmed nothing specific to this provider (a manual
//     purchase fails over only before its confirmation);
//  4. another offer remains in the route, usable when re-read now.
//
// A failover is one step: the ended attempt's record, the next attempt's
// start with everything of one provider's handling fresh (reference, ids,
// inquiry, amount, counters, deadlines, retry window), the status back to
// received (unchanged when still received), and the next attempt's first
// job. A payment the ended attempt sent and the provider refused is looked
// up again later, where it can be, in case it charged after all.
func (st *Step) failOver(code, message string, next NextOffer, pol providers.Policy, r Rules) bool {
	p := &st.Purchase
	if !failoverReasons[code] || p.PaymentUncertain || (p.Confirmation == "manual" && p.ConfirmedAt != nil) {
		return false
	}
	at := slices.Index(p.Route, p.Provider)
	if at < 0 || at == len(p.Route)-1 {
		return false
	}
	if !next.Known {
		st.AskNext = true
		return true
	}
	if next.Offer == nil {
		return false
	}
	o := next.Offer
	ended := EndedAttempt{
		PurchaseID: p.ID, Number: p.Attempt, Provider: p.Provider, ProviderProductCode: p.ProviderProductCode,
		ProviderReference: p.ProviderReference, ProviderRequestID: p.ProviderRequestID,
		ProviderTransactionID: p.ProviderTransactionID, PaymentAttempts: p.PaymentAttempts,
		FailureCode: code, FailureMessage: message, StartedAt: p.AttemptStartedAt, EndedAt: st.now,
	}
	st.Ended = &ended
	st.Failover = &Failover{From: p.Provider, To: o.Provider, Reason: code}
	if p.PaymentAttempts > 0 && pol.CanLookup(deref(p.ProviderRequestID)) {
		// A refused payment that charged after all is found here.
		st.queue(Job{Kind: JobLookup, Check: int(p.Attempt), After: r.PaymentRepeatMinAge})
		st.queue(Job{Kind: JobLookup, Check: int(p.Attempt), After: time.Hour})
	}
	startAttempt(p, o, st.now)
	data := map[string]any{"from_provider": ended.Provider, "to_provider": o.Provider, "reason": code, "attempt": p.Attempt}
	if Status(p.Status) == StatusReceived {
		st.note("fail_over", data)
	} else {
		st.move(EventFailOver, "", "", data)
	}
	first := Job{Kind: JobInquiry}
	if o.Inquiry == "none" {
		first = Job{Kind: JobPayment}
	}
	st.queue(first)
	return true
}

// startAttempt makes p's current attempt a fresh one at offer o.
func startAttempt(p *store.Purchase, o *store.Offer, now time.Time) {
	p.Attempt++
	p.AttemptStartedAt = now
	p.Provider, p.ProviderProductCode = o.Provider, o.ProviderProductCode
	p.ProviderReference, p.ProviderRequestID, p.ProviderTransactionID = nil, nil, nil
	p.Inquiry, p.InquiryAmount, p.InquiryTotal, p.InquiryAttempts = nil, nil, nil, 0
	p.Amount, p.PaymentAttempts, p.PaymentLastSentAt, p.PaymentInFlight = nil, 0, nil, false
	p.NotFoundStreak, p.Lookups, p.DeadlineAt, p.ExpiresAt, p.RetrySince = 0, 0, nil, nil, nil
	p.FailureCode, p.FailureMessage = nil, nil
}

// Route fixes a new purchase's route: the product's offers that are
// enabled, active, of an unpaused provider and not tripped by the health
// rule, in the order given (priority, then price, then provider); an offer
// whose provider's last known deposit is below its price goes to the end.
// why says, when no offer is usable, what kept each out.
func Route(offers []store.Offer, paused, tripped map[string]bool, deposits map[string]int64) (route []string, why string) {
	var low []string
	var reasons []string
	for _, o := range offers {
		switch {
		case !o.Active:
			reasons = append(reasons, o.Provider+": inactive")
		case !o.Enabled:
			reasons = append(reasons, o.Provider+": disabled by the provider")
		case paused[o.Provider]:
			reasons = append(reasons, o.Provider+": paused")
		case tripped[o.Provider]:
			reasons = append(reasons, o.Provider+": tripped (not answering)")
		default:
			if d, ok := deposits[o.Provider]; ok && o.Price != nil && d < *o.Price {
				low = append(low, o.Provider)
				continue
			}
			route = append(route, o.Provider)
		}
	}
	route = append(route, low...)
	if len(route) == 0 {
		if len(reasons) == 0 {
			reasons = append(reasons, "no offer")
		}
		why = fmt.Sprint(reasons)
	}
	return route, why
}

// lateSuccess handles a SUCCESS for an attempt the purchase moved on from:
// with no payment intent committed in the current attempt, the purchase
// goes to needs_review and makes no payment call; with one, a paging alert
// (the purchase may be charged twice: reconciliation lists it in
// recon_multiple_successes).
func (st *Step) lateSuccess(ended store.PurchaseAttempt, via string) {
	data := map[string]any{"attempt": ended.Number, "provider": ended.Provider, "via": via}
	switch Status(st.Purchase.Status) {
	case StatusReceived, StatusInquiring, StatusAwaitingConfirmation:
		st.Jobs = nil
		st.move(EventLateSuccess, "", "", data)
	default:
		st.note("late_success", data)
		st.Alerts = append(st.Alerts, Alert{Kind: "late_success_after_failover", Provider: ended.Provider,
			Message: fmt.Sprintf("%s reports SUCCESS for attempt %d, which this purchase moved on from; it is %s at %s: it may be charged twice",
				ended.Provider, ended.Number, st.Purchase.Status, st.Purchase.Provider), Data: data})
	}
}

// afterAttemptLookup decides a lookup of an attempt the purchase moved on
// from (its refused payment looked up again, or a callback's hint for it):
// only a SUCCESS naming that attempt's reference matters.
func afterAttemptLookup(p store.Purchase, ended store.PurchaseAttempt, l Lookup, now time.Time) Step {
	st := newStep(p, now)
	ans := l.Answer
	if l.Looked && ans.Outcome == providers.Succeeded && ans.Reference == deref(ended.ProviderReference) {
		st.lateSuccess(ended, "lookup of an ended attempt")
	}
	return st
}

// afterAttemptCallback decides a callback for an attempt the purchase
// moved on from: a signed SUCCESS is a late success; an unsigned report a
// hint, answered by a lookup of that attempt; anything else is ignored.
func afterAttemptCallback(p store.Purchase, ended store.PurchaseAttempt, rep providers.Status, authenticated bool, now time.Time) (Step, string) {
	st := newStep(p, now)
	switch {
	case !authenticated:
		st.queue(Job{Kind: JobLookup, Check: int(ended.Number), Once: true})
		return st, CallbackLookupTriggered
	case rep.Outcome == providers.Succeeded:
		st.lateSuccess(ended, "signed callback for an ended attempt")
		return st, CallbackApplied
	}
	return st, CallbackIgnored
}
