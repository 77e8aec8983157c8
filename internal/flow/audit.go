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
// in the purchase's timeline (purchase may be nil for catalog and balance).
// The calls were cleaned when the answer arrived (clean.go), so no provider
// answer can make these inserts fail (invariant 5).
func (s *Service) recordCalls(ctx context.Context, tx pgx.Tx, purchase *store.Purchase, provider string, r providers.Result) error {
	q := store.New(tx)
	if len(r.Calls) > 0 && s.health.observe(provider, r.Outcome, s.now()) {
		if err := s.alert(ctx, tx, "provider_tripped", provider, nil,
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
		if purchase != nil {
			params.PurchaseID = &purchase.ID
		}
		if !providers.Outcome(params.Outcome).Valid() {
			params.Outcome = string(providers.Unknown)
		}
		id, err := q.ProviderCallInsert(ctx, params)
		if err != nil {
			return fmt.Errorf("record %s %s call: %w", provider, c.Operation, err)
		}
		if purchase == nil {
			continue
		}
		if _, err := q.EventInsert(ctx, store.EventInsertParams{
			PurchaseID: purchase.ID, PurchaseCreated: purchase.CreatedAt, Kind: "provider_call", Name: c.Operation + ": " + string(r.Outcome),
			// The call's row holds its code, HTTP status, latency and
			// reason; the API shows them as the event's data
			// (EventListByPurchaseShown). The event has the call's time:
			// the same month's partition.
			Actor: "system", ProviderCallID: &id, Data: json.RawMessage(`{}`),
			CreatedAt: at,
		}); err != nil {
			return fmt.Errorf("provider call event: %w", err)
		}
	}
	return nil
}

// alert raises an operator alert (once per purchase and kind), counts it,
// and logs it. The message never holds a secret.
func (s *Service) alert(ctx context.Context, tx pgx.Tx, kind, provider string, purchase *store.Purchase, message string, data any) error {
	if data == nil {
		data = map[string]any{}
	}
	params := store.AlertInsertParams{Kind: kind, Provider: nonEmpty(provider), Message: message, Data: mustJSON(data), CreatedAt: s.now()}
	if purchase != nil {
		params.PurchaseID = &purchase.ID
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
	if purchase != nil {
		attrs = append(attrs, "purchase_id", purchase.ID)
		if _, err := store.New(tx).EventInsert(ctx, store.EventInsertParams{
			PurchaseID: purchase.ID, PurchaseCreated: purchase.CreatedAt, Kind: "alert", Name: kind, Actor: "system",
			Data: mustJSON(map[string]any{"message": message}), CreatedAt: s.now(),
		}); err != nil {
			return fmt.Errorf("alert event: %w", err)
		}
	}
	s.log.Warn("alert: "+message, attrs...)
	return nil
}

// note adds a non-status event to a purchase's timeline.
func (s *Service) note(ctx context.Context, tx pgx.Tx, p *store.Purchase, n Note) error {
	data := n.Data
	if data == nil {
		data = map[string]any{}
	}
	actor := n.Actor
	if actor == "" {
		actor = "system"
	}
	_, err := store.New(tx).EventInsert(ctx, store.EventInsertParams{
		PurchaseID: p.ID, PurchaseCreated: p.CreatedAt, Kind: "note", Name: n.Name, Actor: actor, Data: mustJSON(data), CreatedAt: s.now(),
	})
	if err != nil {
		return fmt.Errorf("note %s on %s: %w", n.Name, p.ID, err)
	}
	return nil
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
