package flow

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/ppob-orchestrator/orchestrator/internal/dbtest"
	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

// valid is the state machine of docs/flow.md written out again by hand, as
// (status, event) → status, so the test does not read the table it checks.
var valid = map[[2]string]Status{
	{"received", "start_inquiry"}:        StatusInquiring,
	{"received", "pay"}:                  StatusPaying,
	{"received", "fail"}:                 StatusFailed,
	{"received", "cancel"}:               StatusCanceled,
	{"inquiring", "await_confirmation"}:  StatusAwaitingConfirmation,
	{"inquiring", "pay"}:                 StatusPaying,
	{"inquiring", "fail"}:                StatusFailed,
	{"inquiring", "cancel"}:              StatusCanceled,
	{"awaiting_confirmation", "confirm"}: StatusPaying,
	{"awaiting_confirmation", "cancel"}:  StatusCanceled,
	{"awaiting_confirmation", "expire"}:  StatusFailed,
	{"paying", "payment_pending"}:        StatusProcessing,
	{"paying", "succeed"}:                StatusSucceeded,
	{"paying", "fail"}:                   StatusFailed,
	{"processing", "succeed"}:            StatusSucceeded,
	{"processing", "fail"}:               StatusFailed,
	{"processing", "deadline"}:           StatusNeedsReview,
	{"needs_review", "succeed"}:          StatusSucceeded,
	{"needs_review", "fail"}:             StatusFailed,
	// docs/routing.md: a failover, and a late success of an ended attempt.
	{"inquiring", "fail_over"}:                StatusReceived,
	{"paying", "fail_over"}:                   StatusReceived,
	{"received", "late_success"}:              StatusNeedsReview,
	{"inquiring", "late_success"}:             StatusNeedsReview,
	{"awaiting_confirmation", "late_success"}: StatusNeedsReview,
}

// Every (status, event) pair: the valid ones lead where docs/flow.md says, every
// other one is ErrInvalidTransition.
func TestNextEveryPair(t *testing.T) {
	t.Parallel()
	seen := 0
	for _, s := range Statuses {
		for _, ev := range Events {
			got, err := Next(s, ev)
			want, ok := valid[[2]string{string(s), string(ev)}]
			if ok {
				seen++
				if err != nil || got != want {
					t.Errorf("Next(%s, %s) = %q, %v; want %s", s, ev, got, err, want)
				}
				continue
			}
			if !errors.Is(err, ErrInvalidTransition) || got != "" {
				t.Errorf("Next(%s, %s) = %q, %v; want ErrInvalidTransition", s, ev, got, err)
			}
		}
	}
	if seen != len(valid) {
		t.Fatalf("checked %d valid pairs, the hand-written table has %d", seen, len(valid))
	}
}

func TestTerminalStatusesAcceptNothing(t *testing.T) {
	t.Parallel()
	for _, s := range Statuses {
		if !s.Terminal() {
			continue
		}
		for _, ev := range Events {
			if _, err := Next(s, ev); err == nil {
				t.Errorf("terminal %s accepts %s", s, ev)
			}
		}
	}
}

// The database enforces the same machine: its purchase_transitions table
// holds exactly the (from, to) pairs of Edges, and its enum the statuses.
func TestDatabaseHoldsTheSameMachine(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.NewPool(t)
	rows, err := store.New(pool).PurchaseTransitionList(ctx)
	if err != nil {
		t.Fatal(err)
	}
	db := map[[2]Status]bool{}
	for _, r := range rows {
		db[[2]Status{Status(r.FromStatus), Status(r.ToStatus)}] = true
	}
	code := map[[2]Status]bool{}
	for _, e := range Edges() {
		code[[2]Status{e.From, e.To}] = true
	}
	for k := range code {
		if !db[k] {
			t.Errorf("purchase_transitions lacks %s → %s", k[0], k[1])
		}
	}
	for k := range db {
		if !code[k] {
			t.Errorf("purchase_transitions allows %s → %s, the Go table does not", k[0], k[1])
		}
	}
	for _, s := range store.AllPurchaseStatusValues() {
		found := false
		for _, c := range Statuses {
			found = found || string(c) == string(s)
		}
		if !found {
			t.Errorf("database status %s unknown to the flow", s)
		}
	}
	if len(store.AllPurchaseStatusValues()) != len(Statuses) {
		t.Errorf("database has %d statuses, flow %d", len(store.AllPurchaseStatusValues()), len(Statuses))
	}
}

// The state diagram of docs/flow.md is the one Mermaid draws from the table.
func TestFlowDocDiagramMatchesTable(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../../docs/flow.md")
	if err != nil {
		t.Fatal(err)
	}
	want := "```mermaid\n" + Mermaid() + "```"
	if !strings.Contains(string(b), want) {
		t.Fatalf("docs/flow.md's state diagram differs from the transition table; it should read:\n%s", want)
	}
}

func BenchmarkNext(b *testing.B) {
	for b.Loop() {
		for _, s := range Statuses {
			for _, ev := range Events {
				_, _ = Next(s, ev)
			}
		}
	}
}
