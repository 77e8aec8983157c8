package console

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/google/uuid"

	"github.com/ppob-orchestrator/orchestrator/internal/store"
	"github.com/ppob-orchestrator/orchestrator/internal/webhook"
)

// actionRetry is the admin_events action of an operator's retry of a
// delivery; its subject is deliverySubject.
const actionRetry = "webhook.retry"

// deliverySubject is the admin_events subject of a delivery: its
// webhook-id, which a client quotes and the console shows.
func deliverySubject(id uuid.UUID) string { return "webhook_delivery:" + webhook.WebhookID(id) }

// deliveryView is one message to one endpoint: where it stands, every
// attempt, the operators' retries, and the retry form when it can be sent
// again.
type deliveryView struct {
	ID            uuid.UUID
	PurchaseID    uuid.UUID
	ReferenceID   string
	EndpointID    uuid.UUID
	EndpointURL   string // shown without its query (shownURL)
	EndpointGone  bool   // the client deleted the endpoint
	EventType     string
	Seq           int32
	Status        string
	Count         int32 // attempts made
	NextAttemptAt *time.Time
	CreatedAt     time.Time
	FinishedAt    *time.Time
	Attempts      []attemptView
	Retries       []store.AdminEvent
	Retry         *retryForm
}

// WebhookID is the delivery's webhook-id (msg_…), as clients know it.
func (d deliveryView) WebhookID() string { return webhook.WebhookID(d.ID) }

// attemptView is one attempt of a delivery.
type attemptView struct {
	At         time.Time
	HTTPStatus *int32
	Error      string
	LatencyMs  int32
	Response   string // the start of the endpoint's answer, masked (redact)
}

// retryForm is the form that sends a delivery again; Back names the page
// it returns to: webhooks, endpoint or purchase.
type retryForm struct {
	WebhookID, Back, CSRF string
}

// retryForm returns the retry form of a delivery in status, or nil when it
// cannot be sent again: only delivered and failed ones can
// (webhook.Service.RetryDelivery), and only where a webhook service runs.
func (c *Console) retryForm(s *session, id uuid.UUID, status, back string) *retryForm {
	if c.cfg.Webhooks == nil || (status != string(store.WebhookMessageStatusFailed) && status != string(store.WebhookMessageStatusDelivered)) {
		return nil
	}
	return &retryForm{WebhookID: webhook.WebhookID(id), Back: back, CSRF: s.CSRF}
}

// withHistory fills each delivery's attempts, retries and retry form
// (returning to back), in two reads.
func (c *Console) withHistory(ctx context.Context, s *session, ds []deliveryView, back string) error {
	if len(ds) == 0 {
		return nil
	}
	ids := make([]uuid.UUID, len(ds))
	subjects := make([]string, len(ds))
	for i, d := range ds {
		ids[i], subjects[i] = d.ID, deliverySubject(d.ID)
	}
	attempts, err := c.q.WebhookAttemptListForMessages(ctx, ids)
	if err != nil {
		return fmt.Errorf("read attempts of %d webhook deliveries: %w", len(ids), err)
	}
	byMessage := map[uuid.UUID][]attemptView{}
	for _, a := range attempts {
		byMessage[a.MessageID] = append(byMessage[a.MessageID], attemptView{
			At: a.AttemptedAt, HTTPStatus: a.HttpStatus, Error: a.Error, LatencyMs: a.LatencyMs,
			Response: string(redact([]byte(a.ResponseBody))),
		})
	}
	retries, err := c.retriesOf(ctx, subjects)
	if err != nil {
		return err
	}
	for i := range ds {
		d := &ds[i]
		d.Attempts, d.Retries = byMessage[d.ID], retries[subjects[i]]
		d.Retry = c.retryForm(s, d.ID, d.Status, back)
	}
	return nil
}

// retry is POST /console/webhooks/deliveries/{id}/retry: an operator sends
// a failed or delivered message again through webhook.Service's retry (same
// webhook-id and body, a fresh round of the retry schedule), recorded in
// admin_events with the operator's name. A refusal shows its reason on the
// page the form came from.
func (c *Console) retry(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := r.Context()
	id, ok := webhook.ParseWebhookID(r.PathValue("id"))
	if !ok {
		c.fail(w, r, s, http.StatusNotFound, "id: must be a webhook-id (msg_ and a UUID).")
		return
	}
	m, err := c.q.WebhookMessageGetAny(ctx, id)
	if isNotFound(err) {
		c.fail(w, r, s, http.StatusNotFound, fmt.Sprintf("No webhook delivery has the id %s.", webhook.WebhookID(id)))
		return
	}
	if err != nil {
		c.internal(w, r, s, fmt.Errorf("read webhook delivery %s: %w", id, err))
		return
	}
	if c.cfg.Webhooks == nil {
		c.fail(w, r, s, http.StatusServiceUnavailable, "This process has no webhook service: deliveries cannot be sent again from it.")
		return
	}
	back := r.PostFormValue("back")
	_, err = c.cfg.Webhooks.RetryDeliveryAudited(ctx, m.ClientID, id, func(ctx context.Context, q *store.Queries) error {
		return c.auditRetry(ctx, q, s.Operator, m)
	})
	switch {
	case errors.Is(err, webhook.ErrInvalidState):
		c.log.InfoContext(ctx, "console: webhook retry refused", "delivery", webhook.WebhookID(id), "operator", s.Operator, "status", m.Status)
		problem := fmt.Sprintf("Delivery %s was not sent again: it is %s, and only a delivered or failed delivery can be sent again.",
			webhook.WebhookID(id), c.currentStatus(ctx, id, m.Status))
		c.retryRefused(w, r, s, back, m, problem)
		return
	case errors.Is(err, webhook.ErrNotFound):
		c.fail(w, r, s, http.StatusNotFound, fmt.Sprintf("No webhook delivery has the id %s.", webhook.WebhookID(id)))
		return
	case err != nil:
		c.internal(w, r, s, err)
		return
	}
	c.log.InfoContext(ctx, "console: webhook delivery sent again", "delivery", webhook.WebhookID(id), "operator", s.Operator)
	done := url.Values{"retried": {webhook.WebhookID(id)}}.Encode()
	target := "/console/webhooks?" + done
	switch back {
	case "endpoint":
		target = fmt.Sprintf("/console/webhooks/endpoints/%s?%s", m.EndpointID, done)
	case "purchase":
		target = fmt.Sprintf("/console/purchases/%s?%s", m.PurchaseID, done)
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// auditRetry records an operator's retry in admin_events, in the retry's
// transaction (q): who, which delivery (of which purchase, endpoint and
// event), its state before and after (pending: queued again).
func (c *Console) auditRetry(ctx context.Context, q *store.Queries, operator string, m store.WebhookMessageGetAnyRow) error {
	before, err := json.Marshal(map[string]any{
		"status": m.Status, "attempts": m.Attempts, "purchase_id": m.PurchaseID, "endpoint_id": m.EndpointID,
		"client_id": m.ClientID, "event_type": m.EventType, "seq": m.Seq,
	})
	if err != nil {
		return err
	}
	now, err := json.Marshal(map[string]string{"status": string(store.WebhookMessageStatusPending)})
	if err != nil {
		return err
	}
	if err := q.AdminEventInsert(ctx, store.AdminEventInsertParams{
		Actor: operator, Action: actionRetry, Subject: deliverySubject(m.ID), Before: before, After: now, CreatedAt: c.now(),
	}); err != nil {
		return fmt.Errorf("audit retry of %s: %w", webhook.WebhookID(m.ID), err)
	}
	return nil
}

// currentStatus re-reads a delivery's status after a refused retry (it may
// have moved since it was read); was when it cannot be read.
func (c *Console) currentStatus(ctx context.Context, id uuid.UUID, was store.WebhookMessageStatus) store.WebhookMessageStatus {
	if m, err := c.q.WebhookMessageGetAny(ctx, id); err == nil {
		return m.Status
	}
	return was
}

// retryRefused shows a refused retry's reason on the page its form came
// from, with 409.
func (c *Console) retryRefused(w http.ResponseWriter, r *http.Request, s *session, back string, m store.WebhookMessageGetAnyRow, problem string) {
	switch back {
	case "endpoint":
		c.showEndpoint(w, r, s, m.EndpointID, http.StatusConflict, problem)
	case "purchase":
		c.showPurchase(w, r, s, m.PurchaseID, http.StatusConflict, nil, problem)
	default:
		c.showWebhooks(w, r, s, http.StatusConflict, problem)
	}
}

// shownURL is an endpoint's URL as the console shows it: without its query
// and fragment, which may carry a token the client put there.
func shownURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(an unreadable URL)"
	}
	more := ""
	if u.RawQuery != "" || u.ForceQuery {
		more = "?…"
	}
	u.User, u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = nil, "", false, "", ""
	return u.String() + more
}
