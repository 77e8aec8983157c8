package flow

import (
	"fmt"
	"time"

	"github.com/ppob-orchestrator/orchestrator/internal/providers"
	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

// confirm decides a client's confirmation (docs/flow.md#confirm-cancel-resolve):
// a purchase confirmed before answers as it is, whatever its status now;
// one awaiting confirmation commits its payment intent and queues the
// payment; one past its expiry fails inquiry_expired and the confirm is
// refused; any other status refuses.
func confirm(p store.Purchase, fresh string, now time.Time, pol providers.Policy, r Rules) Step {
	st := newStep(p, now)
	switch {
	case p.ConfirmedAt != nil:
	case Status(p.Status) != StatusAwaitingConfirmation:
		st.Refusal = fmt.Sprintf("purchase %s is %s", p.ID, p.Status)
	case p.ExpiresAt != nil && !now.Before(*p.ExpiresAt):
		expireNow(&st)
		st.Refusal = fmt.Sprintf("purchase %s expired at %s without confirmation", p.ID, p.ExpiresAt.UTC().Format(time.RFC3339))
	default:
		st.Purchase.ConfirmedAt = ptr(now)
		fixPayment(&st.Purchase, deref(p.InquiryAmount), fresh, now, pol, r)
		st.move(EventConfirm, "", "client", nil)
		st.queue(Job{Kind: JobPayment})
	}
	return st
}

// cancel decides a client's cancellation: only from received, inquiring or
// awaiting_confirmation — never later, because a payment call may be in
// flight. A canceled purchase answers as it is.
func cancel(p store.Purchase, now time.Time) Step {
	st := newStep(p, now)
	switch Status(p.Status) {
	case StatusCanceled:
	case StatusReceived, StatusInquiring, StatusAwaitingConfirmation:
		st.move(EventCancel, "", "client", nil)
	default:
		st.Refusal = fmt.Sprintf("purchase %s is %s; it can no longer be canceled", p.ID, p.Status)
	}
	return st
}

// expire decides the expiry job of a purchase awaiting confirmation: it
// fails inquiry_expired at its expiry; early, it waits; in any other
// status it is done.
func expire(p store.Purchase, now time.Time) Step {
	st := newStep(p, now)
	if Status(p.Status) != StatusAwaitingConfirmation {
		return st
	}
	if p.ExpiresAt != nil && now.Before(*p.ExpiresAt) {
		st.Snooze = p.ExpiresAt.Sub(now)
		return st
	}
	expireNow(&st)
	return st
}

func expireNow(st *Step) {
	st.Purchase.FailureCode = ptr("inquiry_expired")
	st.Purchase.FailureMessage = ptr("not confirmed within INQUIRY_TTL")
	st.move(EventExpire, "", "", map[string]any{"failure_code": "inquiry_expired"})
}

// ResolveRequest is an operator's decision on a needs_review purchase.
type ResolveRequest struct {
	Status       Status // StatusSucceeded or StatusFailed
	Note         string
	SerialNumber string
	Force        bool
	Operator     string
}

// resolve decides an operator's resolve of p (needs_review) after a fresh
// status lookup l (docs/flow.md#confirm-cancel-resolve):
//   - failed is accepted when the lookup says FAILED or not_found; when it
//     says pending, could not answer (a timeout, a refusal, a REFUND, or no
//     lookup is possible), only with force; when it says SUCCESS, never: a
//     purchase the provider charged is never failed by hand, and the
//     provider's SUCCESS then decides instead of the operator;
//   - succeeded (the serial number already validated) is accepted, with
//     the operator's serial where the provider's answer lacks the token
//     (invariant 11's way out for a human); when the lookup says FAILED,
//     only with force.
//
// Every resolve is audited (the request, the operator, the note, the
// lookup); a refusal says why.
func resolve(p store.Purchase, l Lookup, req ResolveRequest, now time.Time) Step {
	st := newStep(p, now)
	if Status(p.Status) != StatusNeedsReview {
		st.Refusal = fmt.Sprintf("purchase %s is %s now", p.ID, p.Status)
		return st
	}
	ans := l.Answer
	said := providers.Unknown
	if l.Looked {
		said = ans.Outcome
		if mismatch(&p, l.ProviderCode, ans, false) != "" {
			said = providers.Unknown
		}
		learnLookup(&st.Purchase, ans, true)
	}
	audit := map[string]any{"note": req.Note, "operator": req.Operator, "force": req.Force, "lookup": said, "requested": req.Status}
	st.Notes = append(st.Notes, Note{Name: "resolve_requested", Actor: "operator", Data: audit})
	byOperator := by{via: "operator", name: "resolved", actor: "operator", serial: req.SerialNumber, note: req.Note, data: audit}
	switch {
	case said == providers.Succeeded:
		if st.succeed(ans, by{via: "lookup at resolve"}) {
			// The provider settles it: its word decides, not the operator's.
			if req.Status != StatusSucceeded {
				st.Refusal = "the provider's fresh lookup says SUCCESS: a charged purchase is never failed by hand; it is now succeeded"
			}
			return st
		}
		if req.Status != StatusSucceeded {
			st.Refusal = "the provider reports SUCCESS without the token: a charged purchase is never failed by hand; resolve as succeeded with the serial number"
			return st
		}
		st.succeed(ans, byOperator)
	case said == providers.Failed && req.Status == StatusFailed:
		st.fail(string(providers.ReasonTransactionFailed), fmt.Sprintf("the provider reports the transaction failed (%s)", ans.RawStatus),
			map[string]any{"raw_status": ans.RawStatus, "via": "lookup at resolve"})
	case said == providers.Failed && !req.Force:
		st.Refusal = "the provider's fresh lookup says FAILED; resolve as succeeded only with force and a note"
	case req.Status == StatusFailed:
		if said != providers.NotFound && !req.Force {
			st.Refusal = fmt.Sprintf("the provider says %s; resolve as failed only with force and a note", said)
			return st
		}
		st.Purchase.FailureCode, st.Purchase.FailureMessage = ptr("resolved_by_operator"), ptr(req.Note)
		st.move(EventFail, "resolved", "operator", audit)
	default:
		st.succeed(providers.Status{}, byOperator)
	}
	return st
}
