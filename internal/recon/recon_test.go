package recon_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ppob-orchestrator/orchestrator/internal/flow"
	"github.com/ppob-orchestrator/orchestrator/internal/flowtest"
	"github.com/ppob-orchestrator/orchestrator/internal/providers/klikoo"
	"github.com/ppob-orchestrator/orchestrator/internal/providers/snapcart"
	"github.com/ppob-orchestrator/orchestrator/internal/recon"
	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

// build reads the report with the flow's clock, with events since since.
func build(t *testing.T, b *flowtest.Env, since time.Time) *recon.Report {
	t.Helper()
	r, err := recon.Build(context.Background(), b.Pool, recon.Options{Since: since, Now: b.Clock.Now})
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	return r
}

// buy creates a purchase through the flow.
func buy(t *testing.T, b *flowtest.Env, req flow.CreateRequest) uuid.UUID {
	t.Helper()
	req.ClientID = b.ClientID
	req.AllowRepeat = true
	p, created, err := b.Svc.Create(context.Background(), req)
	if err != nil || !created {
		t.Fatalf("create %s: created=%v err=%v", req.ReferenceID, created, err)
	}
	return p.ID
}

// waitStatus waits until the purchase reaches status.
func waitStatus(t *testing.T, b *flowtest.Env, id uuid.UUID, status flow.Status) {
	t.Helper()
	flowtest.WaitFor(t, 60*time.Second, func() string {
		return fmt.Sprintf("purchase %s is %s, want %s", id, b.Purchase(t, id).Status, status)
	}, func() bool { return flow.Status(b.Purchase(t, id).Status) == status })
}

// waitReport polls the report until cond holds.
func waitReport(t *testing.T, b *flowtest.Env, since time.Time, what string, cond func(*recon.Report) bool) *recon.Report {
	t.Helper()
	var r *recon.Report
	flowtest.WaitFor(t, 60*time.Second, func() string { return what }, func() bool {
		r = build(t, b, since)
		return cond(r)
	})
	return r
}

func references[T any](rows []T, ref func(T) string) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = ref(r)
	}
	return out
}

// A purchase whose job never runs (the workers are down) is stuck once it
// has been untouched for 10 minutes in received — not before.
func TestStuckReceived(t *testing.T) {
	t.Parallel()
	b := flowtest.Setup(t, flowtest.Options{NoStart: true})
	id := buy(t, b, flow.CreateRequest{ReferenceID: "stuck-1", ProductCode: "S10", CustomerNumber: "081211223344"})

	b.Clock.Advance(9 * time.Minute)
	if r := build(t, b, time.Time{}); r.Stuck.Count != 0 || r.NeedsAttention {
		t.Fatalf("after 9 minutes: stuck %+v, needs_attention %v", r.Stuck.Rows, r.NeedsAttention)
	}
	b.Clock.Advance(2 * time.Minute)
	r := build(t, b, time.Time{})
	if r.Stuck.Count != 1 || !r.NeedsAttention {
		t.Fatalf("after 11 minutes: stuck %d rows, needs_attention %v", r.Stuck.Count, r.NeedsAttention)
	}
	s := r.Stuck.Rows[0]
	if s.PurchaseID != id || s.Status != store.PurchaseStatusReceived || s.ReferenceID != "stuck-1" {
		t.Fatalf("stuck row %+v", s)
	}
	if s.OverdueSeconds < 55 || s.OverdueSeconds > 70 {
		t.Fatalf("overdue %ds, want about 60s", s.OverdueSeconds)
	}
}

// With the workers stopped, a manual purchase waiting for confirmation is
// stuck past expires_at, and a payment being resolved (scenario 41, pending
// forever) is stuck in processing past deadline_at.
func TestStuckPastExpiryAndDeadline(t *testing.T) {
	t.Parallel()
	b := flowtest.Setup(t, flowtest.Options{})
	waiting := buy(t, b, flow.CreateRequest{ReferenceID: "manual-1", ProductCode: "PLN20", CustomerNumber: "551234567801", Confirmation: "manual"})
	pending := buy(t, b, flow.CreateRequest{ReferenceID: "pending-41", ProductCode: "S10", CustomerNumber: "0812119941"})
	waitStatus(t, b, waiting, flow.StatusAwaitingConfirmation)
	waitStatus(t, b, pending, flow.StatusProcessing)
	stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.Svc.Stop(stopCtx); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if r := build(t, b, time.Time{}); r.Stuck.Count != 0 {
		t.Fatalf("before the deadlines: stuck %+v", r.Stuck.Rows)
	}
	// flowtest's INQUIRY_TTL and STATUS_DEADLINE are both 1h.
	b.Clock.Advance(time.Hour + 2*time.Minute)
	r := build(t, b, time.Time{})
	got := map[string]store.PurchaseStatus{}
	for _, s := range r.Stuck.Rows {
		got[s.ReferenceID] = s.Status
	}
	want := map[string]store.PurchaseStatus{"manual-1": store.PurchaseStatusAwaitingConfirmation, "pending-41": store.PurchaseStatusProcessing}
	if len(got) != len(want) || got["manual-1"] != want["manual-1"] || got["pending-41"] != want["pending-41"] || !r.NeedsAttention {
		t.Fatalf("stuck %v, want %v (needs_attention %v)", got, want, r.NeedsAttention)
	}
}

// Scenario 41 (pending forever) reaches needs_review at STATUS_DEADLINE; the
// report lists it with how long it has waited.
func TestNeedsReview(t *testing.T) {
	t.Parallel()
	b := flowtest.Setup(t, flowtest.Options{StatusDeadline: time.Hour})
	id := buy(t, b, flow.CreateRequest{ReferenceID: "review-41", ProductCode: "S10", CustomerNumber: "0812119941"})
	waitStatus(t, b, id, flow.StatusProcessing)
	if r := build(t, b, time.Time{}); r.NeedsReview.Count != 0 || r.NeedsAttention {
		t.Fatalf("while processing: needs_review %+v", r.NeedsReview.Rows)
	}
	b.Clock.Advance(2 * time.Hour)
	waitStatus(t, b, id, flow.StatusNeedsReview)
	b.Clock.Advance(30 * time.Minute)
	r := build(t, b, time.Time{})
	if r.NeedsReview.Count != 1 || !r.NeedsAttention {
		t.Fatalf("needs_review %d rows, needs_attention %v", r.NeedsReview.Count, r.NeedsAttention)
	}
	x := r.NeedsReview.Rows[0]
	if x.PurchaseID != id || x.ProviderReference == nil || x.PaymentAttempts != 1 {
		t.Fatalf("needs_review row %+v", x)
	}
	if x.WaitingSeconds < 30*60 || x.WaitingSeconds > 31*60 {
		t.Fatalf("waiting %ds, want about 30 minutes", x.WaitingSeconds)
	}
	if r.Stuck.Count != 0 {
		t.Fatalf("needs_review purchase also listed as stuck: %+v", r.Stuck.Rows)
	}
}

// Scenario 24: SUCCESS, then FAILED/REFUND. The purchase stays succeeded and
// the report shows the contradiction, in JSON and as a table.
func TestContradiction(t *testing.T) {
	t.Parallel()
	b := flowtest.Setup(t, flowtest.Options{})
	start := b.Clock.Now()
	id := buy(t, b, flow.CreateRequest{ReferenceID: "contra-24", ProductCode: "S10", CustomerNumber: "0812119924"})
	r := waitReport(t, b, start, "no contradiction in the report", func(r *recon.Report) bool { return r.Contradictions.Count > 0 })
	if r.Contradictions.Count != 1 || !r.NeedsAttention {
		t.Fatalf("contradictions %+v", r.Contradictions.Rows)
	}
	c := r.Contradictions.Rows[0]
	if c.PurchaseID != id || c.Status != store.PurchaseStatusSucceeded || c.Reports < 1 || c.AlertMessage == "" ||
		!(strings.Contains(c.Reported, "failed") || strings.Contains(c.Reported, "refunded")) {
		t.Fatalf("contradiction row %+v", c)
	}
	// Events before since are not reported.
	if later := build(t, b, b.Clock.Now().Add(time.Minute)); later.Contradictions.Count != 0 {
		t.Fatalf("since after the report: %+v", later.Contradictions.Rows)
	}

	raw, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var decoded struct {
		NeedsAttention bool `json:"needs_attention"`
		Contradictions struct {
			Count int              `json:"count"`
			Rows  []map[string]any `json:"rows"`
		} `json:"contradictions"`
		DoublePayments struct {
			Rows []map[string]any `json:"rows"`
		} `json:"double_payments"`
	}
	if err := json.Unmarshal(raw, &decoded); err != nil {
		t.Fatal(err)
	}
	if !decoded.NeedsAttention || decoded.Contradictions.Count != 1 || decoded.Contradictions.Rows[0]["reference_id"] != "contra-24" ||
		decoded.DoublePayments.Rows == nil {
		t.Fatalf("JSON: %s", raw)
	}
	var table strings.Builder
	if err := r.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"NEEDS ATTENTION", "== contradictions (1)", "contra-24", id.String()} {
		if !strings.Contains(table.String(), want) {
			t.Fatalf("table lacks %q:\n%s", want, table.String())
		}
	}
}

// Callbacks for a reference no purchase has, and callbacks that cannot be
// read, are listed — the ones received since Since.
func TestUnmatchedCallbacks(t *testing.T) {
	t.Parallel()
	b := flowtest.Setup(t, flowtest.Options{NoStart: true})
	ctx := context.Background()
	start := b.Clock.Now()
	unknown := uuid.NewString()
	body := fmt.Sprintf(`{"response_code":"2000200","response_message":"Success","partner_reference_id":%q,`+
		`"transaction_id":"KLK-1","amount":"10500","transaction_time":"2025-01-02T10:00:00+07:00","transaction_status":"SUCCESS",`+
		`"reason":"","product_name":"Pulsa 10K","sn":"1234567890","value":"081211223344","customer_name":"",`+
		`"current_balance":100000,"beginning_balance":110500,"product_code":"S10"}`, unknown)
	for _, c := range []struct{ provider, body, want string }{
		{klikoo.Name, body, flow.CallbackUnmatched},
		{snapcart.Name, "this is not JSON", flow.CallbackUnreadable},
	} {
		action, err := b.Svc.HandleCallback(ctx, c.provider, []byte(c.body), "")
		if err != nil || action != c.want {
			t.Fatalf("%s callback: action %q err %v, want %q", c.provider, action, err, c.want)
		}
	}
	r := build(t, b, start)
	if r.UnmatchedCallbacks.Count != 2 || !r.NeedsAttention {
		t.Fatalf("unmatched callbacks %+v", r.UnmatchedCallbacks.Rows)
	}
	k, s := r.UnmatchedCallbacks.Rows[0], r.UnmatchedCallbacks.Rows[1]
	if k.Provider != klikoo.Name || k.Action != "unmatched" || k.Reference == nil || *k.Reference != unknown ||
		s.Provider != snapcart.Name || s.Action != "unreadable" || s.Body != "this is not JSON" {
		t.Fatalf("rows %+v %+v", k, s)
	}
	if later := build(t, b, b.Clock.Now().Add(time.Second)); later.UnmatchedCallbacks.Count != 0 || later.NeedsAttention {
		t.Fatalf("since after them: %+v", later.UnmatchedCallbacks.Rows)
	}
}
