package flow

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

// timeline holds what one transaction appends to a purchase's timeline —
// its provider calls and its events, in the order they happened — and
// writes them in one statement (TimelineAppend): one max(seq) read and
// consecutive seqs in that order, where a statement per call and per event
// each read max(seq) again. The rows are the same, numbered the same
// (invariant 5): the transaction holds the purchase's row lock throughout.
// A step's transaction (inStep) writes what is left before it commits; the
// executor writes earlier when a webhook message needs its event's seq.
type timeline struct {
	purchase uuid.UUID
	created  time.Time
	bound    bool
	calls    []store.ProviderCallInsertParams
	events   []timelineEvent
}

// timelineEvent is one event waiting in a timeline: call is the number (1,
// 2, …) of its provider call among the timeline's calls, 0 for none.
type timelineEvent struct {
	kind, name, actor string
	from, to          Status
	call              int
	callbackID        int64
	data              json.RawMessage
	at                time.Time
}

// bind makes t the timeline of p. A transaction appends to one purchase's
// timeline only.
func (t *timeline) bind(p store.Purchase) error {
	if t.bound && t.purchase != p.ID {
		return fmt.Errorf("timeline of %s: cannot append to %s in the same transaction", t.purchase, p.ID)
	}
	t.purchase, t.created, t.bound = p.ID, p.CreatedAt, true
	return nil
}

// event appends ev and returns its place among the events the next write
// returns.
func (t *timeline) event(ev timelineEvent) int {
	t.events = append(t.events, ev)
	return len(t.events) - 1
}

// call appends a provider call of the purchase and its event.
func (t *timeline) call(c store.ProviderCallInsertParams, ev timelineEvent) {
	t.calls = append(t.calls, c)
	ev.call = len(t.calls)
	t.event(ev)
}

// empty reports whether t holds nothing to write.
func (t *timeline) empty() bool { return len(t.events) == 0 && len(t.calls) == 0 }

// write appends what t holds, in one statement, and returns the events as
// stored, in seq order (the order they were appended); nothing held, no
// statement.
func (t *timeline) write(ctx context.Context, q *store.Queries) ([]store.PurchaseEvent, error) {
	if t.empty() {
		return nil, nil
	}
	if !t.bound {
		return nil, fmt.Errorf("timeline: %d events of no purchase", len(t.events))
	}
	p := store.TimelineAppendParams{PurchaseID: t.purchase, AuditSince: store.AuditSince(t.created)}
	for _, c := range t.calls {
		p.CallProvider = append(p.CallProvider, c.Provider)
		p.CallOperation = append(p.CallOperation, c.Operation)
		p.CallReference = append(p.CallReference, deref(c.Reference))
		p.CallHttpStatus = append(p.CallHttpStatus, c.HttpStatus)
		p.CallCode = append(p.CallCode, c.Code)
		p.CallMessage = append(p.CallMessage, c.Message)
		p.CallOutcome = append(p.CallOutcome, c.Outcome)
		p.CallReason = append(p.CallReason, c.Reason)
		p.CallLatencyMs = append(p.CallLatencyMs, c.LatencyMs)
		p.CallRequest = append(p.CallRequest, c.Request)
		p.CallResponse = append(p.CallResponse, c.Response)
		p.CallError = append(p.CallError, c.Error)
		p.CallCreatedAt = append(p.CallCreatedAt, c.CreatedAt)
	}
	for _, e := range t.events {
		p.EventKind = append(p.EventKind, e.kind)
		p.EventName = append(p.EventName, e.name)
		p.EventFrom = append(p.EventFrom, string(e.from))
		p.EventTo = append(p.EventTo, string(e.to))
		p.EventActor = append(p.EventActor, e.actor)
		p.EventCall = append(p.EventCall, int64(e.call))
		p.EventCallbackID = append(p.EventCallbackID, e.callbackID)
		p.EventData = append(p.EventData, string(e.data))
		p.EventCreatedAt = append(p.EventCreatedAt, e.at)
	}
	rows, err := q.TimelineAppend(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("timeline of %s: %w", t.purchase, err)
	}
	if len(rows) != len(t.events) {
		return nil, fmt.Errorf("timeline of %s: %d events stored of %d", t.purchase, len(rows), len(t.events))
	}
	slices.SortFunc(rows, func(a, b store.PurchaseEvent) int { return int(a.Seq - b.Seq) })
	t.calls, t.events = nil, nil
	return rows, nil
}

// inStep runs fn in one transaction of pool with a timeline, and writes
// what fn left in the timeline before the transaction commits.
func inStep(ctx context.Context, pool *pgxpool.Pool, fn func(tx pgx.Tx, tl *timeline) error) error {
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		var tl timeline
		if err := fn(tx, &tl); err != nil {
			return err
		}
		_, err := tl.write(ctx, store.New(tx))
		return err
	})
}
