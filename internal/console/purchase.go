package console

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/google/uuid"

	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

// purchaseData is the Purchase page.
type purchaseData struct {
	P        store.Purchase
	Client   string
	Timeline []store.EventTimelineRow
	// Review is the resolve form's state when the purchase is in
	// needs_review.
	Review *reviewItem
}

// purchase is GET /console/purchases/{id}: every field of one purchase,
// its provider's part, and its timeline in order.
func (c *Console) purchase(w http.ResponseWriter, r *http.Request, s *session) {
	id, err := uuid.Parse(r.PathValue("id"))
	if err != nil {
		c.fail(w, r, s, http.StatusNotFound, "id: must be a purchase id (a UUID).")
		return
	}
	c.showPurchase(w, r, s, id, http.StatusOK, nil)
}

// showPurchase renders the Purchase page; form carries a refused resolve's
// input and reason.
func (c *Console) showPurchase(w http.ResponseWriter, r *http.Request, s *session, id uuid.UUID, status int, form *resolveForm) {
	ctx := r.Context()
	row, err := c.q.PurchaseGetWithClient(ctx, id)
	if errors.Is(store.NotFound(err), store.ErrNotFound) {
		c.fail(w, r, s, http.StatusNotFound, fmt.Sprintf("No purchase has the id %s.", id))
		return
	}
	if err != nil {
		c.internal(w, r, s, fmt.Errorf("read purchase %s: %w", id, err))
		return
	}
	timeline, err := c.q.EventTimeline(ctx, id)
	if err != nil {
		c.internal(w, r, s, fmt.Errorf("read timeline of %s: %w", id, err))
		return
	}
	data := purchaseData{P: row.Purchase, Client: row.ClientName, Timeline: timeline}
	problem := ""
	if row.Purchase.Status == store.PurchaseStatusNeedsReview || form != nil {
		data.Review = &reviewItem{ID: id, Back: "purchase", CSRF: s.CSRF}
		if form != nil {
			data.Review.Form, problem = *form, form.Problem
		}
	}
	c.render(w, r, status, "purchase", s, "Purchase "+row.Purchase.ReferenceID, data, problem)
}
