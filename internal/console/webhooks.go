package console

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/ppob-orchestrator/orchestrator/internal/store"
	"github.com/ppob-orchestrator/orchestrator/internal/webhook"
)

// webhookPageSize is how many deliveries a webhook list shows a page;
// endpointsShown bounds the endpoints the Webhooks page lists; retriesFor
// is how far back it lists operators' retries.
const (
	webhookPageSize = 50
	endpointsShown  = 200
	retriesFor      = 7 * 24 * time.Hour
)

// webhooksData is the Webhooks page.
type webhooksData struct {
	// Configured is false when this process has no webhook service: the
	// deliveries are readable, but nothing can be sent again.
	Configured bool
	Client     string // the client filter, as typed ("" for every client)
	Clients    []store.ClientListRow
	Failed     []failedView
	Next       string // the next page's URL, "" on the last
	Endpoints  []endpointView
	Retries    []store.AdminEvent // operators' retries of the last days
	Retried    string             // the webhook-id just sent again
}

// failedView is a delivery that ran out of retries, with the operators'
// earlier retries of it and its retry form.
type failedView struct {
	store.WebhookMessageListFailedRow
	WebhookID   string
	EndpointURL string
	Retries     []store.AdminEvent
	Retry       *retryForm
}

// endpointView is an endpoint as the Webhooks page lists it.
type endpointView struct {
	store.WebhookEndpointListForConsoleRow
	URL string
}

// webhooks is GET /console/webhooks: the deliveries that ran out of
// retries, across clients (or of one), newest failure first, each with a
// retry; the endpoints that are disabled or failing (or every endpoint of
// the chosen client); the operators' recent retries.
func (c *Console) webhooks(w http.ResponseWriter, r *http.Request, s *session) {
	c.showWebhooks(w, r, s, http.StatusOK, "")
}

// showWebhooks renders the Webhooks page at status, with problem above it.
func (c *Console) showWebhooks(w http.ResponseWriter, r *http.Request, s *session, status int, problem string) {
	ctx := r.Context()
	v := r.URL.Query()
	data := webhooksData{Configured: c.cfg.Webhooks != nil, Client: v.Get("client"), Retried: retriedParam(v)}
	var err error
	if data.Clients, err = c.q.ClientList(ctx); err != nil {
		c.internal(w, r, s, fmt.Errorf("list clients: %w", err))
		return
	}
	params := store.WebhookMessageListFailedParams{BeforeFinishedAt: endOfTime, BeforeID: maxUUID, RowLimit: webhookPageSize + 1}
	var problems []string
	if data.Client != "" {
		id, err := uuid.Parse(data.Client)
		if err != nil {
			problems = append(problems, "client: must be a client's id")
		}
		params.ClientID = &id
	}
	if cur := v.Get("cursor"); cur != "" {
		t, id, err := parseCursor(cur)
		if err != nil {
			problems = append(problems, "cursor: is not a page of this list")
		}
		params.BeforeFinishedAt, params.BeforeID = t, id
	}
	if len(problems) > 0 {
		c.render(w, r, http.StatusUnprocessableEntity, "webhooks", s, "Webhooks", data, strings.Join(problems, "; "))
		return
	}
	rows, err := c.q.WebhookMessageListFailed(ctx, params)
	if err != nil {
		c.internal(w, r, s, fmt.Errorf("list failed webhook deliveries: %w", err))
		return
	}
	if len(rows) > webhookPageSize {
		rows = rows[:webhookPageSize]
		last := rows[len(rows)-1]
		next := url.Values{"cursor": {cursorOf(last.FinishedAt, last.ID)}}
		if data.Client != "" {
			next.Set("client", data.Client)
		}
		data.Next = "/console/webhooks?" + next.Encode()
	}
	subjects := make([]string, len(rows))
	for i, row := range rows {
		subjects[i] = deliverySubject(row.ID)
	}
	retries, err := c.retriesOf(ctx, subjects)
	if err != nil {
		c.internal(w, r, s, err)
		return
	}
	for _, row := range rows {
		f := failedView{WebhookMessageListFailedRow: row, WebhookID: webhook.WebhookID(row.ID),
			EndpointURL: shownURL(row.EndpointUrl), Retries: retries[deliverySubject(row.ID)]}
		f.Retry = c.retryForm(s, row.ID, string(store.WebhookMessageStatusFailed), "webhooks")
		data.Failed = append(data.Failed, f)
	}
	endpoints, err := c.q.WebhookEndpointListForConsole(ctx, store.WebhookEndpointListForConsoleParams{ClientID: params.ClientID, RowLimit: endpointsShown})
	if err != nil {
		c.internal(w, r, s, fmt.Errorf("list webhook endpoints: %w", err))
		return
	}
	for _, e := range endpoints {
		data.Endpoints = append(data.Endpoints, endpointView{WebhookEndpointListForConsoleRow: e, URL: shownURL(e.Url)})
	}
	if data.Retries, err = c.q.AdminEventListByAction(ctx, store.AdminEventListByActionParams{
		Actions: []string{actionRetry}, Since: c.now().Add(-retriesFor), RowLimit: 50,
	}); err != nil {
		c.internal(w, r, s, fmt.Errorf("list operators' retries: %w", err))
		return
	}
	c.render(w, r, status, "webhooks", s, "Webhooks", data, problem)
}

// endpointData is an endpoint's page: the endpoint and its delivery
// history.
type endpointData struct {
	E          store.WebhookEndpointGetWithClientRow
	URL        string
	Deliveries []deliveryView
	Next       string
	Retried    string
}

// endpoint is GET /console/webhooks/endpoints/{id}: an endpoint of any
// client and its deliveries, newest first, each with every attempt.
func (c *Console) endpoint(w http.ResponseWriter, r *http.Request, s *session) {
	id, err := uuid.Parse(r.PathValue("id"))
	if err != nil {
		c.fail(w, r, s, http.StatusNotFound, "id: must be a webhook endpoint id (a UUID).")
		return
	}
	c.showEndpoint(w, r, s, id, http.StatusOK, "")
}

// showEndpoint renders endpoint id's page at status, with problem above it.
func (c *Console) showEndpoint(w http.ResponseWriter, r *http.Request, s *session, id uuid.UUID, status int, problem string) {
	ctx := r.Context()
	e, err := c.q.WebhookEndpointGetWithClient(ctx, id)
	if isNotFound(err) {
		c.fail(w, r, s, http.StatusNotFound, fmt.Sprintf("No webhook endpoint has the id %s.", id))
		return
	}
	if err != nil {
		c.internal(w, r, s, fmt.Errorf("read webhook endpoint %s: %w", id, err))
		return
	}
	v := r.URL.Query()
	data := endpointData{E: e, URL: shownURL(e.Url), Retried: retriedParam(v)}
	params := store.WebhookMessageListForEndpointParams{ClientID: e.ClientID, EndpointID: id,
		BeforeCreatedAt: endOfTime, BeforeID: maxUUID, RowLimit: webhookPageSize + 1}
	if cur := v.Get("cursor"); cur != "" {
		t, cid, err := parseCursor(cur)
		if err != nil {
			c.render(w, r, http.StatusUnprocessableEntity, "endpoint", s, "Webhook endpoint", data, "cursor: is not a page of this list")
			return
		}
		params.BeforeCreatedAt, params.BeforeID = t, cid
	}
	rows, err := c.q.WebhookMessageListForEndpoint(ctx, params)
	if err != nil {
		c.internal(w, r, s, fmt.Errorf("list deliveries of endpoint %s: %w", id, err))
		return
	}
	if len(rows) > webhookPageSize {
		rows = rows[:webhookPageSize]
		last := rows[len(rows)-1]
		data.Next = fmt.Sprintf("/console/webhooks/endpoints/%s?%s", id, url.Values{"cursor": {cursorOf(last.CreatedAt, last.ID)}}.Encode())
	}
	for _, m := range rows {
		data.Deliveries = append(data.Deliveries, deliveryView{
			ID: m.ID, PurchaseID: m.PurchaseID, ReferenceID: m.ReferenceID, EndpointID: id, EndpointURL: data.URL,
			EndpointGone: e.DeletedAt != nil, EventType: m.EventType, Seq: m.Seq, Status: string(m.Status), Count: m.Attempts,
			NextAttemptAt: m.NextAttemptAt, CreatedAt: m.CreatedAt, FinishedAt: m.FinishedAt,
		})
	}
	if err := c.withHistory(ctx, s, data.Deliveries, "endpoint"); err != nil {
		c.internal(w, r, s, err)
		return
	}
	c.render(w, r, status, "endpoint", s, "Webhook endpoint of "+e.ClientName, data, problem)
}

// retriedParam is the webhook-id a retry redirected with, to say it was
// sent again; "" when absent or not a webhook-id.
func retriedParam(v url.Values) string {
	if id, ok := webhook.ParseWebhookID(v.Get("retried")); ok {
		return webhook.WebhookID(id)
	}
	return ""
}

// retriesOf reads the operators' retries of the deliveries named by
// subjects, by subject.
func (c *Console) retriesOf(ctx context.Context, subjects []string) (map[string][]store.AdminEvent, error) {
	out := map[string][]store.AdminEvent{}
	if len(subjects) == 0 {
		return out, nil
	}
	rows, err := c.q.AdminEventListForSubjects(ctx, subjects)
	if err != nil {
		return nil, fmt.Errorf("read retries of %d deliveries: %w", len(subjects), err)
	}
	for _, e := range rows {
		out[e.Subject] = append(out[e.Subject], e)
	}
	return out, nil
}
