package flow

import (
	"context"
	"time"

	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

// TestTimeline is a purchase's timeline, for the package's external tests.
type TestTimeline struct{ tl timeline }

// NewTestTimeline returns p's timeline, empty.
func NewTestTimeline(p store.Purchase) *TestTimeline {
	t := &TestTimeline{}
	_ = t.tl.bind(p)
	return t
}

// Call appends a provider call of the purchase and its event e (as
// EventInsert takes it; its ProviderCallID is the call's).
func (t *TestTimeline) Call(c store.ProviderCallInsertParams, e store.EventInsertParams) {
	t.tl.call(c, timelineEventOf(e))
}

// Event appends e (as EventInsert takes it).
func (t *TestTimeline) Event(e store.EventInsertParams) { t.tl.event(timelineEventOf(e)) }

// Write writes what the timeline holds in one statement.
func (t *TestTimeline) Write(ctx context.Context, db store.DBTX) ([]store.PurchaseEvent, error) {
	return t.tl.write(ctx, store.New(db))
}

func timelineEventOf(e store.EventInsertParams) timelineEvent {
	ev := timelineEvent{kind: e.Kind, name: e.Name, actor: e.Actor, data: e.Data, at: e.CreatedAt}
	if e.FromStatus != nil {
		ev.from = Status(*e.FromStatus)
	}
	if e.ToStatus != nil {
		ev.to = Status(*e.ToStatus)
	}
	if e.CallbackID != nil {
		ev.callbackID = *e.CallbackID
	}
	return ev
}

// AuditTables are the tables partitioned by month, in EnsurePartitions'
// order.
var AuditTables = auditTables

// EnsureTablePartitions makes one audit table's missing months from the
// month of since to the month of until, as EnsurePartitions does for each.
func (s *Service) EnsureTablePartitions(ctx context.Context, tab string, since, until time.Time) ([]string, error) {
	return s.ensureTablePartitions(ctx, tab, since, until)
}
