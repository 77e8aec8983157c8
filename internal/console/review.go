package console

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/google/uuid"

	"github.com/ppob-orchestrator/orchestrator/internal/flow"
	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

// reviewQueueSize bounds the queue shown; answersShown is how many of each
// purchase's last provider answers it lists.
const (
	reviewQueueSize = 100
	answersShown    = 3
)

// resolveForm is an operator's resolve, as typed; Problem says why it was
// refused.
type resolveForm struct {
	Status, SerialNumber, Note string
	Force                      bool
	Problem                    string
}

// reviewItem is one purchase of the queue with its resolve form.
type reviewItem struct {
	ID      uuid.UUID
	Row     store.PurchaseReviewQueueRow
	Answers []store.ProviderCallLastAnswersRow
	Form    resolveForm
	Back    string // where the form returns: "review" or "purchase"
	CSRF    string // the session's token, for the form
}

// reviewData is the Needs review page.
type reviewData struct {
	Items    []reviewItem
	Resolved string // the purchase just resolved, and how
}

// review is GET /console/review: the needs_review queue, oldest first, each
// with its last provider answers and a resolve form.
func (c *Console) review(w http.ResponseWriter, r *http.Request, s *session) {
	done := ""
	if id, err := uuid.Parse(r.URL.Query().Get("resolved")); err == nil {
		if as := r.URL.Query().Get("as"); as == "succeeded" || as == "failed" {
			done = fmt.Sprintf("Purchase %s resolved as %s.", id, as)
		}
	}
	c.showReview(w, r, s, http.StatusOK, uuid.Nil, nil, done)
}

// showReview renders the queue; form is the refused input of purchase
// failed, shown again with its reason.
func (c *Console) showReview(w http.ResponseWriter, r *http.Request, s *session, status int, failed uuid.UUID, form *resolveForm, done string) {
	ctx := r.Context()
	rows, err := c.q.PurchaseReviewQueue(ctx, reviewQueueSize)
	if err != nil {
		c.internal(w, r, s, fmt.Errorf("read the review queue: %w", err))
		return
	}
	ids := make([]uuid.UUID, len(rows))
	for i, row := range rows {
		ids[i] = row.PurchaseID
	}
	answers, err := c.q.ProviderCallLastAnswers(ctx, store.ProviderCallLastAnswersParams{Ids: ids, PerPurchase: answersShown})
	if err != nil {
		c.internal(w, r, s, fmt.Errorf("read the queue's provider answers: %w", err))
		return
	}
	byPurchase := map[uuid.UUID][]store.ProviderCallLastAnswersRow{}
	for _, a := range answers {
		byPurchase[a.PurchaseID] = append(byPurchase[a.PurchaseID], a)
	}
	data := reviewData{Resolved: done}
	problem := ""
	for _, row := range rows {
		it := reviewItem{ID: row.PurchaseID, Row: row, Answers: byPurchase[row.PurchaseID], Back: "review", CSRF: s.CSRF}
		if form != nil && row.PurchaseID == failed {
			it.Form = *form
			problem = fmt.Sprintf("Purchase %s was not resolved: %s", row.ReferenceID, form.Problem)
		}
		data.Items = append(data.Items, it)
	}
	if form != nil && problem == "" {
		// It left the queue meanwhile (a provider's report settled it).
		problem = fmt.Sprintf("Purchase %s was not resolved: %s", failed, form.Problem)
	}
	c.render(w, r, status, "review", s, "Needs review", data, problem)
}

// resolve is POST /console/purchases/{id}/resolve: an operator's decision,
// applied by flow.Service.Resolve under docs/flow.md's rules (a fresh lookup
// first) and audited with the operator's name. A refusal shows its reason
// on the page the form came from.
func (c *Console) resolve(w http.ResponseWriter, r *http.Request, s *session) {
	id, err := uuid.Parse(r.PathValue("id"))
	if err != nil {
		c.fail(w, r, s, http.StatusNotFound, "id: must be a purchase id (a UUID).")
		return
	}
	form := resolveForm{
		Status: r.PostFormValue("status"), SerialNumber: strings.TrimSpace(r.PostFormValue("serial_number")),
		Note: strings.TrimSpace(r.PostFormValue("note")), Force: r.PostFormValue("force") == "on",
	}
	back := r.PostFormValue("back")
	_, err = c.cfg.Flow.Resolve(r.Context(), id, flow.ResolveRequest{
		Status: flow.Status(form.Status), Note: form.Note, SerialNumber: form.SerialNumber, Force: form.Force,
		Operator: s.Operator,
	})
	status := http.StatusOK
	var verr *flow.ValidationError
	switch {
	case err == nil:
		c.log.InfoContext(r.Context(), "console: purchase resolved", "purchase_id", id, "operator", s.Operator, "status", form.Status)
		target := "/console/review?" + url.Values{"resolved": {id.String()}, "as": {form.Status}}.Encode()
		if back == "purchase" {
			target = "/console/purchases/" + id.String()
		}
		http.Redirect(w, r, target, http.StatusSeeOther)
		return
	case errors.As(err, &verr):
		status = http.StatusUnprocessableEntity
		msgs := make([]string, len(verr.Fields))
		for i, f := range verr.Fields {
			msgs[i] = f.Field + ": " + f.Message
		}
		form.Problem = strings.Join(msgs, "; ")
	case errors.Is(err, flow.ErrInvalidState), errors.Is(err, flow.ErrConflict):
		status = http.StatusConflict
		form.Problem = strings.TrimPrefix(err.Error(), flow.ErrInvalidState.Error()+": ")
	case errors.Is(err, flow.ErrNotFound):
		c.fail(w, r, s, http.StatusNotFound, fmt.Sprintf("No purchase has the id %s.", id))
		return
	default:
		c.internal(w, r, s, fmt.Errorf("resolve purchase %s: %w", id, err))
		return
	}
	c.log.InfoContext(r.Context(), "console: resolve refused", "purchase_id", id, "operator", s.Operator, "reason", form.Problem)
	if back == "purchase" {
		c.showPurchase(w, r, s, id, status, &form, "")
		return
	}
	c.showReview(w, r, s, status, id, &form, "")
}
