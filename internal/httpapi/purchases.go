package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/ppob-orchestrator/orchestrator/internal/flow"
	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

// Listing limits (50 and 200 keep a page small and fast; docs/api.md).
const (
	defaultLimit = 50
	maxLimit     = 200
)

// referenceRe is docs/api.md's reference_id: what can exist can be looked up.
var referenceRe = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,100}$`)

// purchaseID reads the :id path parameter; a malformed id is not_found,
// exactly as a missing purchase.
func purchaseID(c echo.Context) (uuid.UUID, error) {
	id, err := uuid.Parse(c.Param("id"))
	if err != nil {
		return uuid.UUID{}, fmt.Errorf("purchase %q: %w", c.Param("id"), errNotFound)
	}
	return id, nil
}

// createPurchase is POST /v1/purchases.
func (a *api) createPurchase(c echo.Context) error {
	if err := requireJSON(c); err != nil {
		return err
	}
	body, err := readBody(c)
	if err != nil {
		return err
	}
	var req flow.CreateRequest
	if errs := decodeObject(body, createFields(&req)); len(errs) > 0 {
		if errs[0].Field != "body" {
			// List the other fields' problems too, in one answer.
			probe := req
			probe.Normalize()
			errs = mergeFieldErrors(errs, probe.ValidateFields())
		}
		return &flow.ValidationError{Fields: errs}
	}
	req.ClientID = clientOf(c).ID
	p, created, err := a.cfg.Flow.Create(c.Request().Context(), req)
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, "/v1/purchases/"+p.ID.String())
	if created {
		return a.purchaseJSON(c, http.StatusCreated, p)
	}
	return a.purchaseJSON(c, http.StatusOK, p)
}

// ownPurchase reads a purchase of the request's client; another client's
// is not_found.
func (a *api) ownPurchase(c echo.Context) (store.Purchase, error) {
	id, err := purchaseID(c)
	if err != nil {
		return store.Purchase{}, err
	}
	p, err := a.cfg.Flow.PurchaseOf(c.Request().Context(), clientOf(c).ID, id)
	if err != nil {
		return store.Purchase{}, err
	}
	return p, nil
}

// getPurchase is GET /v1/purchases/{id}.
func (a *api) getPurchase(c echo.Context) error {
	p, err := a.ownPurchase(c)
	if err != nil {
		return err
	}
	return a.purchaseJSON(c, http.StatusOK, p)
}

// purchaseList is a page of purchases, newest first. NextCursor is null on
// the last page.
type purchaseList struct {
	Data       []flow.PurchaseView `json:"data"`
	NextCursor *string             `json:"next_cursor"`
}

// listPurchases is GET /v1/purchases: by reference_id (exact), status and
// created_after, keyset-paginated with an opaque cursor.
func (a *api) listPurchases(c echo.Context) error {
	params := store.PurchaseListForClientParams{ClientID: clientOf(c).ID, RowLimit: defaultLimit + 1}
	var errs []flow.FieldError
	bad := func(field, msg string) { errs = append(errs, flow.FieldError{Field: field, Message: msg}) }
	qp := c.QueryParams()
	if v := qp.Get("reference_id"); v != "" {
		if !referenceRe.MatchString(v) {
			bad("reference_id", "must be 1-100 of A-Z a-z 0-9 . _ : -")
		}
		params.ReferenceID = &v
	}
	if v := qp.Get("status"); v != "" {
		st := store.PurchaseStatus(v)
		if !st.Valid() {
			bad("status", "must be one of received, inquiring, awaiting_confirmation, paying, processing, succeeded, failed, canceled, needs_review")
		}
		params.Status = &st
	}
	if v := qp.Get("created_after"); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			bad("created_after", "must be an RFC 3339 time, e.g. 2025-11-01T00:00:00Z")
		}
		params.CreatedAfter = &t
	}
	limit := defaultLimit
	if v := qp.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxLimit {
			bad("limit", fmt.Sprintf("must be a whole number from 1 to %d", maxLimit))
		}
		limit = n
	}
	if v := qp.Get("cursor"); v != "" {
		cur, err := parseCursor(v)
		if err != nil {
			bad("cursor", "is not a cursor this API gave out")
		}
		params.CursorCreatedAt, params.CursorID = &cur.CreatedAt, &cur.ID
	}
	if len(errs) > 0 {
		return &flow.ValidationError{Fields: errs}
	}
	params.RowLimit = int32(limit + 1) // one more: is there a next page?
	rows, err := a.cfg.Flow.Purchases(c.Request().Context(), params)
	if err != nil {
		return fmt.Errorf("list purchases: %w", err)
	}
	var out purchaseList
	if len(rows) > limit {
		last := rows[limit-1]
		s := cursor{CreatedAt: last.CreatedAt, ID: last.ID}.String()
		out.NextCursor = &s
		rows = rows[:limit]
	}
	if out.Data, err = a.cfg.Flow.Views(c.Request().Context(), rows...); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}

// listEvents is GET /v1/purchases/{id}/events: the audit timeline, oldest first.
func (a *api) listEvents(c echo.Context) error {
	p, err := a.ownPurchase(c)
	if err != nil {
		return err
	}
	events, err := a.cfg.Flow.Events(c.Request().Context(), p)
	if err != nil {
		return fmt.Errorf("list events of %s: %w", p.ID, err)
	}
	out := struct {
		Data []eventView `json:"data"`
	}{Data: make([]eventView, 0, len(events))}
	for _, e := range events {
		out.Data = append(out.Data, viewEvent(e))
	}
	return c.JSON(http.StatusOK, out)
}

// confirmPurchase is POST /v1/purchases/{id}/confirm.
func (a *api) confirmPurchase(c echo.Context) error {
	return a.act(c, a.cfg.Flow.Confirm)
}

// cancelPurchase is POST /v1/purchases/{id}/cancel.
func (a *api) cancelPurchase(c echo.Context) error {
	return a.act(c, a.cfg.Flow.Cancel)
}

// act runs a client's action on one of its purchases; a refusal names the
// purchase and its status.
func (a *api) act(c echo.Context, do func(ctx context.Context, clientID, id uuid.UUID) (store.Purchase, error)) error {
	id, err := purchaseID(c)
	if err != nil {
		return err
	}
	p, err := do(c.Request().Context(), clientOf(c).ID, id)
	if errors.Is(err, flow.ErrInvalidState) {
		return &stateError{Purchase: p, Err: err}
	}
	if err != nil {
		return err
	}
	return a.purchaseJSON(c, http.StatusOK, p)
}

// listProducts is GET /v1/products: the catalog, each product with the
// route a purchase would get now.
func (a *api) listProducts(c echo.Context) error {
	products, err := a.cfg.Flow.Catalog(c.Request().Context())
	if err != nil {
		return fmt.Errorf("list products: %w", err)
	}
	out := struct {
		Data []productView `json:"data"`
	}{Data: make([]productView, 0, len(products))}
	for _, p := range products {
		out.Data = append(out.Data, viewProduct(p))
	}
	return c.JSON(http.StatusOK, out)
}

// purchaseJSON answers p as clients see it (with its attempts).
func (a *api) purchaseJSON(c echo.Context, status int, p store.Purchase) error {
	v, err := a.cfg.Flow.View(c.Request().Context(), p)
	if err != nil {
		return err
	}
	return c.JSON(status, v)
}
