package flow

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/ppob-orchestrator/orchestrator/internal/providers"
	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

// recordCalls stores the provider calls of one operation, each with an event
// in the purchase's timeline tl (nil for catalog and balance, whose calls
// are of no purchase and are inserted at once). The calls were cleaned when
// the answer arrived (clean.go), so no provider answer can make these
// inserts fail (invariant 5).
func (s *Service) recordCalls(ctx context.Context, tx pgx.Tx, tl *timeline, provider string, r providers.Result) error {
	q := store.New(tx)
	if len(r.Calls) > 0 && s.health.observe(provider, r.Outcome, s.now()) {
		if err := s.alert(ctx, tx, nil, "provider_tripped", provider,
			fmt.Sprintf("%s answered nothing usable to %d calls in a row: left out of new routes for %s", provider, s.cfg.ProviderTripAfter, s.cfg.ProviderTripFor), nil); err != nil {
			return err
		}
	}
	for _, c := range r.Calls {
		// The call and its event share one timestamp, so they land in the
		// same month's partition (migrations/00012_audit_partitions.sql).
		at := s.now()
		s.metrics.providerCall(provider, c, r.Outcome)
		if c.Provider == "" {
			c.Provider = provider
		}
		params := store.ProviderCallInsertParams{
			Provider: c.Provider, Operation: c.Operation, Reference: nonEmpty(c.Reference),
			HttpStatus: int32(c.HTTPStatus), Code: c.Code, Message: c.Message,
			Outcome: string(r.Outcome), Reason: string(r.Reason),
			LatencyMs: int32(max(c.Latency.Milliseconds(), 0)),
			Request:   c.Request, Response: c.Response, Error: c.Err, CreatedAt: at,
		}
		if !providers.Outcome(params.Outcome).Valid() {
			params.Outcome = string(providers.Unknown)
		}
		if tl == nil {
			if _, err := q.ProviderCallInsert(ctx, params); err != nil {
				return fmt.Errorf("record %s %s call: %w", provider, c.Operation, err)
			}
			continue
		}
		params.PurchaseID = &tl.purchase
		tl.call(params, timelineEvent{
			kind: "provider_call", name: c.Operation + ": " + string(r.Outcome), actor: "system",
			// The call's row holds its code, HTTP status, latency and
			// reason; the API shows them as the event's data
			// (EventListByPurchaseShown). The event has the call's time:
			// the same month's partition.
			data: json.RawMessage(`{}`), at: at,
		})
	}
	return nil
}

// alert raises an operator alert (once per purchase and kind), counts it,
// and logs it; an alert of a purchase (tl, nil for none) gets an event in
// its timeline. The message never holds a secret.
func (s *Service) alert(ctx context.Context, tx pgx.Tx, tl *timeline, kind, provider, message string, data any) error {
	if data == nil {
		data = map[string]any{}
	}
	params := store.AlertInsertParams{Kind: kind, Provider: nonEmpty(provider), Message: message, Data: mustJSON(data), CreatedAt: s.now()}
	if tl != nil {
		params.PurchaseID = &tl.purchase
	}
	n, err := store.New(tx).AlertInsert(ctx, params)
	if err != nil {
		return fmt.Errorf("alert %s: %w", kind, err)
	}
	if kind == "contradiction" {
		s.metrics.Contradictions.WithLabelValues(provider).Inc()
	}
	if n == 0 {
		return nil
	}
	s.metrics.Alerts.WithLabelValues(kind, provider).Inc()
	attrs := []any{"kind", kind, "provider", provider}
	if tl != nil {
		attrs = append(attrs, "purchase_id", tl.purchase)
		tl.event(timelineEvent{kind: "alert", name: kind, actor: "system",
			data: mustJSON(map[string]any{"message": message}), at: s.now()})
	}
	s.log.Warn("alert: "+message, attrs...)
	return nil
}

// note adds a non-status event to a purchase's timeline.
func (s *Service) note(tl *timeline, n Note) {
	data := n.Data
	if data == nil {
		data = map[string]any{}
	}
	actor := n.Actor
	if actor == "" {
		actor = "system"
	}
	tl.event(timelineEvent{kind: "note", name: n.Name, actor: actor, data: mustJSON(data), at: s.now()})
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// truncate bounds s to about n bytes and makes it storable as PostgreSQL
// text and jsonb: valid UTF-8, no NUL bytes (provider answers can hold
// anything).
func truncate(s string, n int) string {
	if len(s) > n {
		s = s[:n] + "…(truncated)"
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	return strings.ReplaceAll(s, "\x00", "\uFFFD")
}
