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
	numbered := func(evs ...store.PurchaseEvent) []store.PurchaseEvent {
		for i := range evs {
			evs[i].Seq = int32(i + 1)
		}
		return evs
	}
	ok := numbered(ev(StatusReceived, StatusInquiring), store.PurchaseEvent{Kind: "provider_call", Name: "inquiry: succeeded"},
		ev(StatusInquiring, StatusPaying), ev(StatusPaying, StatusProcessing), ev(StatusProcessing, StatusSucceeded))
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
		"skips a status":    {numbered(ev(StatusReceived, StatusInquiring), ev(StatusPaying, StatusProcessing)), StatusProcessing},
		"not an edge":       {numbered(ev(StatusReceived, StatusSucceeded)), StatusSucceeded},
		"leaves terminal":   {numbered(ev(StatusReceived, StatusCanceled), ev(StatusCanceled, StatusPaying)), StatusPaying},
		"ends elsewhere":    {numbered(ev(StatusReceived, StatusInquiring)), StatusFailed},
		"status event bare": {numbered(store.PurchaseEvent{Kind: "status", Name: "x"}), StatusReceived},
		"seq gap":           {[]store.PurchaseEvent{{Kind: "note", Name: "received", Seq: 1}, {Kind: "note", Name: "x", Seq: 3}}, StatusReceived},
		"seq not from 1":    {[]store.PurchaseEvent{{Kind: "note", Name: "received", Seq: 2}}, StatusReceived},
	} {
		if PathError(c.events, c.now) == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
