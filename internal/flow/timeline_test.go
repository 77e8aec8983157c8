package flow_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/ppob-orchestrator/orchestrator/internal/flow"
	"github.com/ppob-orchestrator/orchestrator/internal/flowtest"
	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

// A step's transaction writes its provider calls and events in one
// statement (the timeline). It stores exactly the rows that a statement per
// call and per event stores: the same seqs in the same order after the
// events already there, the same statuses, actors, data, times and callback,
// each call event pointing at its own call, the ids rising with the seqs.
func TestTimelineStoresWhatAStatementPerRowStores(t *testing.T) {
	t.Parallel()
	b := flowtest.Setup(t, flowtest.Options{NoStart: true})
	ctx := context.Background()
	one := create(t, b, "timeline-1", "S10", "081200007001")
	all := create(t, b, "timeline-2", "S10", "081200007002")
	ref := "cb-ref"
	cb, err := b.Q.CallbackInsert(ctx, store.CallbackInsertParams{Provider: "klikoo", BodySha256: make([]byte, 32), Body: "{}",
		Reference: &ref, PurchaseID: &all.ID, Action: "applied", ReceivedAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}

	// What a step may append, in order: two calls of one answer (a token
	// refresh, then the payment), its callback, two moves, a note, an alert.
	at := time.Now().Truncate(time.Second).Add(123456789 * time.Nanosecond) // not whole microseconds
	status := func(s flow.Status) *store.PurchaseStatus { return ptr(store.PurchaseStatus(s)) }
	ref1 := "ref-1"
	type row struct {
		call  *store.ProviderCallInsertParams
		event store.EventInsertParams
	}
	rows := []row{
		{&store.ProviderCallInsertParams{Provider: "klikoo", Operation: "token", HttpStatus: 200, Code: "2007300", Message: "ok",
			Outcome: "succeeded", Reason: "", LatencyMs: 3, Request: "{}", Response: `{"a":1}`, CreatedAt: at},
			store.EventInsertParams{Kind: "provider_call", Name: "token: pending", Actor: "system", Data: json.RawMessage(`{}`), CreatedAt: at}},
		{&store.ProviderCallInsertParams{Provider: "klikoo", Operation: "payment", Reference: &ref1, HttpStatus: 504, Code: "", Message: "",
			Outcome: "unknown", Reason: "timeout", LatencyMs: 700, Request: `{"x":"y"}`, Response: "", Error: "deadline", CreatedAt: at.Add(time.Microsecond)},
			store.EventInsertParams{Kind: "provider_call", Name: "payment: unknown", Actor: "system", Data: json.RawMessage(`{}`), CreatedAt: at.Add(time.Microsecond)}},
		{nil, store.EventInsertParams{Kind: "callback", Name: "callback: succeeded", Actor: "provider", CallbackID: &cb.ID,
			Data: json.RawMessage(`{"raw_status":"SUCCESS","authenticated":false}`), CreatedAt: cb.ReceivedAt}},
		{nil, store.EventInsertParams{Kind: "status", Name: "pay", Actor: "system", FromStatus: status(flow.StatusReceived), ToStatus: status(flow.StatusPaying),
			Data: json.RawMessage(`{}`), CreatedAt: at.Add(2 * time.Millisecond)}},
		{nil, store.EventInsertParams{Kind: "status", Name: "payment_outcome_unknown", Actor: "system", FromStatus: status(flow.StatusPaying),
			ToStatus: status(flow.StatusProcessing), Data: json.RawMessage(`{"outcome": "unknown", "code": ""}`), CreatedAt: at.Add(2 * time.Millisecond)}},
		{nil, store.EventInsertParams{Kind: "note", Name: "fail_over", Actor: "operator", Data: json.RawMessage(`{"b":[1,2],"a":{"z":null}}`), CreatedAt: at.Add(3 * time.Millisecond)}},
		{nil, store.EventInsertParams{Kind: "alert", Name: "contradiction", Actor: "system", Data: json.RawMessage(`{"message":"x"}`), CreatedAt: at.Add(4 * time.Millisecond)}},
	}
	inTx := func(f func(tx pgx.Tx) error) {
		t.Helper()
		if err := pgx.BeginFunc(ctx, b.Pool, f); err != nil {
			t.Fatal(err)
		}
	}

	// One statement per row, as before the timeline.
	inTx(func(tx pgx.Tx) error {
		q := store.New(tx)
		for _, r := range rows {
			e := r.event
			e.PurchaseID, e.AuditSince = one.ID, store.AuditSince(one.CreatedAt)
			if r.call != nil {
				c := *r.call
				c.PurchaseID = &one.ID
				id, err := q.ProviderCallInsert(ctx, c)
				if err != nil {
					return err
				}
				e.ProviderCallID = &id
			}
			if _, err := q.EventInsert(ctx, e); err != nil {
				return err
			}
		}
		return nil
	})
	// The timeline: all of them in one statement.
	var written []store.PurchaseEvent
	inTx(func(tx pgx.Tx) error {
		tl := flow.NewTestTimeline(all)
		for _, r := range rows {
			if r.call != nil {
				tl.Call(*r.call, r.event)
			} else {
				tl.Event(r.event)
			}
		}
		written, err = tl.Write(ctx, tx)
		return err
	})

	want, wantCalls := timelineOf(t, b, one.ID)
	got, gotCalls := timelineOf(t, b, all.ID)
	if len(got) != len(want) || len(want) != len(rows)+1 {
		t.Fatalf("%d events stored, %d one by one, %d appended", len(got), len(want), len(rows))
	}
	if len(written) != len(rows) {
		t.Fatalf("the timeline returned %d events of %d", len(written), len(rows))
	}
	for i := range got {
		w, g := want[i], got[i]
		if i > 0 && g.ID <= got[i-1].ID {
			t.Errorf("event %d: id %d after %d: ids do not rise with seqs", g.Seq, g.ID, got[i-1].ID)
		}
		if i > 0 && (written[i-1].ID != g.ID || written[i-1].Seq != g.Seq) {
			t.Errorf("returned event %d is %d/%d, stored %d/%d", i, written[i-1].ID, written[i-1].Seq, g.ID, g.Seq)
		}
		if i == 0 {
			continue // the creation's event, of each purchase's own
		}
		if d := eventDiff(w, g); d != "" {
			t.Errorf("event %d: %s", w.Seq, d)
		}
		if (w.ProviderCallID == nil) != (g.ProviderCallID == nil) {
			t.Fatalf("event %d: call %v one by one, %v appended", w.Seq, w.ProviderCallID, g.ProviderCallID)
		}
		if w.ProviderCallID != nil {
			wc, gc := wantCalls[*w.ProviderCallID], gotCalls[*g.ProviderCallID]
			if *wc.PurchaseID != one.ID || *gc.PurchaseID != all.ID {
				t.Errorf("event %d's calls are of purchases %s and %s", w.Seq, *wc.PurchaseID, *gc.PurchaseID)
			}
			wr, gr := orNil(wc.Reference), orNil(gc.Reference)
			wc.ID, gc.ID, wc.PurchaseID, gc.PurchaseID, wc.Reference, gc.Reference = 0, 0, nil, nil, nil, nil
			if fmt.Sprint(wc, wr) != fmt.Sprint(gc, gr) {
				t.Errorf("event %d's call: one by one %+v, appended %+v", w.Seq, wc, gc)
			}
		}
	}

	// A second write in the same transaction goes on from the first's seqs.
	inTx(func(tx pgx.Tx) error {
		tl := flow.NewTestTimeline(all)
		tl.Event(rows[5].event)
		tl.Event(rows[6].event)
		more, err := tl.Write(ctx, tx)
		if err == nil && (len(more) != 2 || more[0].Seq != int32(len(rows)+2) || more[1].Seq != int32(len(rows)+3)) {
			t.Errorf("a later write: %+v", more)
		}
		return err
	})
}

// timelineOf returns a purchase's events in seq order and its provider
// calls by id.
func timelineOf(t *testing.T, b *flowtest.Env, id uuid.UUID) ([]store.PurchaseEvent, map[int64]store.ProviderCall) {
	t.Helper()
	events, err := b.Q.EventListByPurchase(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	calls, err := b.Q.ProviderCallListByPurchase(context.Background(), &id)
	if err != nil {
		t.Fatal(err)
	}
	byID := map[int64]store.ProviderCall{}
	for _, c := range calls {
		byID[c.ID] = c
	}
	return events, byID
}

// eventDiff says how two events of two purchases differ, beyond their ids
// and purchase (and the ids of their calls): "" when they do not.
func eventDiff(a, b store.PurchaseEvent) string {
	a.ID, b.ID, a.PurchaseID, b.PurchaseID, a.ProviderCallID, b.ProviderCallID = 0, 0, uuid.Nil, uuid.Nil, nil, nil
	s := func(e store.PurchaseEvent) string {
		return fmt.Sprintf("seq=%d kind=%s name=%s from=%v to=%v actor=%s callback=%v data=%s at=%s", e.Seq, e.Kind, e.Name,
			orNil(e.FromStatus), orNil(e.ToStatus), e.Actor, orNil(e.CallbackID), e.Data, e.CreatedAt.UTC().Format(time.RFC3339Nano))
	}
	if s(a) == s(b) {
		return ""
	}
	return fmt.Sprintf("one by one %s, appended %s", s(a), s(b))
}

func orNil[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}
