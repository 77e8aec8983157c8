package flow

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/ppob-orchestrator/orchestrator/internal/providers"
	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

// confirm, cancel and expire, branch by branch.
func TestClientActions(t *testing.T) {
	t.Parallel()
	awaiting := func(p *store.Purchase) {
		p.InquiryAmount, p.ExpiresAt = ptr(int64(20500)), ptr(t0.Add(time.Minute))
	}
	expired := func(p *store.Purchase) { p.ExpiresAt = ptr(t0) }
	confirmed := func(p *store.Purchase) { p.ConfirmedAt = ptr(t0.Add(-time.Minute)) }
	for _, c := range []struct {
		name string
		st   Step
		want want
	}{
		{"confirm: the intent and the payment", confirm(purchase(StatusAwaitingConfirmation, awaiting), fresh, t0, byReference, rules),
			want{status: StatusPaying, moves: []string{"confirm"}, jobs: []Job{{Kind: JobPayment}}, check: func(t *testing.T, st Step) {
				p := st.Purchase
				if deref(p.Amount) != 20500 || deref(p.ProviderReference) != fresh || p.ConfirmedAt == nil || st.Moves[0].Actor != "client" {
					t.Errorf("amount %d reference %s confirmed %v actor %s", deref(p.Amount), deref(p.ProviderReference), p.ConfirmedAt, st.Moves[0].Actor)
				}
			}}},
		{"confirm again: as it is", confirm(purchase(StatusSucceeded, confirmed), fresh, t0, byReference, rules), want{status: StatusSucceeded}},
		{"confirm too late: expired and refused", confirm(purchase(StatusAwaitingConfirmation, awaiting, expired), fresh, t0, byReference, rules),
			want{status: StatusFailed, moves: []string{"expire"}, failure: "inquiry_expired", refusal: true}},
		{"confirm in another status: refused", confirm(purchase(StatusInquiring), fresh, t0, byReference, rules), want{status: StatusInquiring, refusal: true}},
		{"cancel before paying", cancel(purchase(StatusInquiring), t0), want{status: StatusCanceled, moves: []string{"cancel"}}},
		{"cancel again: as it is", cancel(purchase(StatusCanceled), t0), want{status: StatusCanceled}},
		{"cancel after paying: refused", cancel(purchase(StatusPaying), t0), want{status: StatusPaying, refusal: true}},
		{"expire early: waits", expire(purchase(StatusAwaitingConfirmation, awaiting), t0), want{status: StatusAwaitingConfirmation, snooze: true}},
		{"expire due", expire(purchase(StatusAwaitingConfirmation, awaiting, expired), t0), want{status: StatusFailed, moves: []string{"expire"}, failure: "inquiry_expired"}},
		{"expire after a confirm: nothing", expire(purchase(StatusPaying), t0), want{status: StatusPaying}},
	} {
		c.want.verify(t, c.name, c.st)
	}
}

// resolve follows docs/flow.md's rules, lookup answer by request (defects 2
// and 7 are rows).
func TestResolveRules(t *testing.T) {
	t.Parallel()
	failed := ResolveRequest{Status: StatusFailed, Note: "support says no charge", Operator: "ana"}
	forcedFail := failed
	forcedFail.Force = true
	succeeded := ResolveRequest{Status: StatusSucceeded, Note: "token from support", SerialNumber: plnSerial, Operator: "ana"}
	forcedSuccess := succeeded
	forcedSuccess.Force = true
	review := purchase(StatusNeedsReview)
	reviewPLN := purchase(StatusNeedsReview, pln)
	tokenIs := func(want string) func(*testing.T, Step) {
		return func(t *testing.T, st Step) {
			var r resultData
			_ = json.Unmarshal(st.Purchase.Result, &r)
			if r.Token != want {
				t.Errorf("token %q, want %q", r.Token, want)
			}
		}
	}
	by := func(actor string) func(*testing.T, Step) {
		return func(t *testing.T, st Step) {
			if len(st.Moves) == 0 || st.Moves[len(st.Moves)-1].Actor != actor {
				t.Errorf("moves %+v, want the last by %s", st.Moves, actor)
			}
		}
	}
	requested := []string{"resolve_requested"}
	for _, c := range []struct {
		name string
		p    store.Purchase
		l    Lookup
		req  ResolveRequest
		want want
	}{
		{"not in needs_review", purchase(StatusProcessing), looked(answer(providers.Pending)), failed, want{status: StatusProcessing, refusal: true}},
		{"SUCCESS, failed asked: the provider decides, refused", review, looked(answerWith(providers.Succeeded, "SN")), failed,
			want{status: StatusSucceeded, moves: []string{"succeed"}, notes: requested, refusal: true, check: by("system")}},
		{"SUCCESS, succeeded asked: the provider's word", review, looked(answerWith(providers.Succeeded, "SN")), succeeded,
			want{status: StatusSucceeded, moves: []string{"succeed"}, notes: requested}},
		{"SUCCESS without the token, failed asked: never failed by hand", reviewPLN, looked(answer(providers.Succeeded)), failed,
			want{status: StatusNeedsReview, notes: requested, alerts: []string{"missing_token"}, refusal: true}},
		{"SUCCESS without the token, the operator's token (defect 2)", reviewPLN, looked(answer(providers.Succeeded)), succeeded,
			want{status: StatusSucceeded, moves: []string{"resolved"}, notes: requested, alerts: []string{"missing_token"}, check: func(t *testing.T, st Step) {
				tokenIs(plnToken)(t, st)
				by("operator")(t, st)
			}}},
		{"FAILED, failed asked: the provider's word", review, looked(answer(providers.Failed)), failed,
			want{status: StatusFailed, moves: []string{"fail"}, failure: "transaction_failed", notes: requested}},
		{"FAILED, succeeded asked: only with force", reviewPLN, looked(answer(providers.Failed)), succeeded,
			want{status: StatusNeedsReview, notes: requested, refusal: true}},
		{"FAILED, succeeded forced", reviewPLN, looked(answer(providers.Failed)), forcedSuccess,
			want{status: StatusSucceeded, moves: []string{"resolved"}, notes: requested, check: tokenIs(plnToken)}},
		{"not_found, failed asked", review, looked(answer(providers.NotFound)), failed,
			want{status: StatusFailed, moves: []string{"resolved"}, failure: "resolved_by_operator", notes: requested, check: by("operator")}},
		{"pending, failed asked: only with force", review, looked(answer(providers.Pending)), failed, want{status: StatusNeedsReview, notes: requested, refusal: true}},
		{"pending, failed forced", review, looked(answer(providers.Pending)), forcedFail,
			want{status: StatusFailed, moves: []string{"resolved"}, failure: "resolved_by_operator", notes: requested}},
		{"a timeout, failed asked: only with force (defect 7)", review, looked(answer(providers.Unknown)), failed, want{status: StatusNeedsReview, notes: requested, refusal: true}},
		{"a refusal, failed asked: only with force (defect 7)", review, looked(answer(providers.Rejected)), failed, want{status: StatusNeedsReview, notes: requested, refusal: true}},
		{"a refusal, failed forced", review, looked(answer(providers.Rejected)), forcedFail,
			want{status: StatusFailed, moves: []string{"resolved"}, failure: "resolved_by_operator", notes: requested}},
		{"nothing to look up with, failed asked: only with force", review, Lookup{}, failed, want{status: StatusNeedsReview, notes: requested, refusal: true}},
		{"pending, succeeded asked", reviewPLN, looked(answer(providers.Pending)), succeeded,
			want{status: StatusSucceeded, moves: []string{"resolved"}, notes: requested, check: tokenIs(plnToken)}},
		{"an answer naming another reference counts as none", review, looked(func() providers.Status {
			a := answer(providers.NotFound)
			a.Outcome = providers.Failed
			a.Reference = "x"
			return a
		}()), failed,
			want{status: StatusNeedsReview, notes: requested, refusal: true}},
	} {
		c.want.verify(t, c.name, resolve(c.p, c.l, c.req, t0))
	}
}

// redrive: the job each open status calls for.
func TestRedrive(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		p       store.Purchase
		inquiry string
		want    Job
		ok      bool
	}{
		{purchase(StatusReceived), "required", Job{Kind: JobInquiry}, true},
		{purchase(StatusReceived), "none", Job{Kind: JobPayment}, true},
		{purchase(StatusInquiring), "optional", Job{Kind: JobInquiry}, true},
		{purchase(StatusPaying, inFlight), "none", Job{Kind: JobPayment}, true},
		{purchase(StatusAwaitingConfirmation, func(p *store.Purchase) { p.ExpiresAt = ptr(t0.Add(time.Minute)) }), "required", Job{Kind: JobExpire, After: time.Minute}, true},
		{purchase(StatusProcessing), "none", Job{Kind: JobLookup}, true},
		{purchase(StatusNeedsReview), "none", Job{Kind: JobLookup}, true},
		{purchase(StatusNeedsReview, func(p *store.Purchase) { p.DeadlineAt = ptr(t0.Add(-8 * 24 * time.Hour)) }), "none", Job{}, false},
		{purchase(StatusSucceeded), "none", Job{}, false},
	} {
		got, ok := redrive(c.p, c.inquiry, t0, rules)
		if got != c.want || ok != c.ok {
			t.Errorf("%s: %+v %v, want %+v %v", c.p.Status, got, ok, c.want, c.ok)
		}
	}
}
