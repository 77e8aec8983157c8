package flow

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

// Outbox takes the webhook messages of a purchase's status change, in the
// transaction of that change (docs/webhooks.md): a change that commits
// always has its messages, one that rolls back never does. Enqueue stores
// one message per subscribed endpoint of m's client and queues its
// delivery; it must not call out of the database. cmd/orchestrator hands
// the flow the webhook package's implementation; without one (some tests)
// no message is made.
type Outbox interface {
	Enqueue(ctx context.Context, tx pgx.Tx, m Message) error
}

// Message is what a status change tells a client: its type, the purchase's
// event sequence number of the change, and the exact body every delivery
// attempt sends (rendered once, here, so every attempt is byte-identical).
type Message struct {
	ClientID   uuid.UUID
	PurchaseID uuid.UUID
	Type       string // "purchase.succeeded", …
	Seq        int32
	Body       []byte
}

// messageTypes are the statuses a client is told about; received,
// inquiring and paying tell nothing (docs/webhooks.md).
var messageTypes = map[Status]string{
	StatusAwaitingConfirmation: "purchase.awaiting_confirmation",
	StatusProcessing:           "purchase.processing",
	StatusSucceeded:            "purchase.succeeded",
	StatusFailed:               "purchase.failed",
	StatusCanceled:             "purchase.canceled",
	StatusNeedsReview:          "purchase.needs_review",
}

// MessageTypes lists every webhook event type, in status order.
func MessageTypes() []string {
	var out []string
	for _, s := range Statuses {
		if t, ok := messageTypes[s]; ok {
			out = append(out, t)
		}
	}
	return out
}

// messageOf renders the message of p's change into its status, whose event
// got seq (ended: the attempts p moved on from); ok is false for a status
// that tells nothing.
func messageOf(p store.Purchase, ended []store.PurchaseAttempt, seq int32, at time.Time) (Message, bool, error) {
	typ, ok := messageTypes[Status(p.Status)]
	if !ok {
		return Message{}, false, nil
	}
	body, err := json.Marshal(struct {
		Type      string `json:"type"`
		Timestamp string `json:"timestamp"`
		Data      struct {
			Purchase PurchaseView `json:"purchase"`
			Seq      int32        `json:"seq"`
		} `json:"data"`
	}{Type: typ, Timestamp: at.UTC().Format("2006-01-02T15:04:05.000Z"), Data: struct {
		Purchase PurchaseView `json:"purchase"`
		Seq      int32        `json:"seq"`
	}{ViewPurchase(p, ended), seq}})
	if err != nil {
		return Message{}, false, fmt.Errorf("render message of %s: %w", p.ID, err)
	}
	return Message{ClientID: p.ClientID, PurchaseID: p.ID, Type: typ, Seq: seq, Body: body}, true, nil
}

// emit hands the message of p's change (its status event is ev) to the
// outbox, in tx.
func (s *Service) emit(ctx context.Context, tx pgx.Tx, p store.Purchase, ev store.PurchaseEvent) error {
	if s.cfg.Outbox == nil {
		return nil
	}
	if _, tells := messageTypes[Status(p.Status)]; !tells {
		return nil
	}
	ended, err := s.endedAttempts(ctx, store.New(tx), []store.Purchase{p})
	if err != nil {
		return err
	}
	m, ok, err := messageOf(p, ended[p.ID], ev.Seq, ev.CreatedAt)
	if err != nil || !ok {
		return err
	}
	if err := s.cfg.Outbox.Enqueue(ctx, tx, m); err != nil {
		return fmt.Errorf("webhook messages of %s: %w", p.ID, err)
	}
	return nil
}
