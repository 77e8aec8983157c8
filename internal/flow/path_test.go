package flow

import (
	"testing"

	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

// PathError accepts exactly the paths of the state machine.
func TestPathError(t *testing.T) {
	t.Parallel()
	ev := func(from, to Status) store.PurchaseEvent {
		f, tt := store.PurchaseStatus(from), store.PurchaseStatus(to)
		return store.PurchaseEvent{Kind: "status", Name: "x", FromStatus: &f, ToStatus: &tt}
	}
	ok := []store.PurchaseEvent{ev(StatusReceived, StatusInquiring), {Kind: "provider_call", Name: "inquiry: succeeded"},
		ev(StatusInquiring, StatusPaying), ev(StatusPaying, StatusProcessing), ev(StatusProcessing, StatusSucceeded)}
	if err := PathError(ok, StatusSucceeded); err != nil {
		t.Errorf("a valid path refused: %v", err)
	}
	if err := PathError(nil, StatusReceived); err != nil {
		t.Errorf("a fresh purchase refused: %v", err)
	}
	for name, c := range map[string]struct {
		events []store.PurchaseEvent
		now    Status
	}{
		"skips a status":    {[]store.PurchaseEvent{ev(StatusReceived, StatusInquiring), ev(StatusPaying, StatusProcessing)}, StatusProcessing},
		"not an edge":       {[]store.PurchaseEvent{ev(StatusReceived, StatusSucceeded)}, StatusSucceeded},
		"leaves terminal":   {[]store.PurchaseEvent{ev(StatusReceived, StatusCanceled), ev(StatusCanceled, StatusPaying)}, StatusPaying},
		"ends elsewhere":    {[]store.PurchaseEvent{ev(StatusReceived, StatusInquiring)}, StatusFailed},
		"status event bare": {[]store.PurchaseEvent{{Kind: "status", Name: "x"}}, StatusReceived},
	} {
		if PathError(c.events, c.now) == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
