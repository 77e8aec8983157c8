package flow

import (
	"testing"
	"time"

	"github.com/ppob-orchestrator/orchestrator/internal/providers"
	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

func inquiryOK(amount, total int64) providers.Inquiry {
	return providers.Inquiry{Result: providers.Result{Outcome: providers.Succeeded}, CustomerName: "BAHARRUDIN", Amount: amount, Total: total}
}

func inquiryFailed(reason providers.Reason) providers.Inquiry {
	return providers.Inquiry{Result: providers.Result{Outcome: providers.Failed, Reason: reason, Detail: "no"}}
}

func inquiryOutcome(o providers.Outcome) providers.Inquiry {
	return providers.Inquiry{Result: providers.Result{Outcome: o, Reason: providers.ReasonTimeout}}
}

// afterInquiry, branch by branch.
func TestAfterInquiry(t *testing.T) {
	t.Parallel()
	price := Price{Amount: 20500, Fresh: true}
	stale := Price{Amount: 20500}
	payJob := []Job{{Kind: JobPayment}}
	amountIs := func(n int64) func(*testing.T, Step) {
		return func(t *testing.T, st Step) {
			if got := deref(st.Purchase.Amount); got != n {
				t.Errorf("amount %d, want %d", got, n)
			}
		}
	}
	for _, c := range []struct {
		name string
		p    store.Purchase
		ans  providers.Inquiry
		cat  Price
		pol  providers.Policy
		want want
	}{
		{"canceled during the call: recorded only", purchase(StatusCanceled), inquiryOK(20500, 20546), price, byReference,
			want{status: StatusCanceled, check: func(t *testing.T, st Step) {
				if st.Purchase.InquiryAttempts != 0 {
					t.Error("an inquiry for a canceled purchase was counted")
				}
			}}},
		{"first answer, automatic: received → inquiring → paying, the payment queued", purchase(StatusReceived), inquiryOK(20500, 20546), price, byReference,
			want{status: StatusPaying, moves: []string{"start_inquiry", "pay"}, jobs: payJob, check: func(t *testing.T, st Step) {
				p := st.Purchase
				if deref(p.Amount) != 20500 || deref(p.ProviderReference) != fresh || p.InquiryAttempts != 1 || !p.DeadlineAt.Equal(t0.Add(time.Hour)) {
					t.Errorf("intent: amount %d, reference %s, attempts %d, deadline %v", deref(p.Amount), deref(p.ProviderReference), p.InquiryAttempts, p.DeadlineAt)
				}
			}}},
		{"a policy that references by purchase id", purchase(StatusInquiring), inquiryOK(20500, 0), price, byRequestID,
			want{status: StatusPaying, moves: []string{"pay"}, jobs: payJob, check: func(t *testing.T, st Step) {
				if deref(st.Purchase.ProviderReference) != pid.String() {
					t.Errorf("reference %s, want the purchase id", deref(st.Purchase.ProviderReference))
				}
			}}},
		{"manual: awaits confirmation until INQUIRY_TTL", purchase(StatusInquiring, manual), inquiryOK(20500, 20546), price, byReference,
			want{status: StatusAwaitingConfirmation, moves: []string{"await_confirmation"}, jobs: []Job{{Kind: JobExpire, After: 10 * time.Minute}},
				check: func(t *testing.T, st Step) {
					if !st.Purchase.ExpiresAt.Equal(t0.Add(10*time.Minute)) || st.Purchase.ProviderReference != nil {
						t.Errorf("expires %v, reference %v (none before confirmation)", st.Purchase.ExpiresAt, st.Purchase.ProviderReference)
					}
				}}},
		{"no amount in the answer: the catalog's", purchase(StatusInquiring), inquiryOK(0, 0), price, byReference,
			want{status: StatusPaying, moves: []string{"pay"}, jobs: payJob, check: amountIs(20500)}},
		{"no amount anywhere (defect 3): product_unavailable, never a zero payment", purchase(StatusInquiring), inquiryOK(0, 0), Price{}, byReference,
			want{status: StatusFailed, moves: []string{"fail"}, failure: "product_unavailable"}},
		{"above max_price: price_exceeds_max", purchase(StatusInquiring, maxPrice(20000)), inquiryOK(20500, 20546), price, byReference,
			want{status: StatusFailed, moves: []string{"fail"}, failure: "price_exceeds_max"}},
		{"total above max_price", purchase(StatusInquiring, maxPrice(20520)), inquiryOK(20500, 20546), price, byReference,
			want{status: StatusFailed, moves: []string{"fail"}, failure: "price_exceeds_max"}},
		{"stale catalog under max_price (defect 4): waits for the refresh", purchase(StatusInquiring, maxPrice(30000)), inquiryOK(20500, 20546), stale, byReference,
			want{status: StatusInquiring, notes: []string{"price_unknown"}, snooze: true, check: func(t *testing.T, st Step) {
				if st.Purchase.RetrySince == nil || !st.Purchase.RetrySince.Equal(t0) {
					t.Errorf("retry window starts %v, want now", st.Purchase.RetrySince)
				}
			}}},
		{"stale catalog under max_price past PRICE_REFRESH_WINDOW: provider_unavailable", purchase(StatusInquiring, maxPrice(30000), retryingSince(2*time.Minute)), inquiryOK(20500, 20546), stale, byReference,
			want{status: StatusFailed, moves: []string{"fail"}, failure: "provider_unavailable"}},
		{"stale catalog without max_price: used", purchase(StatusInquiring), inquiryOK(20500, 0), stale, byReference,
			want{status: StatusPaying, moves: []string{"pay"}, jobs: payJob, check: amountIs(20500)}},
		{"customer not found", purchase(StatusReceived), inquiryFailed(providers.ReasonCustomerNotFound), price, byReference,
			want{status: StatusFailed, moves: []string{"start_inquiry", "fail"}, failure: "customer_not_found"}},
		{"insufficient deposit alerts", purchase(StatusInquiring), inquiryFailed(providers.ReasonInsufficientBal), price, byReference,
			want{status: StatusFailed, moves: []string{"fail"}, failure: "insufficient_balance", alerts: []string{"insufficient_balance"}}},
		{"refused: alert and retry", purchase(StatusReceived), inquiryOutcome(providers.Rejected), price, byReference,
			want{status: StatusInquiring, moves: []string{"start_inquiry"}, alerts: []string{"provider_refused"}, snooze: true}},
		{"refused past the window: provider_refused", purchase(StatusInquiring, retryingSince(5*time.Minute)), inquiryOutcome(providers.Rejected), price, byReference,
			want{status: StatusFailed, moves: []string{"fail"}, failure: "provider_refused", alerts: []string{"provider_refused"}}},
		{"no answer: retry, the window starts", purchase(StatusReceived), inquiryOutcome(providers.Unknown), price, byReference,
			want{status: StatusInquiring, moves: []string{"start_inquiry"}, snooze: true, check: func(t *testing.T, st Step) {
				if st.Purchase.RetrySince == nil {
					t.Error("no retry window")
				}
			}}},
		{"no answer after many attempts, inside the window (defect 11): still retried", purchase(StatusInquiring, retryingSince(4*time.Minute), func(p *store.Purchase) { p.InquiryAttempts = 9 }), inquiryOutcome(providers.Unknown), price, byReference,
			want{status: StatusInquiring, snooze: true, check: func(t *testing.T, st Step) {
				if st.Snooze > time.Minute {
					t.Errorf("snooze %s sleeps past the window's end", st.Snooze)
				}
			}}},
		{"no answer past the window (defect 11): provider_unavailable", purchase(StatusInquiring, retryingSince(5*time.Minute)), inquiryOutcome(providers.Unknown), price, byReference,
			want{status: StatusFailed, moves: []string{"fail"}, failure: "provider_unavailable"}},
	} {
		c.want.verify(t, c.name, afterInquiry(c.p, c.ans, c.cat, fresh, Unread, t0, c.pol, rules))
	}
}
