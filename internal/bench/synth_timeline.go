package bench

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/ppob-orchestrator/orchestrator/internal/flow"
)

// timeline writes one preloaded purchase's steps in order, as the flow's
// jobs would have: each status change a compare-and-set with its event,
// each provider call recorded with its event, each callback stored with
// its event (docs/invariants.md#5-one-event-per-change).
type timeline struct {
	b       *batch
	r       *rand.Rand
	p       *synthPurchase // the purchase being written (the last of b.purchases)
	product *synthProduct
	offer   synthOffer // the current attempt's
	w       wire       // the current attempt's provider, as it answers
	now     time.Time
	status  string
	seq     int32
}

// after moves the clock on by a uniform duration in [lo, hi).
func (t *timeline) after(lo, hi time.Duration) {
	t.now = t.now.Add(lo + time.Duration(t.r.Int64N(int64(hi-lo))))
}

// latency is a provider call's duration: mostly a few hundred
// milliseconds, now and then seconds.
func (t *timeline) latency() time.Duration {
	if t.r.IntN(50) == 0 {
		return time.Second + time.Duration(t.r.IntN(4000))*time.Millisecond
	}
	return time.Duration(80+t.r.IntN(420)) * time.Millisecond
}

// event appends a non-status event.
func (t *timeline) event(kind, name, actor string, call, callback int32, data string) {
	t.seq++
	t.b.events = append(t.b.events, synthEvent{PurchaseID: t.p.ID, Seq: t.seq, Kind: kind, Name: name, Actor: actor,
		Call: call, Callback: callback, Data: data, CreatedAt: t.now})
}

// move changes the status (the machine of docs/flow.md allows each move
// this file makes; the preload's test replays them against
// purchase_transitions) with its status event.
func (t *timeline) move(name, to, actor, data string) {
	if actor == "" {
		actor = "system"
	}
	t.seq++
	t.b.events = append(t.b.events, synthEvent{PurchaseID: t.p.ID, Seq: t.seq, Kind: "status", Name: name,
		From: t.status, To: to, Actor: actor, Call: -1, Callback: -1, Data: data, CreatedAt: t.now})
	t.status = to
	t.p.Status = to
	t.p.UpdatedAt = t.now
	if to == "succeeded" || to == "failed" || to == "canceled" {
		now := t.now
		t.p.CompletedAt = &now
	}
}

// fail ends the purchase failed.
func (t *timeline) fail(name, code, message, data string) {
	t.p.FailureCode, t.p.FailureMessage = &code, &message
	t.move(name, "failed", "", data)
}

// call records one provider call of the current attempt and its event,
// after its latency.
func (t *timeline) call(c wireCall) {
	lat := t.latency()
	t.now = t.now.Add(lat)
	ref := c.Reference
	t.b.calls = append(t.b.calls, synthCall{PurchaseID: t.p.ID, Provider: t.offer.Provider, Operation: c.Operation,
		Reference: &ref, HTTPStatus: c.HTTPStatus, Code: c.Code, Message: c.Message, Outcome: c.Outcome, Reason: c.Reason,
		LatencyMS: int32(lat.Milliseconds()), Request: c.Request, Response: c.Response, CreatedAt: t.now})
	idx := int32(len(t.b.calls) - 1)
	t.event("provider_call", c.Operation+": "+c.Outcome, "system", idx, -1, `{}`)
	if c.Balance > 0 && t.b.keepBalance(t.offer.Provider, t.now) {
		t.b.balances = append(t.b.balances, synthBalance{Provider: t.offer.Provider, Balance: c.Balance, Source: c.Operation, ObservedAt: t.now})
	}
}

// callback stores a provider callback for the purchase and its event.
func (t *timeline) callback(c wireCallback, action string) {
	ref, outcome, id := c.Reference, c.Outcome, t.p.ID
	t.b.callbacks = append(t.b.callbacks, synthCallback{Provider: t.offer.Provider, Body: c.Body, Authenticated: c.Authenticated,
		Reference: &ref, PurchaseID: &id, Outcome: &outcome, Action: action, ReceivedAt: t.now})
	t.event("callback", "callback: "+c.Outcome, "provider", -1, int32(len(t.b.callbacks)-1),
		fmt.Sprintf(`{"raw_status": %q, "authenticated": %t}`, c.RawStatus, c.Authenticated))
}

// inquiry runs the purchase's inquiry; false when it ended the purchase.
func (t *timeline) inquiry(end outcome) bool {
	t.after(20*time.Millisecond, 300*time.Millisecond)
	w := t.wire()
	t.p.InquiryAttempts = 1
	switch end {
	case endCustomerNotFound, endProductUnavailable:
		c := w.inquiryRefused(end)
		t.call(c)
		t.move("start_inquiry", "inquiring", "", `{}`)
		t.fail("fail", c.Reason, c.Message, fmt.Sprintf(`{"failure_code": %q}`, c.Reason))
		return false
	}
	c, inq := w.inquiry()
	t.call(c)
	t.p.Inquiry = []byte(inq.JSON)
	t.p.InquiryAmount, t.p.InquiryTotal = &inq.Amount, &inq.Total
	if inq.RequestID != "" {
		t.p.ProviderRequestID = &inq.RequestID
	}
	t.move("start_inquiry", "inquiring", "", `{}`)
	return true
}

// amount is what the current attempt pays: the inquiry's amount, else the
// offer's price.
func (t *timeline) amount() int64 {
	if t.p.InquiryAmount != nil && t.offer.Provider == t.product.Offers[0].Provider {
		return *t.p.InquiryAmount
	}
	return t.offer.Price
}

// intent commits the payment intent of the current attempt (our
// reference, the amount, the deadline) before its call.
func (t *timeline) intent() wire {
	w := t.wire()
	ref, amount, sent := w.reference(), t.amount(), t.now
	deadline := sent.Add(24 * time.Hour)
	t.p.ProviderReference, t.p.Amount = &ref, &amount
	t.p.PaymentAttempts, t.p.PaymentLastSentAt, t.p.DeadlineAt = 1, &sent, &deadline
	return w
}

// failOver ends the first attempt with a refused payment (the product is
// closed at its provider) and moves the purchase to next (docs/routing.md).
func (t *timeline) failOver(next synthOffer) {
	t.after(20*time.Millisecond, 300*time.Millisecond)
	w := t.intent()
	c := w.paymentRefused(endProductUnavailable)
	t.call(c)
	from := t.offer.Provider
	t.b.attempts = append(t.b.attempts, synthAttempt{PurchaseID: t.p.ID, Number: 1, Provider: from,
		ProviderProductCode: t.offer.ProviderProductCode, ProviderReference: *t.p.ProviderReference,
		PaymentAttempts: 1, FailureCode: c.Reason, FailureMessage: c.Message, StartedAt: t.p.AttemptStartedAt, EndedAt: t.now})
	t.move("fail_over", "received", "", fmt.Sprintf(`{"reason": %q, "attempt": 2, "to_provider": %q, "from_provider": %q}`, c.Reason, next.Provider, from))
	t.offer, t.w = next, nil
	p := t.p
	p.Attempt, p.AttemptStartedAt, p.Provider, p.ProviderProductCode = 2, t.now, next.Provider, next.ProviderProductCode
	p.ProviderReference, p.Amount, p.PaymentAttempts, p.PaymentLastSentAt, p.DeadlineAt = nil, nil, 0, nil, nil
	t.after(5*time.Millisecond, 50*time.Millisecond)
	t.move("pay", "paying", "", `{}`)
}

// payment makes the current attempt's payment call; false when a
// definitive refusal ended the purchase (a product without an inquiry
// learns only here that the customer does not exist).
func (t *timeline) payment(end outcome) bool {
	t.after(20*time.Millisecond, 300*time.Millisecond)
	w := t.intent()
	if end == endCustomerNotFound || end == endProductUnavailable {
		c := w.paymentRefused(end)
		t.call(c)
		t.fail("fail", c.Reason, c.Message, fmt.Sprintf(`{"code": %q, "failure_code": %q}`, c.Code, c.Reason))
		return false
	}
	c := w.payment()
	t.call(c)
	t.p.PaymentUncertain = true
	t.p.ProviderTransactionID = &c.TransactionID
	if t.offer.Provider == "snapcart" && t.p.ProviderRequestID == nil {
		t.p.ProviderRequestID = &c.TransactionID
	}
	t.move("payment_accepted", "processing", "", fmt.Sprintf(`{"code": %q, "outcome": "pending"}`, c.Code))
	return true
}

// lookup runs one status lookup at the k-th step of the schedule after
// paid, answering status ("pending", "succeeded", "failed").
func (t *timeline) lookup(w wire, paid time.Time, k int, status string) wireCall {
	if at := paid.Add(lookupSchedule(k)); at.After(t.now) {
		t.now = at
	}
	c := w.lookup(status)
	t.call(c)
	t.p.Lookups++
	t.p.UpdatedAt = t.now
	return c
}

// resolve ends a processing purchase as end says: by lookups, by the
// provider's callback, or at the status deadline (needs_review); a
// contradicting report after a success is recorded, not applied.
func (t *timeline) resolve(end outcome, contradiction bool) {
	w := t.wire()
	paid := t.now
	final := "succeeded"
	switch end {
	case endTransactionFailed:
		final = "failed"
	case endSucceeded:
		t.p.Result = []byte(w.result())
	}
	if end == endNeedsReview {
		k := 0
		for ; lookupSchedule(k) < 24*time.Hour; k++ {
			t.lookup(w, paid, k, "pending")
		}
		t.now = *t.p.DeadlineAt
		t.move("deadline", "needs_review", "", fmt.Sprintf(`{"lookups": %d}`, t.p.Lookups))
		for h := range 7 * 24 {
			t.now = t.p.DeadlineAt.Add(time.Duration(h+1)*time.Hour + time.Duration(t.r.IntN(1000))*time.Millisecond)
			c := w.lookup("pending")
			t.call(c)
			t.p.Lookups++
			t.p.UpdatedAt = t.now
		}
		return
	}
	pending := 0
	switch u := t.r.Float64(); {
	case w.signedCallbacks() && u < 0.75:
	case u < 0.85:
		pending = 1
	case u < 0.95:
		pending = 2 + t.r.IntN(2)
	default:
		pending = 4 + t.r.IntN(4)
	}
	k := 0
	for ; k < pending; k++ {
		t.lookup(w, paid, k, "pending")
	}
	via := "lookup"
	if t.r.Float64() < 0.9 {
		t.after(time.Second, 20*time.Second)
		cb := w.callback(final)
		if w.signedCallbacks() {
			t.callback(cb, "applied")
			via = "signed callback"
		} else {
			t.callback(cb, "lookup_triggered") // a hint: the lookup it triggers decides
			t.lookup(w, t.now, -1, final)
		}
	} else {
		t.lookup(w, paid, k, final)
	}
	if final == "failed" {
		data := `{"raw_status": "FAILED", "failure_code": "transaction_failed"}`
		if via != "lookup" {
			data = fmt.Sprintf(`{"via": %q, "failure_code": "transaction_failed"}`, via)
		}
		t.fail("fail", "transaction_failed", "the provider reports the transaction failed (FAILED)", data)
		return
	}
	price := *t.p.Amount
	t.p.Price = &price
	t.move("succeed", "succeeded", "", fmt.Sprintf(`{"via": %q, "price": %d}`, via, price))
	if contradiction {
		t.contradict(w)
	}
}

// contradict records a provider report contradicting the success, hours
// later: the callback, the note, the alert and its event (invariant 6).
func (t *timeline) contradict(w wire) {
	t.after(time.Minute, 6*time.Hour)
	cb := w.callback("contradiction")
	t.callback(cb, "contradiction")
	t.event("note", "contradiction", "system", -1, -1,
		fmt.Sprintf(`{"source": "callback", "status": "succeeded", "reported": %q, "raw_status": %q}`, cb.Outcome, cb.RawStatus))
	msg := fmt.Sprintf("%s reports %s for a succeeded purchase (not applied)", t.offer.Provider, cb.Outcome)
	provider, id := t.offer.Provider, t.p.ID
	t.b.alerts = append(t.b.alerts, synthAlert{Kind: "contradiction", Provider: &provider, PurchaseID: &id, Message: msg,
		Data: fmt.Sprintf(`{"source": "callback", "reported": %q, "raw_status": %q}`, cb.Outcome, cb.RawStatus), CreatedAt: t.now})
	t.event("alert", "contradiction", "system", -1, -1, fmt.Sprintf(`{"message": %q}`, msg))
}

// keepBalance reports whether a deposit of provider observed at now is
// kept: when none was within flow.BalanceKeepEvery of it (the purchases of
// a batch are consecutive, their calls nearly in order).
func (b *batch) keepBalance(provider string, now time.Time) bool {
	if b.balanceAt == nil {
		b.balanceAt = map[string]time.Time{}
	}
	last, ok := b.balanceAt[provider]
	if ok && now.Sub(last).Abs() < flow.BalanceKeepEvery {
		return false
	}
	b.balanceAt[provider] = now
	return true
}
