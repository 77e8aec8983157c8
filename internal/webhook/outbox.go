package webhook

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/ppob-orchestrator/orchestrator/internal/flow"
	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

// maxBody is the largest message body (docs/webhooks.md).
const maxBody = 20000

// deliverArgs is a message's delivery job: one per message while it is
// pending. It carries the message id only: never a secret (River's UI shows
// job arguments).
type deliverArgs struct {
	MessageID uuid.UUID `json:"message_id"`
}

// Kind is the River job kind.
func (deliverArgs) Kind() string { return "webhook_deliver" }

// InsertOpts puts deliveries on the webhook queue. River's own retries only
// cover the job failing (the database down); the attempts' schedule is the
// service's.
func (deliverArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: Queue, MaxAttempts: 25}
}

// Enqueue is the flow's Outbox (flow.Outbox): in tx, the transaction of the
// status change, it stores one message per enabled, subscribed endpoint of
// m's client (none for a disabled client) and queues each one's delivery.
// With no endpoint it costs one statement.
func (s *Service) Enqueue(ctx context.Context, tx pgx.Tx, m flow.Message) error {
	body, err := fitBody(m.Body)
	if err != nil {
		return fmt.Errorf("webhook message of purchase %s seq %d: %w", m.PurchaseID, m.Seq, err)
	}
	now := s.now()
	ids, err := store.New(tx).WebhookMessageInsertForChange(ctx, store.WebhookMessageInsertForChangeParams{
		ClientID: m.ClientID, PurchaseID: m.PurchaseID, EventType: m.Type, Seq: m.Seq, Body: body, Now: &now,
	})
	if err != nil {
		return fmt.Errorf("store webhook messages of purchase %s seq %d: %w", m.PurchaseID, m.Seq, err)
	}
	return s.queue(ctx, tx, ids)
}

// queue inserts the delivery jobs of messages, in tx.
func (s *Service) queue(ctx context.Context, tx pgx.Tx, ids []uuid.UUID) error {
	if len(ids) == 0 {
		return nil
	}
	params := make([]river.InsertManyParams, len(ids))
	for i, id := range ids {
		params[i] = river.InsertManyParams{Args: deliverArgs{MessageID: id}}
	}
	if _, err := s.inserter.InsertManyTx(ctx, tx, params); err != nil {
		return fmt.Errorf("queue %d webhook deliveries: %w", len(ids), err)
	}
	return nil
}

// fitBody keeps a body within maxBody. A purchase's view is small; only a
// provider's inquiry details could make it grow, and they are the first to
// go; if that is not enough, the purchase is cut to what identifies it,
// marked "truncated", and the client reads the rest with GET
// /v1/purchases/{id}.
func fitBody(body []byte) ([]byte, error) {
	if len(body) <= maxBody {
		return body, nil
	}
	var msg struct {
		Type      string `json:"type"`
		Timestamp string `json:"timestamp"`
		Data      struct {
			Purchase map[string]json.RawMessage `json:"purchase"`
			Seq      int32                      `json:"seq"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &msg); err != nil {
		return nil, fmt.Errorf("message body over %d bytes and unreadable: %w", maxBody, err)
	}
	p := msg.Data.Purchase
	if raw, ok := p["inquiry"]; ok {
		var inq map[string]json.RawMessage
		if json.Unmarshal(raw, &inq) == nil {
			delete(inq, "details")
			p["inquiry"], _ = json.Marshal(inq)
		}
	}
	p["truncated"] = json.RawMessage("true")
	if b, err := json.Marshal(msg); err == nil && len(b) <= maxBody {
		return b, nil
	}
	keep := map[string]json.RawMessage{"truncated": json.RawMessage("true")}
	for _, k := range []string{"id", "reference_id", "status", "product_code", "provider", "price", "result", "failure", "created_at", "updated_at", "completed_at"} {
		if v, ok := p[k]; ok && len(v) < 1000 {
			keep[k] = v
		}
	}
	msg.Data.Purchase = keep
	return json.Marshal(msg)
}
