package chaos

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ppob-orchestrator/orchestrator/internal/flow"
	"github.com/ppob-orchestrator/orchestrator/internal/sandbox"
	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

// Defect 11 of issue 12 (chaos-002093, ML-DIAMONDS-86, scenario 14): the
// verifier judges an inquiry's provider_unavailable by the rule the flow
// applies — the inquiry went unanswered for its whole retry window, from its
// first recorded call to the failure — read from the times the database
// records, not from a count of recorded calls that a kill makes short (an
// attempt lost to a kill records nothing).
func TestDefect11VerifierJudgesInquiryGiveUpByTheWindow(t *testing.T) {
	t.Parallel()
	const window = 30 * time.Second
	t0 := time.Date(2025, 11, 20, 10, 0, 0, 0, time.UTC)
	failed := store.PurchaseStatus(flow.StatusFailed)
	inquiring := store.PurchaseStatus(flow.StatusInquiring)
	timeline := func(unknownAt []time.Duration, failAt time.Duration) []store.PurchaseEvent {
		var ev []store.PurchaseEvent
		for _, d := range unknownAt {
			ev = append(ev, store.PurchaseEvent{Kind: "provider_call", Name: "inquiry: unknown", CreatedAt: t0.Add(d)})
		}
		return append(ev, store.PurchaseEvent{Kind: "status", Name: "fail", FromStatus: &inquiring, ToStatus: &failed, CreatedAt: t0.Add(failAt)})
	}
	s := time.Second
	for _, c := range []struct {
		name     string
		kind     string
		events   []store.PurchaseEvent
		accepted string
	}{
		// Four recorded unknown answers over 50 s (a fifth attempt lost to a kill).
		{"chaos-002093", "snapcart-voucher", timeline([]time.Duration{0, 10 * s, 25 * s, 50 * s}, 50*s), AltInquiryUnavailable},
		{"four answers over the window", "klikoo-pln", timeline([]time.Duration{0, 10 * s, 25 * s, 50 * s}, 50*s), AltInquiryUnavailable},
		// Six unknown answers in 12 s: the flow gave up inside its window.
		{"gave up too soon", "snapcart-bill", timeline([]time.Duration{0, 2 * s, 4 * s, 6 * s, 9 * s, 12 * s}, 12*s), ""},
	} {
		e := Expect(Order{Kind: sandbox.KindNamed(c.kind), Scenario: "14"}, nil, Conditions{InquiryWindow: window})
		got := ""
		if a := matchAlternative(e.Or, store.Purchase{ID: uuid.New()}, c.events, flow.StatusFailed, 0, "provider_unavailable"); a != nil {
			got = a.Name
		}
		if got != c.accepted {
			t.Errorf("%s (%s): failed provider_unavailable accepted as %q, want %q (retry window %s)", c.name, c.kind, got, c.accepted, window)
		}
	}
}
