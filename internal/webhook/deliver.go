package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

// deliverWorker makes a message's attempts: a thin shell around gate and
// decide. One transaction admits the attempt (the message due, its endpoint
// there, a slot free) and takes a lease; the call is made outside any
// transaction; one transaction records the answer, what it changes on the
// endpoint and, when the message ended, completes the job. A message that
// must wait snoozes its job (a snooze is not one of River's attempts).
type deliverWorker struct {
	river.WorkerDefaults[deliverArgs]
	s *Service
}

// Work delivers one message.
func (w *deliverWorker) Work(ctx context.Context, job *river.Job[deliverArgs]) error {
	s := w.s
	t, err := s.admit(ctx, job.Args.MessageID)
	if err != nil {
		return err
	}
	switch t.action {
	case gateDone, gateCancel:
		return nil
	case gateWait:
		return river.JobSnooze(t.wait)
	}
	a := s.sender.send(ctx, t.request)
	s.metrics.AttemptDuration.Observe(a.Latency.Seconds())
	// The attempt was made: record it even if the job is being stopped.
	recordCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	wait, err := s.record(recordCtx, job, t, a)
	if err != nil {
		return err
	}
	if wait > 0 {
		return river.JobSnooze(wait)
	}
	return nil
}

// ticket is what admit decided, and for an attempt what to send.
type ticket struct {
	action   gateAction
	wait     time.Duration
	msg      store.WebhookMessage
	endpoint store.WebhookEndpoint
	lease    uuid.UUID
	request  attemptRequest
}

// admit reads the message and its endpoint under the endpoint's row lock
// and decides (gate) whether an attempt starts now; if so it takes the
// message's lease, one of the endpoint's slots, and signs the attempt with
// the endpoint's secrets.
func (s *Service) admit(ctx context.Context, id uuid.UUID) (ticket, error) {
	var t ticket
	var secrets []store.WebhookSecret
	canceled := false
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		q := store.New(tx)
		row, err := q.WebhookSendStateLock(ctx, id)
		if errors.Is(err, pgx.ErrNoRows) {
			t.action = gateDone // removed after its retention
			return nil
		}
		if err != nil {
			return err
		}
		t.msg, t.endpoint = row.WebhookMessage, row.WebhookEndpoint
		now := s.now()
		load, err := q.WebhookEndpointLoad(ctx, store.WebhookEndpointLoadParams{EndpointID: t.endpoint.ID, Now: &now})
		if err != nil {
			return err
		}
		t.action, t.wait = gate(now, t.msg, t.endpoint, load.InFlight, load.Due, s.cfg.InFlight, s.cfg.Rand())
		switch t.action {
		case gateCancel:
			n, err := q.WebhookMessageCancel(ctx, store.WebhookMessageCancelParams{ID: id, Now: &now})
			canceled = n > 0
			return err
		case gateSend:
			t.lease = uuid.New()
			until := now.Add(s.cfg.Lease)
			n, err := q.WebhookMessageLease(ctx, store.WebhookMessageLeaseParams{ID: id, LeaseID: &t.lease, LeaseUntil: &until, Now: &now})
			if err != nil {
				return err
			}
			if n == 0 {
				t.action, t.wait = gateWait, time.Second
				return nil
			}
			cutoff := now.Add(-secretOverlap)
			secrets, err = q.WebhookSecretListSigning(ctx, store.WebhookSecretListSigningParams{EndpointID: t.endpoint.ID, Cutoff: &cutoff})
			return err
		}
		return nil
	})
	if err != nil {
		return t, fmt.Errorf("admit webhook message %s: %w", id, err)
	}
	if canceled {
		s.metrics.Deliveries.WithLabelValues("canceled").Inc()
	}
	if t.action != gateSend {
		return t, nil
	}
	keys, err := s.keys(t.endpoint.ID, secrets)
	if err != nil {
		// Nothing can be signed (WEBHOOK_SECRET_KEY missing or not the one
		// the secrets were sealed with): the message waits, nothing is lost.
		s.log.Error("webhook message cannot be signed; it waits", "message_id", id, "endpoint_id", t.endpoint.ID, "error", err.Error())
		if err := s.q.WebhookMessageReleaseLease(ctx, store.WebhookMessageReleaseLeaseParams{ID: id, LeaseID: &t.lease}); err != nil {
			return t, fmt.Errorf("release lease of webhook message %s: %w", id, err)
		}
		t.action, t.wait = gateWait, time.Minute
		return t, nil
	}
	now := s.now()
	wid := WebhookID(id)
	t.request = attemptRequest{URL: t.endpoint.Url, ID: wid, Timestamp: now, Body: t.msg.Body,
		Signature: signature(keys, wid, now.Unix(), t.msg.Body)}
	return t, nil
}

// keys opens an endpoint's signing secrets.
func (s *Service) keys(endpoint uuid.UUID, secrets []store.WebhookSecret) ([][]byte, error) {
	if s.sealer == nil {
		return nil, ErrNotConfigured
	}
	if len(secrets) == 0 {
		return nil, fmt.Errorf("endpoint %s has no secret", endpoint)
	}
	keys := make([][]byte, 0, len(secrets))
	for _, sec := range secrets {
		k, err := s.sealer.open(endpoint, sec.Sealed)
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// record stores an attempt's answer and what decide makes of it, in one
// transaction: the attempt, the message's new state (only while it still
// holds its lease and is pending), the endpoint's failure clock, throttle
// and disabling (which cancels its pending messages), the alerts, and the
// job's completion when the message ended. It returns how long the job
// snoozes until the next attempt (0: the job is done).
func (s *Service) record(ctx context.Context, job *river.Job[deliverArgs], t ticket, a answer) (time.Duration, error) {
	var (
		o        outcome
		recorded bool
		disabled bool
		wait     time.Duration
		canceled int64
	)
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		q := store.New(tx)
		ep, err := q.WebhookEndpointLock(ctx, t.endpoint.ID)
		if err != nil {
			return err
		}
		now := s.now()
		o = decide(now, a, int(t.msg.RoundAttempts), ep.FailingSince, ep.ThrottledUntil, s.cfg.Schedule, s.cfg.DisableAfter, s.cfg.Rand())
		var status *int32
		if a.Status != 0 {
			status = ptr(int32(a.Status))
		}
		errText := a.Err
		if errText == "" && a.Status == 0 {
			errText = "no answer"
		}
		if err := q.WebhookAttemptInsert(ctx, store.WebhookAttemptInsertParams{
			MessageID: t.msg.ID, EndpointID: ep.ID, HttpStatus: status, Error: truncate(errText, 1000),
			LatencyMs: int32(a.Latency.Milliseconds()), ResponseBody: a.Body, AttemptedAt: now,
		}); err != nil {
			return fmt.Errorf("insert attempt: %w", err)
		}
		_, err = q.WebhookMessageRecord(ctx, store.WebhookMessageRecordParams{
			ID: t.msg.ID, LeaseID: &t.lease, Status: o.Status, NextAttemptAt: o.Next, FinishedAt: o.Finished, Now: now,
		})
		switch {
		case err == nil:
			recorded = true
		case errors.Is(err, pgx.ErrNoRows):
			// Canceled (or its lease lost) meanwhile: the attempt is on
			// record, the message is someone else's business now.
			if err := q.WebhookMessageReleaseLease(ctx, store.WebhookMessageReleaseLeaseParams{ID: t.msg.ID, LeaseID: &t.lease}); err != nil {
				return err
			}
		default:
			return fmt.Errorf("record attempt: %w", err)
		}
		var disabledAt *time.Time
		var reason *string
		if o.Disable != "" {
			disabledAt, reason = &now, &o.Disable
		}
		if _, err := q.WebhookEndpointRecordAttempt(ctx, store.WebhookEndpointRecordAttemptParams{
			ID: ep.ID, FailingSince: o.FailingSince, ThrottledUntil: o.ThrottledUntil,
			LastLatencyMs: int32(a.Latency.Milliseconds()), DisabledAt: disabledAt, DisabledReason: reason, Now: now,
		}); err != nil {
			return fmt.Errorf("update endpoint: %w", err)
		}
		if o.Disable != "" && ep.DisabledAt == nil && ep.DeletedAt == nil {
			disabled = true
			if err := cancelPending(ctx, q, ep.ID, now, &canceled); err != nil {
				return err
			}
			if err := s.alertDisabled(ctx, q, ep, o.Disable, now); err != nil {
				return err
			}
		}
		if recorded && o.Status == store.WebhookMessageStatusFailed {
			if err := s.alertFailed(ctx, q, t.msg, int(t.msg.Attempts)+1, a, now); err != nil {
				return err
			}
		}
		if recorded && o.Status == store.WebhookMessageStatusPending {
			wait = max(o.Next.Sub(now), time.Millisecond)
			return nil
		}
		return store.CompleteJob(ctx, tx, job.ID)
	})
	if err != nil {
		return 0, fmt.Errorf("record attempt of webhook message %s: %w", t.msg.ID, err)
	}
	if recorded && o.Status != store.WebhookMessageStatusPending {
		s.metrics.Deliveries.WithLabelValues(string(o.Status)).Inc()
	}
	s.metrics.Deliveries.WithLabelValues("canceled").Add(float64(canceled))
	if disabled {
		s.metrics.EndpointsDisabled.WithLabelValues(o.Disable).Inc()
	}
	s.log.Debug("webhook attempt", "message_id", t.msg.ID, "endpoint_id", t.endpoint.ID,
		"http_status", a.Status, "error", a.Err, "latency", a.Latency, "status", o.Status)
	return wait, nil
}

// alertFailed raises the alert of a message that ran out of attempts.
func (s *Service) alertFailed(ctx context.Context, q *store.Queries, m store.WebhookMessage, attempts int, a answer, now time.Time) error {
	last := a.Err
	if a.Status != 0 {
		last = fmt.Sprintf("HTTP %d", a.Status)
	}
	msg := fmt.Sprintf("webhook %s (%s) to endpoint %s failed after %d attempts; the last: %s",
		WebhookID(m.ID), m.EventType, m.EndpointID, attempts, last)
	return s.alert(ctx, q, "webhook_delivery_failed", &m.PurchaseID, msg, map[string]any{
		"message_id": WebhookID(m.ID), "endpoint_id": m.EndpointID, "client_id": m.ClientID, "event_type": m.EventType, "attempts": attempts,
	}, now)
}

// alertDisabled raises the alert of an endpoint the service disabled.
func (s *Service) alertDisabled(ctx context.Context, q *store.Queries, e store.WebhookEndpoint, reason string, now time.Time) error {
	why := "it answered 410 Gone"
	if reason == "failing" {
		why = fmt.Sprintf("every attempt failed for %s", s.cfg.DisableAfter)
	}
	msg := fmt.Sprintf("webhook endpoint %s of client %s disabled: %s", e.ID, e.ClientID, why)
	return s.alert(ctx, q, "webhook_endpoint_disabled", nil, msg, map[string]any{
		"endpoint_id": e.ID, "client_id": e.ClientID, "reason": reason,
	}, now)
}

// alert stores an operator alert (a purchase raises each kind once) and
// logs it. Neither holds a URL, a secret or a signature.
func (s *Service) alert(ctx context.Context, q *store.Queries, kind string, purchase *uuid.UUID, message string, data any, now time.Time) error {
	b, err := json.Marshal(data)
	if err != nil {
		return err
	}
	if _, err := q.AlertInsert(ctx, store.AlertInsertParams{Kind: kind, PurchaseID: purchase, Message: message, Data: b, CreatedAt: now}); err != nil {
		return fmt.Errorf("alert %s: %w", kind, err)
	}
	s.log.Warn("alert: "+message, "kind", kind)
	return nil
}
