package flow

import (
	"fmt"

	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

// PathError reports why a purchase's events (in seq order) are not a path
// of the state machine from received to current, or nil when they are. The
// events must be numbered 1, 2, 3, … without a gap. Only status events count
// for the path; the others (provider calls, callbacks, notes, alerts) are
// skipped.
// The crash test, the chaos run and the flow's own tests all judge event
// logs with it.
func PathError(events []store.PurchaseEvent, current Status) error {
	at := StatusReceived
	for i, e := range events {
		if int(e.Seq) != i+1 {
			return fmt.Errorf("event %d (%s) has seq %d: events must be numbered from 1 without a gap", i+1, e.Name, e.Seq)
		}
		if e.Kind != "status" {
			continue
		}
		if e.FromStatus == nil || e.ToStatus == nil {
			return fmt.Errorf("status event %s lacks its statuses", e.Name)
		}
		from, to := Status(*e.FromStatus), Status(*e.ToStatus)
		if from != at {
			return fmt.Errorf("event %s starts at %s, the purchase was %s", e.Name, from, at)
		}
		if !allowed(from, to) {
			return fmt.Errorf("event %s: %s → %s is not a transition", e.Name, from, to)
		}
		at = to
	}
	if at != current {
		return fmt.Errorf("events end at %s, the purchase is %s", at, current)
	}
	return nil
}

// allowed reports whether some event leads from one status to the other.
func allowed(from, to Status) bool {
	for _, next := range transitions[from] {
		if next == to {
			return true
		}
	}
	return false
}
