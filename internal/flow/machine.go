package flow

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Status is a purchase's status (docs/flow.md). The database holds the same
// values in the purchase_status enum.
type Status string

// The statuses of docs/flow.md.
const (
	StatusReceived             Status = "received"
	StatusInquiring            Status = "inquiring"
	StatusAwaitingConfirmation Status = "awaiting_confirmation"
	StatusPaying               Status = "paying"
	StatusProcessing           Status = "processing"
	StatusSucceeded            Status = "succeeded"
	StatusFailed               Status = "failed"
	StatusCanceled             Status = "canceled"
	StatusNeedsReview          Status = "needs_review"
)

// Statuses lists every status in the order of docs/flow.md.
var Statuses = []Status{
	StatusReceived, StatusInquiring, StatusAwaitingConfirmation, StatusPaying, StatusProcessing,
	StatusSucceeded, StatusFailed, StatusCanceled, StatusNeedsReview,
}

// Terminal reports whether s never changes again.
func (s Status) Terminal() bool {
	return s == StatusSucceeded || s == StatusFailed || s == StatusCanceled
}

// Event is what happens to a purchase. Together with its current status it
// decides the next status, through Next.
type Event string

// The events of the purchase flow.
const (
	EventStartInquiry      Event = "start_inquiry"      // the inquiry job takes the purchase
	EventPay               Event = "pay"                // no inquiry needed, or an automatic purchase's inquiry passed: commit the payment intent
	EventAwaitConfirmation Event = "await_confirmation" // a manual purchase's inquiry passed
	EventConfirm           Event = "confirm"            // the client confirmed
	EventCancel            Event = "cancel"             // the client canceled, before any payment call
	EventExpire            Event = "expire"             // INQUIRY_TTL passed without confirmation
	EventPaymentPending    Event = "payment_pending"    // the provider accepted the payment, or its outcome is unknown
	EventSucceed           Event = "succeed"            // the provider confirmed success (or an operator did)
	EventFail              Event = "fail"               // a definitive failure: no money moved (or an operator decided)
	EventDeadline          Event = "deadline"           // STATUS_DEADLINE passed unresolved
	EventFailOver          Event = "fail_over"          // the attempt ended; the next offer is tried (docs/routing.md)
	EventLateSuccess       Event = "late_success"       // an attempt moved on from reports SUCCESS before any payment of the current one
)

// Events lists every event.
var Events = []Event{
	EventStartInquiry, EventPay, EventAwaitConfirmation, EventConfirm, EventCancel, EventExpire,
	EventPaymentPending, EventSucceed, EventFail, EventDeadline, EventFailOver, EventLateSuccess,
}

// ErrInvalidTransition is returned (wrapped) by Next for an event the status
// does not accept.
var ErrInvalidTransition = errors.New("invalid transition")

// transitions is THE state machine: for each status, the events it accepts
// and where they lead. Every pair not listed is invalid. It has no I/O; the
// jobs beside it do the I/O, and the database holds the same (from, to)
// pairs in purchase_transitions (a test keeps them equal).
var transitions = map[Status]map[Event]Status{
	StatusReceived: {
		EventStartInquiry: StatusInquiring,
		EventPay:          StatusPaying,
		EventFail:         StatusFailed, // price guard
		EventCancel:       StatusCanceled,
		EventLateSuccess:  StatusNeedsReview,
	},
	StatusInquiring: {
		EventAwaitConfirmation: StatusAwaitingConfirmation,
		EventPay:               StatusPaying,
		EventFail:              StatusFailed, // inquiry failure or price guard
		EventCancel:            StatusCanceled,
		EventFailOver:          StatusReceived,
		EventLateSuccess:       StatusNeedsReview,
	},
	StatusAwaitingConfirmation: {
		EventConfirm:     StatusPaying,
		EventCancel:      StatusCanceled,
		EventExpire:      StatusFailed,
		EventLateSuccess: StatusNeedsReview,
	},
	StatusPaying: {
		EventPaymentPending: StatusProcessing,
		EventSucceed:        StatusSucceeded, // a final answer, or a signed callback
		EventFail:           StatusFailed,    // definitive rejection of the first call, or invariant 12
		EventFailOver:       StatusReceived,  // a failover-list answer to the first call, or a refusal long enough
	},
	StatusProcessing: {
		EventSucceed:  StatusSucceeded,
		EventFail:     StatusFailed,
		EventDeadline: StatusNeedsReview,
	},
	StatusNeedsReview: {
		EventSucceed: StatusSucceeded,
		EventFail:    StatusFailed,
	},
}

// Next returns the status that event leads to from status, or an error
// wrapping ErrInvalidTransition.
func Next(status Status, event Event) (Status, error) {
	if to, ok := transitions[status][event]; ok {
		return to, nil
	}
	return "", fmt.Errorf("%w: %s on %s", ErrInvalidTransition, event, status)
}

// Edge is one allowed status change.
type Edge struct {
	From, To Status
	Events   []Event
}

// Edges lists every allowed status change with the events that cause it,
// ordered by the statuses' order in Statuses.
func Edges() []Edge {
	index := map[Status]int{}
	for i, s := range Statuses {
		index[s] = i
	}
	byPair := map[[2]Status][]Event{}
	for from, evs := range transitions {
		for ev, to := range evs {
			k := [2]Status{from, to}
			byPair[k] = append(byPair[k], ev)
		}
	}
	edges := make([]Edge, 0, len(byPair))
	for k, evs := range byPair {
		sort.Slice(evs, func(i, j int) bool { return evs[i] < evs[j] })
		edges = append(edges, Edge{From: k[0], To: k[1], Events: evs})
	}
	sort.Slice(edges, func(i, j int) bool {
		if edges[i].From != edges[j].From {
			return index[edges[i].From] < index[edges[j].From]
		}
		return index[edges[i].To] < index[edges[j].To]
	})
	return edges
}

// Mermaid draws the state machine as a mermaid state diagram; docs/flow.md
// shows it and a test keeps the two equal.
func Mermaid() string {
	var b strings.Builder
	b.WriteString("stateDiagram-v2\n")
	b.WriteString("    [*] --> received\n")
	for _, e := range Edges() {
		names := make([]string, len(e.Events))
		for i, ev := range e.Events {
			names[i] = string(ev)
		}
		fmt.Fprintf(&b, "    %s --> %s: %s\n", e.From, e.To, strings.Join(names, ", "))
	}
	for _, s := range Statuses {
		if s.Terminal() {
			fmt.Fprintf(&b, "    %s --> [*]\n", s)
		}
	}
	return b.String()
}
