package webhook

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/ppob-orchestrator/orchestrator/internal/flow"
	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

// Limits of an endpoint's fields (docs/webhooks.md).
const (
	maxURL         = 2000
	maxDescription = 500
	secretOverlap  = 24 * time.Hour // a rotated secret signs this long beside the new one
)

// Endpoint is a webhook endpoint as its client sees it: never its secret.
type Endpoint struct {
	ID          uuid.UUID `json:"id"`
	URL         string    `json:"url"`
	Description string    `json:"description"`
	Events      []string  `json:"events"`
	Disabled    bool      `json:"disabled"`
	// DisabledReason is client (the client disabled it), gone (it answered
	// 410) or failing (every attempt failed for 5 days); nil when enabled.
	DisabledReason *string `json:"disabled_reason"`
	CreatedAt      string  `json:"created_at"`
	UpdatedAt      string  `json:"updated_at"`
}

func viewEndpoint(e store.WebhookEndpoint) Endpoint {
	return Endpoint{ID: e.ID, URL: e.Url, Description: e.Description, Events: e.Events,
		Disabled: e.DisabledAt != nil, DisabledReason: e.DisabledReason,
		CreatedAt: flow.RFC3339(e.CreatedAt), UpdatedAt: flow.RFC3339(e.UpdatedAt)}
}

// EndpointInput is a create or update request; nil fields are absent (on
// update: unchanged). Disabled applies to updates only.
type EndpointInput struct {
	URL         *string
	Events      []string // nil: absent
	Description *string
	Disabled    *bool
}

// Validate returns the complaints about an endpoint request (create or
// update), each naming its field; none when it is valid.
func (s *Service) Validate(in EndpointInput, create bool) []flow.FieldError {
	var errs []flow.FieldError
	bad := func(field, msg string) { errs = append(errs, flow.FieldError{Field: field, Message: msg}) }
	if in.URL == nil {
		if create {
			bad("url", "is required")
		}
	} else if msg := s.checkURL(*in.URL); msg != "" {
		bad("url", msg)
	}
	if in.Events != nil {
		if msg := checkEvents(in.Events); msg != "" {
			bad("events", msg)
		}
	}
	if in.Description != nil && utf8.RuneCountInString(*in.Description) > maxDescription {
		bad("description", fmt.Sprintf("must be at most %d characters", maxDescription))
	}
	if in.Disabled != nil && create {
		bad("disabled", "can only be set on an existing endpoint (PATCH)")
	}
	return errs
}

// checkURL returns what is wrong with an endpoint URL, or "".
func (s *Service) checkURL(raw string) string {
	if len(raw) > maxURL {
		return fmt.Sprintf("must be at most %d characters", maxURL)
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "" {
		return "must be an absolute URL like https://shop.example/hooks/ppob"
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && s.cfg.AllowInsecure:
	case u.Scheme == "http":
		return "must use https (plain http only with WEBHOOK_ALLOW_INSECURE=true)"
	default:
		return "must use https"
	}
	if u.User != nil {
		return "must not contain a user name or password"
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return "must not have a fragment (#…)"
	}
	if a, err := netip.ParseAddr(strings.Trim(u.Hostname(), "[]")); err == nil && !s.cfg.AllowPrivate {
		if kind := judge(a); kind != "" {
			return fmt.Sprintf("must not point at a %s address", kind)
		}
	}
	return ""
}

// checkEvents returns what is wrong with an events list, or "".
func checkEvents(events []string) string {
	known := flow.MessageTypes()
	if len(events) == 0 {
		return "must list at least one event type (omit it for all): " + strings.Join(known, ", ")
	}
	seen := map[string]bool{}
	for _, e := range events {
		if !slices.Contains(known, e) {
			return fmt.Sprintf("%q is not an event type; one of %s", e, strings.Join(known, ", "))
		}
		if seen[e] {
			return fmt.Sprintf("lists %q twice", e)
		}
		seen[e] = true
	}
	return ""
}

// CreateEndpoint creates an endpoint for the client and returns it with its
// secret, which is shown this once. Errors: *flow.ValidationError,
// ErrTooManyEndpoints, ErrNotConfigured.
func (s *Service) CreateEndpoint(ctx context.Context, clientID uuid.UUID, in EndpointInput) (Endpoint, string, error) {
	if errs := s.Validate(in, true); len(errs) > 0 {
		return Endpoint{}, "", &flow.ValidationError{Fields: errs}
	}
	if s.sealer == nil {
		return Endpoint{}, "", ErrNotConfigured
	}
	events := in.Events
	if events == nil {
		events = flow.MessageTypes()
	}
	id := uuid.New()
	sealed, secret, err := s.newSealedSecret(id)
	if err != nil {
		return Endpoint{}, "", err
	}
	var row store.WebhookEndpoint
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		q := store.New(tx)
		if err := q.WebhookEndpointClientLock(ctx, clientID.String()); err != nil {
			return err
		}
		n, err := q.WebhookEndpointCountForClient(ctx, clientID)
		if err != nil {
			return err
		}
		if n >= MaxEndpoints {
			return ErrTooManyEndpoints
		}
		now := s.now()
		if row, err = q.WebhookEndpointInsert(ctx, store.WebhookEndpointInsertParams{
			ID: id, ClientID: clientID, Url: *in.URL, Description: deref(in.Description), Events: events, Now: now,
		}); err != nil {
			return err
		}
		return q.WebhookSecretInsert(ctx, store.WebhookSecretInsertParams{EndpointID: id, Sealed: sealed, Now: now})
	})
	if err != nil {
		return Endpoint{}, "", fmt.Errorf("create webhook endpoint for client %s: %w", clientID, err)
	}
	s.log.Info("webhook endpoint created", "endpoint_id", id, "client_id", clientID)
	return viewEndpoint(row), secret, nil
}

// ListEndpoints returns the client's endpoints, oldest first.
func (s *Service) ListEndpoints(ctx context.Context, clientID uuid.UUID) ([]Endpoint, error) {
	rows, err := s.q.WebhookEndpointListForClient(ctx, clientID)
	if err != nil {
		return nil, fmt.Errorf("list webhook endpoints of client %s: %w", clientID, err)
	}
	out := make([]Endpoint, len(rows))
	for i, r := range rows {
		out[i] = viewEndpoint(r)
	}
	return out, nil
}

// GetEndpoint returns one of the client's endpoints (ErrNotFound for
// another client's or a deleted one).
func (s *Service) GetEndpoint(ctx context.Context, clientID, id uuid.UUID) (Endpoint, error) {
	row, err := s.q.WebhookEndpointGetForClient(ctx, store.WebhookEndpointGetForClientParams{ID: id, ClientID: clientID})
	if err != nil {
		return Endpoint{}, notFound(err, "webhook endpoint", id)
	}
	return viewEndpoint(row), nil
}

// UpdateEndpoint changes the fields in sets. Disabling cancels the
// endpoint's pending deliveries; enabling starts its failure clock afresh.
func (s *Service) UpdateEndpoint(ctx context.Context, clientID, id uuid.UUID, in EndpointInput) (Endpoint, error) {
	if errs := s.Validate(in, false); len(errs) > 0 {
		return Endpoint{}, &flow.ValidationError{Fields: errs}
	}
	var row store.WebhookEndpoint
	var canceled int64
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		q := store.New(tx)
		cur, err := q.WebhookEndpointLockForClient(ctx, store.WebhookEndpointLockForClientParams{ID: id, ClientID: clientID})
		if err != nil {
			return notFound(err, "webhook endpoint", id)
		}
		now := s.now()
		p := store.WebhookEndpointUpdateParams{ID: id, Url: cur.Url, Description: cur.Description, Events: cur.Events,
			DisabledAt: cur.DisabledAt, DisabledReason: cur.DisabledReason, FailingSince: cur.FailingSince, Now: now}
		if in.URL != nil {
			p.Url = *in.URL
		}
		if in.Description != nil {
			p.Description = *in.Description
		}
		if in.Events != nil {
			p.Events = in.Events
		}
		disabling := false
		if in.Disabled != nil {
			switch {
			case *in.Disabled && cur.DisabledAt == nil:
				p.DisabledAt, p.DisabledReason, disabling = &now, ptr("client"), true
			case !*in.Disabled && cur.DisabledAt != nil:
				p.DisabledAt, p.DisabledReason, p.FailingSince = nil, nil, nil
			}
		}
		if row, err = q.WebhookEndpointUpdate(ctx, p); err != nil {
			return err
		}
		if disabling {
			return cancelPending(ctx, q, id, now, &canceled)
		}
		return nil
	})
	if err != nil {
		return Endpoint{}, fmt.Errorf("update webhook endpoint %s: %w", id, err)
	}
	s.metrics.Deliveries.WithLabelValues("canceled").Add(float64(canceled))
	return viewEndpoint(row), nil
}

// DeleteEndpoint deletes an endpoint: its secrets are erased, its pending
// deliveries canceled; its finished deliveries stay listed until retention
// removes them.
func (s *Service) DeleteEndpoint(ctx context.Context, clientID, id uuid.UUID) error {
	var canceled int64
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		q := store.New(tx)
		if _, err := q.WebhookEndpointLockForClient(ctx, store.WebhookEndpointLockForClientParams{ID: id, ClientID: clientID}); err != nil {
			return notFound(err, "webhook endpoint", id)
		}
		now := s.now()
		if err := q.WebhookEndpointDelete(ctx, store.WebhookEndpointDeleteParams{ID: id, Now: &now}); err != nil {
			return err
		}
		if err := q.WebhookSecretDeleteForEndpoint(ctx, id); err != nil {
			return err
		}
		return cancelPending(ctx, q, id, now, &canceled)
	})
	if err != nil {
		return fmt.Errorf("delete webhook endpoint %s: %w", id, err)
	}
	s.metrics.Deliveries.WithLabelValues("canceled").Add(float64(canceled))
	s.log.Info("webhook endpoint deleted", "endpoint_id", id, "client_id", clientID)
	return nil
}

// RotateSecret gives the endpoint a new secret and returns it (shown this
// once). The previous ones keep signing beside it for 24 hours (at most
// three signatures in all), then they are erased.
func (s *Service) RotateSecret(ctx context.Context, clientID, id uuid.UUID) (Endpoint, string, error) {
	if s.sealer == nil {
		return Endpoint{}, "", ErrNotConfigured
	}
	sealed, secret, err := s.newSealedSecret(id)
	if err != nil {
		return Endpoint{}, "", err
	}
	var row store.WebhookEndpoint
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		q := store.New(tx)
		if row, err = q.WebhookEndpointLockForClient(ctx, store.WebhookEndpointLockForClientParams{ID: id, ClientID: clientID}); err != nil {
			return notFound(err, "webhook endpoint", id)
		}
		now := s.now()
		if err := q.WebhookSecretSupersede(ctx, store.WebhookSecretSupersedeParams{EndpointID: id, Now: &now}); err != nil {
			return err
		}
		if err := q.WebhookSecretInsert(ctx, store.WebhookSecretInsertParams{EndpointID: id, Sealed: sealed, Now: now}); err != nil {
			return err
		}
		cutoff := now.Add(-secretOverlap)
		return q.WebhookSecretPrune(ctx, store.WebhookSecretPruneParams{EndpointID: id, Cutoff: &cutoff})
	})
	if err != nil {
		return Endpoint{}, "", fmt.Errorf("rotate secret of webhook endpoint %s: %w", id, err)
	}
	s.log.Info("webhook secret rotated", "endpoint_id", id, "client_id", clientID)
	return viewEndpoint(row), secret, nil
}

// newSealedSecret makes a secret for the endpoint: sealed to store, and as
// the client is shown it.
func (s *Service) newSealedSecret(endpoint uuid.UUID) ([]byte, string, error) {
	key, secret, err := newSecret()
	if err != nil {
		return nil, "", err
	}
	sealed, err := s.sealer.seal(endpoint, key)
	return sealed, secret, err
}

// cancelPending ends every pending delivery of an endpoint canceled, and
// adds how many to *canceled (counted once the transaction commits).
func cancelPending(ctx context.Context, q *store.Queries, endpoint uuid.UUID, now time.Time, canceled *int64) error {
	n, err := q.WebhookMessageCancelForEndpoint(ctx, store.WebhookMessageCancelForEndpointParams{EndpointID: endpoint, Now: &now})
	if err != nil {
		return fmt.Errorf("cancel deliveries of endpoint %s: %w", endpoint, err)
	}
	*canceled += n
	return nil
}

// notFound translates "no rows" into ErrNotFound, naming what was looked for.
func notFound(err error, what string, id uuid.UUID) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%s %s: %w", what, id, ErrNotFound)
	}
	return err
}

func ptr[T any](v T) *T { return &v }

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
