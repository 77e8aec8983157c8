package flow

import (
	"fmt"
	"time"

	"github.com/ppob-orchestrator/orchestrator/internal/providers"
	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

// afterInquiry decides what an inquiry's answer does to p (locked, as it is
// now). A purchase no longer received or inquiring (canceled during the
// call) only records the call. Otherwise the inquiry is counted — the first
// answer moves received → inquiring in the same step — and then:
//   - succeeded: the price guard (invariant 8); then awaiting_confirmation
//     (manual) or the payment intent and its job (automatic);
//   - failed: failed with the provider's reason (an insufficient deposit
//     also alerts);
//   - rejected (refused before anything happened, invariant 12) or unknown
//     (timeout, 5xx): retried with a backoff for INQUIRY_RETRY_WINDOW from
//     the first such answer, then failed provider_refused (the last answer a
//     refusal) or provider_unavailable. An inquiry moves no money, so a
//     window of time decides, not a count a crash could also spend.
//
// cat is the catalog price, fresh a new random payment reference.
func afterInquiry(p store.Purchase, ans providers.Inquiry, cat Price, fresh string, next NextOffer, now time.Time, pol providers.Policy, r Rules) Step {
	st := newStep(p, now)
	switch Status(p.Status) {
	case StatusReceived:
		st.Purchase.InquiryAttempts++
		st.move(EventStartInquiry, "", "", nil)
	case StatusInquiring:
		st.Purchase.InquiryAttempts++
	default:
		return st
	}
	switch ans.Outcome {
	case providers.Succeeded:
		inquired(&st, ans, cat, fresh, next, pol, r)
	case providers.Failed:
		st.endOrFailOver(string(ans.Reason), ans.Detail, nil, next, pol, r)
		if ans.Reason == providers.ReasonInsufficientBal {
			st.alert("insufficient_balance", "provider reports insufficient deposit", nil)
		}
	case providers.Rejected:
		st.alert("provider_refused", fmt.Sprintf("%s refused an inquiry: %s", p.Provider, ans.Reason), map[string]any{"reason": ans.Reason})
		retryInquiry(&st, "provider_refused", "the provider kept refusing the inquiry: "+string(ans.Reason), next, pol, r)
	default:
		retryInquiry(&st, "provider_unavailable", "the provider did not answer the inquiry: "+ans.Detail, next, pol, r)
	}
	return st
}

// retryInquiry backs off for another inquiry call, or ends the attempt
// with code once INQUIRY_RETRY_WINDOW has passed since the first answer that
// did not do (a refusal, FAILOVER_REFUSED_AFTER when another offer remains).
func retryInquiry(st *Step, code, message string, next NextOffer, pol providers.Policy, r Rules) {
	waited := st.retrying()
	if code == "provider_refused" && waited >= r.FailoverRefusedAfter && st.failOver(code, message, next, pol, r) {
		return
	}
	if waited >= r.InquiryRetryWindow {
		st.endOrFailOver(code, message, map[string]any{"retried_for": waited.String()}, next, pol, r)
		return
	}
	st.Snooze = min(backoff(r.StepBackoff, r.StepBackoffMax, int(st.Purchase.InquiryAttempts)), max(r.InquiryRetryWindow-waited, time.Millisecond))
}

// inquired applies a successful inquiry: its answer is stored, the price
// guard runs, and the purchase awaits confirmation or commits its payment
// intent.
func inquired(st *Step, ans providers.Inquiry, cat Price, fresh string, next NextOffer, pol providers.Policy, r Rules) {
	p := &st.Purchase
	amount := ans.Amount
	if amount <= 0 {
		// Game-voucher validations carry no price: the catalog decides.
		amount = cat.Amount
	}
	p.Inquiry = mustJSON(inquiryData{CustomerName: ans.CustomerName, Amount: max(amount, 0), Total: ans.Total, Details: ans.Details, RequestID: ans.RequestID})
	p.InquiryAmount = ptr(max(amount, 0))
	p.InquiryTotal = ptr(max(ans.Total, 0))
	if ans.RequestID != "" {
		p.ProviderRequestID = ptr(ans.RequestID)
	}
	amount, ok := st.guardPrice(amount, ans.Total, cat, next, pol, r)
	if !ok {
		return
	}
	if p.Confirmation == "manual" {
		p.ExpiresAt = ptr(st.now.Add(r.InquiryTTL))
		st.move(EventAwaitConfirmation, "", "", nil)
		st.queue(Job{Kind: JobExpire, After: r.InquiryTTL})
		return
	}
	fixPayment(p, amount, fresh, st.now, pol, r)
	st.move(EventPay, "", "", nil)
	st.queue(Job{Kind: JobPayment})
}

// guardPrice is invariant 8, before any payment intent: it returns the
// amount to pay and true, or plans the failure or the wait and returns
// false. The amount is the inquiry's if one ran (inquiryAmount > 0), else
// the catalog's:
//   - no known positive amount fails product_unavailable;
//   - with max_price, a catalog price that is not fresh (older than
//     PRICE_MAX_AGE and its refresh failed, or missing) is not known: the
//     step backs off and refreshes again for PRICE_REFRESH_WINDOW, then fails
//     provider_unavailable; a known price — the largest of the amount, the
//     inquiry total and the catalog price — above max_price fails
//     price_exceeds_max;
//   - without max_price the client accepted any price: a stale one is used.
func (st *Step) guardPrice(inquiryAmount, inquiryTotal int64, cat Price, next NextOffer, pol providers.Policy, r Rules) (int64, bool) {
	p := &st.Purchase
	amount := inquiryAmount
	if amount <= 0 {
		amount = cat.Amount
	}
	if amount <= 0 {
		st.endOrFailOver("product_unavailable", "no price is known for "+p.ProductCode+" at "+p.Provider+": the inquiry gave none and the catalog has none", nil, next, pol, r)
		return 0, false
	}
	if p.MaxPrice == nil {
		return amount, true
	}
	if !cat.Fresh || cat.Amount <= 0 {
		waited := st.retrying()
		if waited >= r.PriceRefreshWindow {
			st.endOrFailOver("provider_unavailable", fmt.Sprintf("the catalog price of %s at %s could not be refreshed within %s, and max_price needs a known price", p.ProductCode, p.Provider, r.PriceRefreshWindow),
				map[string]any{"waited": waited.String()}, next, pol, r)
			return 0, false
		}
		st.note("price_unknown", map[string]any{"why": "the catalog price is stale and its refresh failed; max_price needs a known price", "waited": waited.String()})
		st.Snooze = min(max(waited, r.StepBackoff), r.StepBackoffMax, max(r.PriceRefreshWindow-waited, time.Millisecond))
		return 0, false
	}
	if highest := max(amount, inquiryTotal, cat.Amount); highest > *p.MaxPrice {
		st.endOrFailOver("price_exceeds_max", fmt.Sprintf("price %d at %s exceeds max_price %d", highest, p.Provider, *p.MaxPrice), nil, next, pol, r)
		return 0, false
	}
	return amount, true
}
