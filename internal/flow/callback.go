package flow

import (
	"context"
	"crypto/sha256"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/ppob-orchestrator/orchestrator/internal/providers"
	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

// HandleCallback takes a provider callback as received: it stores the raw
// body once per provider and body hash, matches it to a purchase by OUR
// provider reference, and carries out what afterCallback decides — a
// signed report applied through the same compare-and-set transitions as a
// lookup's, a hint answered by a lookup. It returns what it did. Errors
// mean the callback could not be stored (the provider should retry).
func (s *Service) HandleCallback(ctx context.Context, provider string, body []byte, signature string) (string, error) {
	setup, err := s.provider(provider)
	if err != nil {
		return "", fmt.Errorf("callback: %w", ErrNotFound)
	}
	authenticated := setup.VerifyCallback != nil && signature != "" && setup.VerifyCallback(body, signature)
	rep, parseErr := setup.Client.ParseCallback(body)
	cleanStatus(&rep)
	sum := sha256.Sum256(body)

	action := ""
	err = pgx.BeginFunc(ctx, s.apiPool, func(tx pgx.Tx) error {
		q := store.New(tx)
		cb, err := q.CallbackInsert(ctx, store.CallbackInsertParams{
			Provider: provider, BodySha256: sum[:], Body: truncate(string(body), 64<<10),
			Authenticated: authenticated, Reference: nonEmpty(rep.Reference), ReceivedAt: s.now(),
		})
		if isNotFound(err) {
			action = CallbackDuplicate
			return nil
		}
		if err != nil {
			return fmt.Errorf("store callback: %w", err)
		}
		var p store.Purchase
		switch {
		case parseErr != nil:
			action = CallbackUnreadable
		case rep.Reference == "":
			action = CallbackUnmatched
		default:
			p, action, err = s.applyCallback(ctx, tx, provider, cb, rep, authenticated)
			if err != nil {
				return err
			}
		}
		params := store.CallbackSetActionParams{ID: cb.ID, ReceivedAt: cb.ReceivedAt, Action: action, Outcome: nonEmpty(string(rep.Outcome))}
		if p.ID != [16]byte{} {
			params.PurchaseID = &p.ID
		}
		return q.CallbackSetAction(ctx, params)
	})
	if err != nil {
		return "", err
	}
	s.metrics.CallbacksByKind.WithLabelValues(provider, action).Inc()
	return action, nil
}

// applyCallback matches a stored callback to its purchase, locks it,
// records the callback in its timeline (the event at the callback's own
// time: the same month's partition) and carries out afterCallback.
func (s *Service) applyCallback(ctx context.Context, tx pgx.Tx, provider string, cb store.Callback, rep providers.Status, authenticated bool) (store.Purchase, string, error) {
	q := store.New(tx)
	p, err := q.PurchaseGetByProviderReference(ctx, store.PurchaseGetByProviderReferenceParams{
		Provider: provider, ProviderReference: &rep.Reference,
	})
	var ended *store.PurchaseAttempt
	if isNotFound(err) {
		// Not the current attempt's reference: perhaps one the purchase
		// moved on from (docs/routing.md): such a report is never ignored.
		a, aerr := q.PurchaseAttemptGetByReference(ctx, store.PurchaseAttemptGetByReferenceParams{Provider: provider, ProviderReference: &rep.Reference})
		if isNotFound(aerr) {
			return p, CallbackUnmatched, nil
		}
		if aerr != nil {
			return p, "", aerr
		}
		ended, p.ID, err = &a, a.PurchaseID, nil
	}
	if err != nil {
		return p, "", err
	}
	if p, err = q.PurchaseLock(ctx, p.ID); err != nil {
		return p, "", err
	}
	if _, err := q.EventInsert(ctx, store.EventInsertParams{
		PurchaseID: p.ID, PurchaseCreated: p.CreatedAt, Kind: "callback", Name: "callback: " + string(rep.Outcome), Actor: "provider",
		CallbackID: &cb.ID,
		Data:       mustJSON(map[string]any{"authenticated": authenticated, "raw_status": rep.RawStatus}),
		CreatedAt:  cb.ReceivedAt,
	}); err != nil {
		return p, "", err
	}
	st, action := afterCallback(p, rep, authenticated, s.now())
	if ended != nil {
		st, action = afterAttemptCallback(p, *ended, rep, authenticated, s.now())
	}
	if p, err = s.execute(ctx, tx, p, st); err != nil {
		return p, "", err
	}
	return p, action, nil
}
