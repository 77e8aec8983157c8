package console

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

// purchaseData is the Purchase page.
type purchaseData struct {
	P      store.Purchase
	Client string
	// Route is the providers fixed at creation, in order, each with where
	// the purchase stands with it; Attempts are the attempts made, ended
	// ones first, then the current one.
	Route    []routeStop
	Attempts []attemptRow
	Timeline []timelineEntry
	// Review is the resolve form's state when the purchase is in
	// needs_review.
	Review  *reviewItem
	Retried string // the webhook-id just sent again
}

// routeStop is one provider of a purchase's route.
type routeStop struct {
	Provider string
	State    string // tried (failed over), current, or ahead
}

// attemptRow is one attempt of a purchase: an ended one (purchase_attempts)
// or the current one (the purchase row). Operators see our provider
// references and the provider's ids: they are not secrets.
type attemptRow struct {
	Number                int32
	Provider              string
	ProviderProductCode   string
	ProviderReference     *string
	ProviderRequestID     *string
	ProviderTransactionID *string
	PaymentAttempts       int32
	StartedAt             time.Time
	EndedAt               *time.Time
	Outcome               string // failed_over, or the purchase's status for the current one
	FailureCode           *string
	FailureMessage        *string
	Current               bool
}

// timelineEntry is one row of the timeline: an audit event, or a webhook
// delivery made by the status change of that seq.
type timelineEntry struct {
	Event    *store.EventTimelineRow
	Delivery *deliveryView
}

// purchase is GET /console/purchases/{id}: every field of one purchase,
// its route and attempts, and its timeline in order with its webhook
// deliveries.
func (c *Console) purchase(w http.ResponseWriter, r *http.Request, s *session) {
	id, err := uuid.Parse(r.PathValue("id"))
	if err != nil {
		c.fail(w, r, s, http.StatusNotFound, "id: must be a purchase id (a UUID).")
		return
	}
	c.showPurchase(w, r, s, id, http.StatusOK, nil, "")
}

// showPurchase renders the Purchase page; form carries a refused resolve's
// input and reason, problem any other refusal.
func (c *Console) showPurchase(w http.ResponseWriter, r *http.Request, s *session, id uuid.UUID, status int, form *resolveForm, problem string) {
	ctx := r.Context()
	row, err := c.q.PurchaseGetWithClient(ctx, id)
	if isNotFound(err) {
		c.fail(w, r, s, http.StatusNotFound, fmt.Sprintf("No purchase has the id %s.", id))
		return
	}
	if err != nil {
		c.internal(w, r, s, fmt.Errorf("read purchase %s: %w", id, err))
		return
	}
	p := row.Purchase
	data := purchaseData{P: p, Client: row.ClientName, Retried: retriedParam(r.URL.Query())}
	ended, err := c.q.PurchaseAttemptList(ctx, id)
	if err != nil {
		c.internal(w, r, s, fmt.Errorf("read attempts of %s: %w", id, err))
		return
	}
	data.Route, data.Attempts = routeOf(p, ended)
	if data.Timeline, err = c.timeline(ctx, s, p); err != nil {
		c.internal(w, r, s, err)
		return
	}
	if p.Status == store.PurchaseStatusNeedsReview || form != nil {
		data.Review = &reviewItem{ID: id, Back: "purchase", CSRF: s.CSRF}
		if form != nil {
			data.Review.Form, problem = *form, form.Problem
		}
	}
	c.render(w, r, status, "purchase", s, "Purchase "+p.ReferenceID, data, problem)
}

// routeOf lays out p's route and its attempts: the ended ones, then the
// current one from the purchase row.
func routeOf(p store.Purchase, ended []store.PurchaseAttempt) ([]routeStop, []attemptRow) {
	var attempts []attemptRow
	tried := map[string]bool{}
	for _, a := range ended {
		tried[a.Provider] = true
		end := a.EndedAt
		attempts = append(attempts, attemptRow{
			Number: a.Number, Provider: a.Provider, ProviderProductCode: a.ProviderProductCode,
			ProviderReference: a.ProviderReference, ProviderRequestID: a.ProviderRequestID,
			ProviderTransactionID: a.ProviderTransactionID, PaymentAttempts: a.PaymentAttempts,
			StartedAt: a.StartedAt, EndedAt: &end, Outcome: "failed_over",
			FailureCode: &a.FailureCode, FailureMessage: &a.FailureMessage,
		})
	}
	started := p.AttemptStartedAt
	if started.IsZero() {
		started = p.CreatedAt
	}
	attempts = append(attempts, attemptRow{
		Number: p.Attempt, Provider: p.Provider, ProviderProductCode: p.ProviderProductCode,
		ProviderReference: p.ProviderReference, ProviderRequestID: p.ProviderRequestID,
		ProviderTransactionID: p.ProviderTransactionID, PaymentAttempts: p.PaymentAttempts,
		StartedAt: started, EndedAt: p.CompletedAt, Outcome: string(p.Status),
		FailureCode: p.FailureCode, FailureMessage: p.FailureMessage, Current: true,
	})
	route := make([]routeStop, 0, len(p.Route))
	for _, provider := range p.Route {
		state := "ahead"
		switch {
		case provider == p.Provider:
			state = "current"
		case tried[provider]:
			state = "tried"
		case slices.Index(p.Route, provider) < slices.Index(p.Route, p.Provider):
			state = "skipped" // unusable when the purchase failed over past it
		}
		route = append(route, routeStop{Provider: provider, State: state})
	}
	return route, attempts
}

// timeline is p's audit timeline in seq order, each webhook delivery right
// after the status change that made it (a delivery carries its change's
// seq), with its attempts and the operators' retries.
func (c *Console) timeline(ctx context.Context, s *session, p store.Purchase) ([]timelineEntry, error) {
	events, err := c.q.EventTimeline(ctx, store.EventTimelineParams{PurchaseID: p.ID, AuditSince: store.AuditSince(p.CreatedAt)})
	if err != nil {
		return nil, fmt.Errorf("read timeline of %s: %w", p.ID, err)
	}
	rows, err := c.q.WebhookMessageListForPurchase(ctx, p.ID)
	if err != nil {
		return nil, fmt.Errorf("read webhook deliveries of %s: %w", p.ID, err)
	}
	deliveries := make([]deliveryView, len(rows))
	for i, m := range rows {
		deliveries[i] = deliveryView{
			ID: m.ID, PurchaseID: p.ID, ReferenceID: p.ReferenceID, EndpointID: m.EndpointID,
			EndpointURL: shownURL(m.EndpointUrl), EndpointGone: m.EndpointDeletedAt != nil,
			EventType: m.EventType, Seq: m.Seq, Status: string(m.Status), Count: m.Attempts,
			NextAttemptAt: m.NextAttemptAt, CreatedAt: m.CreatedAt, FinishedAt: m.FinishedAt,
		}
	}
	if err := c.withHistory(ctx, s, deliveries, "purchase"); err != nil {
		return nil, err
	}
	out := make([]timelineEntry, 0, len(events)+len(deliveries))
	next := 0 // deliveries are in seq order too
	for i := range events {
		for next < len(deliveries) && deliveries[next].Seq < events[i].Seq {
			out = append(out, timelineEntry{Delivery: &deliveries[next]})
			next++
		}
		out = append(out, timelineEntry{Event: &events[i]})
		for next < len(deliveries) && deliveries[next].Seq == events[i].Seq {
			out = append(out, timelineEntry{Delivery: &deliveries[next]})
			next++
		}
	}
	for ; next < len(deliveries); next++ {
		out = append(out, timelineEntry{Delivery: &deliveries[next]})
	}
	return out, nil
}
