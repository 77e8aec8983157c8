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
//
// The callback's row is written once, with what was done with it: the
// purchase is matched, locked and the decision taken first, then the row
// is inserted (a duplicate inserts nothing, and the decision is dropped
// with the transaction's lock), then the callback's event and the decision
// are carried out. No update follows, so the row leaves no dead version
// behind (docs/performance.md#storage).
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
	err = inStep(ctx, s.apiPool, func(tx pgx.Tx, tl *timeline) error {
		var m callbackMatch
		switch {
		case parseErr != nil:
			action = CallbackUnreadable
		case rep.Reference == "":
			action = CallbackUnmatched
		default:
			if m, err = s.matchCallback(ctx, tx, provider, rep, authenticated); err != nil {
				return err
			}
			action = m.action
		}
		params := store.CallbackInsertParams{
			Provider: provider, BodySha256: sum[:], Body: truncate(string(body), 64<<10),
			Authenticated: authenticated, Reference: nonEmpty(rep.Reference), Outcome: nonEmpty(string(rep.Outcome)),
			Action: action, ReceivedAt: s.now(),
		}
		if m.matched {
			params.PurchaseID = &m.p.ID
		}
		cb, err := store.New(tx).CallbackInsert(ctx, params)
		if isNotFound(err) {
			action = CallbackDuplicate
			return nil
		}
		if err != nil {
			return fmt.Errorf("store callback: %w", err)
		}
		if !m.matched {
			return nil
		}
		return s.applyCallback(ctx, tx, tl, m, cb, rep, authenticated)
	})
	if err != nil {
		return "", err
	}
	s.metrics.CallbacksByKind.WithLabelValues(provider, action).Inc()
	return action, nil
}

// callbackMatch is a callback's purchase, locked, and what the callback
// does to it; matched is false when no purchase has its reference.
type callbackMatch struct {
	matched bool
	p       store.Purchase
	st      Step
	action  string
}

// matchCallback finds the purchase of a callback by OUR provider reference
// (of its current attempt, or of one it moved on from), locks it and
// decides what the callback does (afterCallback, afterAttemptCallback).
func (s *Service) matchCallback(ctx context.Context, tx pgx.Tx, provider string, rep providers.Status, authenticated bool) (callbackMatch, error) {
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
			return callbackMatch{action: CallbackUnmatched}, nil
		}
		if aerr != nil {
			return callbackMatch{}, aerr
		}
		ended, p.ID, err = &a, a.PurchaseID, nil
	}
	if err != nil {
		return callbackMatch{}, err
	}
	if p, err = q.PurchaseLock(ctx, p.ID); err != nil {
		return callbackMatch{}, err
	}
	st, action := afterCallback(p, rep, authenticated, s.now())
	if ended != nil {
		st, action = afterAttemptCallback(p, *ended, rep, authenticated, s.now())
	}
	return callbackMatch{matched: true, p: p, st: st, action: action}, nil
}

// applyCallback records a stored callback in its purchase's timeline (the
// event at the callback's own time: the same month's partition) and
// carries out what matchCallback decided.
func (s *Service) applyCallback(ctx context.Context, tx pgx.Tx, tl *timeline, m callbackMatch, cb store.Callback, rep providers.Status, authenticated bool) error {
	if err := tl.bind(m.p); err != nil {
		return err
	}
	tl.event(timelineEvent{
		kind: "callback", name: "callback: " + string(rep.Outcome), actor: "provider", callbackID: cb.ID,
		data: mustJSON(map[string]any{"authenticated": authenticated, "raw_status": rep.RawStatus}),
		at:   cb.ReceivedAt,
	})
	_, err := s.execute(ctx, tx, tl, m.p, m.st)
	return err
}
