package webhook

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/ppob-orchestrator/orchestrator/internal/flow"
	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

// Delivery is a message to one endpoint as its client sees it: what it
// says, where it stands and every attempt. Its ID is the webhook-id.
type Delivery struct {
	ID            string    `json:"id"`
	EndpointID    uuid.UUID `json:"endpoint_id"`
	PurchaseID    uuid.UUID `json:"purchase_id"`
	EventType     string    `json:"event_type"`
	Seq           int32     `json:"seq"`
	Status        string    `json:"status"` // pending, delivered, failed, canceled
	NextAttemptAt *string   `json:"next_attempt_at"`
	CreatedAt     string    `json:"created_at"`
	FinishedAt    *string   `json:"finished_at"`
	Attempts      []Attempt `json:"attempts"`
}

// Attempt is one attempt of a delivery: its HTTP status, or the error that
// kept it from getting one, its latency and the start of the answer.
type Attempt struct {
	At           string `json:"at"`
	HTTPStatus   *int32 `json:"http_status"`
	Error        string `json:"error,omitempty"`
	LatencyMs    int32  `json:"latency_ms"`
	ResponseBody string `json:"response_body,omitempty"`
}

// Position is where a page of deliveries ends: the (created_at, id) of its
// last delivery.
type Position struct {
	CreatedAt time.Time
	ID        uuid.UUID
}

// DeliveryFilter selects a client's deliveries; nil fields select all.
type DeliveryFilter struct {
	EndpointID *uuid.UUID
	PurchaseID *uuid.UUID
	Status     *string
	After      *Position
	Limit      int // 1–200
}

// DeliveryStatuses are the statuses a delivery can have.
var DeliveryStatuses = []string{"pending", "delivered", "failed", "canceled"}

// ListDeliveries returns a page of the client's deliveries, newest first,
// and the position of the next page (nil on the last one).
func (s *Service) ListDeliveries(ctx context.Context, clientID uuid.UUID, f DeliveryFilter) ([]Delivery, *Position, error) {
	p := store.WebhookMessageListForClientParams{ClientID: clientID, EndpointID: f.EndpointID, PurchaseID: f.PurchaseID, RowLimit: int32(f.Limit + 1)}
	if f.Status != nil {
		p.Status = ptr(store.WebhookMessageStatus(*f.Status))
	}
	if f.After != nil {
		p.CursorCreatedAt, p.CursorID = &f.After.CreatedAt, &f.After.ID
	}
	rows, err := s.q.WebhookMessageListForClient(ctx, p)
	if err != nil {
		return nil, nil, fmt.Errorf("list webhook deliveries of client %s: %w", clientID, err)
	}
	var next *Position
	if len(rows) > f.Limit {
		rows = rows[:f.Limit]
		last := rows[len(rows)-1]
		next = &Position{CreatedAt: last.CreatedAt, ID: last.ID}
	}
	out, err := s.withAttempts(ctx, rows)
	return out, next, err
}

// GetDelivery returns one of the client's deliveries (ErrNotFound for
// another client's).
func (s *Service) GetDelivery(ctx context.Context, clientID, id uuid.UUID) (Delivery, error) {
	row, err := s.q.WebhookMessageGetForClient(ctx, store.WebhookMessageGetForClientParams{ID: id, ClientID: clientID})
	if err != nil {
		return Delivery{}, notFound(err, "webhook delivery", id)
	}
	out, err := s.withAttempts(ctx, []store.WebhookMessageListForClientRow{store.WebhookMessageListForClientRow(row)})
	if err != nil {
		return Delivery{}, err
	}
	return out[0], nil
}

// withAttempts renders deliveries with their attempts, read in one query.
func (s *Service) withAttempts(ctx context.Context, rows []store.WebhookMessageListForClientRow) ([]Delivery, error) {
	ids := make([]uuid.UUID, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	attempts, err := s.q.WebhookAttemptListForMessages(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("list webhook attempts: %w", err)
	}
	byMessage := map[uuid.UUID][]Attempt{}
	for _, a := range attempts {
		byMessage[a.MessageID] = append(byMessage[a.MessageID], Attempt{At: flow.RFC3339(a.AttemptedAt),
			HTTPStatus: a.HttpStatus, Error: a.Error, LatencyMs: a.LatencyMs, ResponseBody: a.ResponseBody})
	}
	out := make([]Delivery, len(rows))
	for i, r := range rows {
		d := Delivery{ID: WebhookID(r.ID), EndpointID: r.EndpointID, PurchaseID: r.PurchaseID, EventType: r.EventType,
			Seq: r.Seq, Status: string(r.Status), CreatedAt: flow.RFC3339(r.CreatedAt), Attempts: byMessage[r.ID]}
		if d.Attempts == nil {
			d.Attempts = []Attempt{}
		}
		if r.NextAttemptAt != nil {
			d.NextAttemptAt = ptr(flow.RFC3339(*r.NextAttemptAt))
		}
		if r.FinishedAt != nil {
			d.FinishedAt = ptr(flow.RFC3339(*r.FinishedAt))
		}
		out[i] = d
	}
	return out, nil
}

// RetryDelivery sends a delivered or failed message again now, with the
// same webhook-id and body, and a new round of the retry schedule if it
// fails. A pending or canceled one is ErrInvalidState.
func (s *Service) RetryDelivery(ctx context.Context, clientID, id uuid.UUID) (Delivery, error) {
	return s.RetryDeliveryAudited(ctx, clientID, id, nil)
}

// RetryDeliveryAudited is RetryDelivery with audit, when not nil, run in
// the retry's transaction once the message is queued again: an operator's
// retry and its record commit together, or neither does (the console's
// admin_events row). An error from audit undoes the retry.
func (s *Service) RetryDeliveryAudited(ctx context.Context, clientID, id uuid.UUID, audit func(context.Context, *store.Queries) error) (Delivery, error) {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		q := store.New(tx)
		n, err := q.WebhookMessageRequeue(ctx, store.WebhookMessageRequeueParams{ID: id, ClientID: clientID, Now: ptr(s.now())})
		if err != nil {
			return err
		}
		if n == 0 {
			cur, err := q.WebhookMessageGetForClient(ctx, store.WebhookMessageGetForClientParams{ID: id, ClientID: clientID})
			if err != nil {
				return notFound(err, "webhook delivery", id)
			}
			return fmt.Errorf("webhook delivery %s is %s; only a delivered or failed one can be sent again: %w", WebhookID(id), cur.Status, ErrInvalidState)
		}
		if err := s.queue(ctx, tx, []uuid.UUID{id}); err != nil {
			return err
		}
		if audit != nil {
			return audit(ctx, q)
		}
		return nil
	})
	if err != nil {
		return Delivery{}, fmt.Errorf("retry webhook delivery %s: %w", id, err)
	}
	return s.GetDelivery(ctx, clientID, id)
}

// Recover queues again every message of the endpoint that failed since
// then and returns how many. since must lie within the retention (older
// messages are gone) and not in the future.
func (s *Service) Recover(ctx context.Context, clientID, endpointID uuid.UUID, since time.Time) (int, error) {
	now := s.now()
	switch {
	case since.After(now):
		return 0, &flow.ValidationError{Fields: []flow.FieldError{{Field: "since", Message: "must not be in the future"}}}
	case since.Before(now.Add(-s.cfg.Retention)):
		return 0, &flow.ValidationError{Fields: []flow.FieldError{{Field: "since", Message: fmt.Sprintf(
			"must be within the retention of %s (WEBHOOK_RETENTION): older messages are no longer kept", s.cfg.Retention)}}}
	}
	var n int
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		q := store.New(tx)
		ep, err := q.WebhookEndpointLockForClient(ctx, store.WebhookEndpointLockForClientParams{ID: endpointID, ClientID: clientID})
		if err != nil {
			return notFound(err, "webhook endpoint", endpointID)
		}
		if ep.DisabledAt != nil {
			return fmt.Errorf("webhook endpoint %s is disabled; enable it before recovering its messages: %w", endpointID, ErrInvalidState)
		}
		ids, err := q.WebhookMessageRecover(ctx, store.WebhookMessageRecoverParams{EndpointID: endpointID, Since: &since, Now: &now})
		if err != nil {
			return err
		}
		n = len(ids)
		return s.queue(ctx, tx, ids)
	})
	if err != nil {
		return 0, fmt.Errorf("recover webhook endpoint %s: %w", endpointID, err)
	}
	return n, nil
}
