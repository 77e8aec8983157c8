package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/ppob-orchestrator/orchestrator/internal/flow"
	"github.com/ppob-orchestrator/orchestrator/internal/webhook"
)

// The client API of webhooks (docs/webhooks.md): the handlers read the
// request, the webhook package does the rest.

var errWebhooksNotWired = errors.New("httpapi: Config.Webhooks is required for this route")

// webhooks returns the webhook service, or an internal error when it was
// not given.
func (a *api) webhooks() (*webhook.Service, error) {
	if a.cfg.Webhooks == nil {
		return nil, errWebhooksNotWired
	}
	return a.cfg.Webhooks, nil
}

// endpointID reads the :id of an endpoint route; a malformed id is
// not_found, exactly as a missing endpoint.
func endpointID(c echo.Context) (uuid.UUID, error) {
	id, err := uuid.Parse(c.Param("id"))
	if err != nil {
		return uuid.UUID{}, fmt.Errorf("webhook endpoint %q: %w", c.Param("id"), errNotFound)
	}
	return id, nil
}

// deliveryID reads the :id of a delivery route: its webhook-id (msg_…).
func deliveryID(c echo.Context) (uuid.UUID, error) {
	id, ok := webhook.ParseWebhookID(c.Param("id"))
	if !ok {
		return uuid.UUID{}, fmt.Errorf("webhook delivery %q: %w", c.Param("id"), errNotFound)
	}
	return id, nil
}

// routeOf returns the webhook service and the route's id read by parse
// (endpointID or deliveryID).
func (a *api) routeOf(c echo.Context, parse func(echo.Context) (uuid.UUID, error)) (*webhook.Service, uuid.UUID, error) {
	w, err := a.webhooks()
	if err != nil {
		return nil, uuid.UUID{}, err
	}
	id, err := parse(c)
	return w, id, err
}

// optText decodes a string member into a pointer (set even when empty);
// null is absent.
func optText(dst **string) fieldDecoder {
	return func(raw json.RawMessage) string {
		if isNull(raw) {
			return ""
		}
		var v string
		if msg := text(&v)(raw); msg != "" {
			return msg
		}
		*dst = &v
		return ""
	}
}

// optBool decodes true or false into a pointer; null is absent.
func optBool(dst **bool) fieldDecoder {
	return func(raw json.RawMessage) string {
		if isNull(raw) {
			return ""
		}
		var v bool
		if err := json.Unmarshal(raw, &v); err != nil {
			return "must be true or false"
		}
		*dst = &v
		return ""
	}
}

// stringList decodes an array of strings (never nil once present); null is
// absent.
func stringList(dst *[]string) fieldDecoder {
	return func(raw json.RawMessage) string {
		if isNull(raw) {
			return ""
		}
		v := []string{}
		if err := json.Unmarshal(raw, &v); err != nil {
			return "must be an array of strings"
		}
		*dst = v
		return ""
	}
}

// endpointFields decodes an endpoint request; disabled only on update.
func endpointFields(in *webhook.EndpointInput, update bool) map[string]fieldDecoder {
	f := map[string]fieldDecoder{
		"url":         optText(&in.URL),
		"events":      stringList(&in.Events),
		"description": optText(&in.Description),
	}
	if update {
		f["disabled"] = optBool(&in.Disabled)
	}
	return f
}

// readEndpoint reads and validates an endpoint request body.
func readEndpoint(c echo.Context, w *webhook.Service, update bool) (webhook.EndpointInput, error) {
	var in webhook.EndpointInput
	if err := requireJSON(c); err != nil {
		return in, err
	}
	body, err := readBody(c)
	if err != nil {
		return in, err
	}
	if errs := decodeObject(body, endpointFields(&in, update)); len(errs) > 0 {
		if errs[0].Field != "body" {
			errs = mergeFieldErrors(errs, &flow.ValidationError{Fields: w.Validate(in, !update)})
		}
		return in, &flow.ValidationError{Fields: errs}
	}
	return in, nil
}

// endpointWithSecret is an endpoint with its secret: the answer of creation
// and rotation, the only ones that show it.
type endpointWithSecret struct {
	webhook.Endpoint
	Secret string `json:"secret"`
}

// createEndpoint is POST /v1/webhook_endpoints.
func (a *api) createEndpoint(c echo.Context) error {
	w, err := a.webhooks()
	if err != nil {
		return err
	}
	in, err := readEndpoint(c, w, false)
	if err != nil {
		return err
	}
	ep, secret, err := w.CreateEndpoint(c.Request().Context(), clientOf(c).ID, in)
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, "/v1/webhook_endpoints/"+ep.ID.String())
	return c.JSON(http.StatusCreated, endpointWithSecret{ep, secret})
}

// listEndpoints is GET /v1/webhook_endpoints.
func (a *api) listEndpoints(c echo.Context) error {
	w, err := a.webhooks()
	if err != nil {
		return err
	}
	eps, err := w.ListEndpoints(c.Request().Context(), clientOf(c).ID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, struct {
		Data []webhook.Endpoint `json:"data"`
	}{eps})
}

// getEndpoint is GET /v1/webhook_endpoints/{id}.
func (a *api) getEndpoint(c echo.Context) error {
	w, id, err := a.routeOf(c, endpointID)
	if err != nil {
		return err
	}
	ep, err := w.GetEndpoint(c.Request().Context(), clientOf(c).ID, id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, ep)
}

// updateEndpoint is PATCH /v1/webhook_endpoints/{id}.
func (a *api) updateEndpoint(c echo.Context) error {
	w, id, err := a.routeOf(c, endpointID)
	if err != nil {
		return err
	}
	in, err := readEndpoint(c, w, true)
	if err != nil {
		return err
	}
	ep, err := w.UpdateEndpoint(c.Request().Context(), clientOf(c).ID, id, in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, ep)
}

// deleteEndpoint is DELETE /v1/webhook_endpoints/{id}.
func (a *api) deleteEndpoint(c echo.Context) error {
	w, id, err := a.routeOf(c, endpointID)
	if err != nil {
		return err
	}
	if err := w.DeleteEndpoint(c.Request().Context(), clientOf(c).ID, id); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// rotateSecret is POST /v1/webhook_endpoints/{id}/rotate_secret.
func (a *api) rotateSecret(c echo.Context) error {
	w, id, err := a.routeOf(c, endpointID)
	if err != nil {
		return err
	}
	ep, secret, err := w.RotateSecret(c.Request().Context(), clientOf(c).ID, id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, endpointWithSecret{ep, secret})
}

// recoverEndpoint is POST /v1/webhook_endpoints/{id}/recover {"since": …}.
func (a *api) recoverEndpoint(c echo.Context) error {
	w, id, err := a.routeOf(c, endpointID)
	if err != nil {
		return err
	}
	if err := requireJSON(c); err != nil {
		return err
	}
	body, err := readBody(c)
	if err != nil {
		return err
	}
	var since string
	errs := decodeObject(body, map[string]fieldDecoder{"since": text(&since)})
	var t time.Time
	if len(errs) == 0 {
		if since == "" {
			errs = append(errs, flow.FieldError{Field: "since", Message: "is required: an RFC 3339 time"})
		} else if t, err = time.Parse(time.RFC3339Nano, since); err != nil {
			errs = append(errs, flow.FieldError{Field: "since", Message: "must be an RFC 3339 time, e.g. 2025-11-01T00:00:00Z"})
		}
	}
	if len(errs) > 0 {
		return &flow.ValidationError{Fields: errs}
	}
	n, err := w.Recover(c.Request().Context(), clientOf(c).ID, id, t)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, map[string]int{"requeued": n})
}

// deliveryList is a page of deliveries, newest first.
type deliveryList struct {
	Data       []webhook.Delivery `json:"data"`
	NextCursor *string            `json:"next_cursor"`
}

// listDeliveries is GET /v1/webhook_deliveries?endpoint_id=&status=&purchase_id=&limit=&cursor=.
func (a *api) listDeliveries(c echo.Context) error {
	w, err := a.webhooks()
	if err != nil {
		return err
	}
	f := webhook.DeliveryFilter{Limit: defaultLimit}
	var errs []flow.FieldError
	bad := func(field, msg string) { errs = append(errs, flow.FieldError{Field: field, Message: msg}) }
	qp := c.QueryParams()
	for _, p := range []struct {
		name string
		dst  **uuid.UUID
	}{{"endpoint_id", &f.EndpointID}, {"purchase_id", &f.PurchaseID}} {
		if v := qp.Get(p.name); v != "" {
			id, err := uuid.Parse(v)
			if err != nil {
				bad(p.name, "must be a UUID")
			}
			*p.dst = &id
		}
	}
	if v := qp.Get("status"); v != "" {
		if !slices.Contains(webhook.DeliveryStatuses, v) {
			bad("status", "must be one of "+strings.Join(webhook.DeliveryStatuses, ", "))
		}
		f.Status = &v
	}
	if v := qp.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxLimit {
			bad("limit", fmt.Sprintf("must be a whole number from 1 to %d", maxLimit))
		}
		f.Limit = n
	}
	if v := qp.Get("cursor"); v != "" {
		cur, err := parseCursor(v)
		if err != nil {
			bad("cursor", "is not a cursor this API gave out")
		}
		f.After = &webhook.Position{CreatedAt: cur.CreatedAt, ID: cur.ID}
	}
	if len(errs) > 0 {
		return &flow.ValidationError{Fields: errs}
	}
	page, next, err := w.ListDeliveries(c.Request().Context(), clientOf(c).ID, f)
	if err != nil {
		return err
	}
	out := deliveryList{Data: page}
	if next != nil {
		s := cursor{CreatedAt: next.CreatedAt, ID: next.ID}.String()
		out.NextCursor = &s
	}
	return c.JSON(http.StatusOK, out)
}

// getDelivery is GET /v1/webhook_deliveries/{id}.
func (a *api) getDelivery(c echo.Context) error {
	w, id, err := a.routeOf(c, deliveryID)
	if err != nil {
		return err
	}
	d, err := w.GetDelivery(c.Request().Context(), clientOf(c).ID, id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, d)
}

// retryDelivery is POST /v1/webhook_deliveries/{id}/retry.
func (a *api) retryDelivery(c echo.Context) error {
	w, id, err := a.routeOf(c, deliveryID)
	if err != nil {
		return err
	}
	d, err := w.RetryDelivery(c.Request().Context(), clientOf(c).ID, id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, d)
}
