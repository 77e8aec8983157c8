package flow

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/ppob-orchestrator/orchestrator/internal/providers"
	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

// Callback actions, as stored in callbacks.action and counted in metrics.
const (
	CallbackDuplicate       = "duplicate"        // same provider and body seen before
	CallbackUnreadable      = "unreadable"       // stored, but not a callback we can parse
	CallbackUnmatched       = "unmatched"        // no purchase has that provider reference
	CallbackApplied         = "applied"          // authenticated, moved the purchase
	CallbackIgnored         = "ignored"          // authenticated, nothing to change (pending, stale, same result)
	CallbackLookupTriggered = "lookup_triggered" // a hint: a lookup was queued
	CallbackContradiction   = "contradiction"    // contradicts a terminal purchase: recorded, alerted, not applied
)

// HandleCallback takes a provider callback as received: it stores the raw
// body once per provider and body hash, matches it to a purchase by OUR
// provider reference, and applies it through the same compare-and-set
// transitions as lookups — when authenticated (a verifying signature);
// otherwise it only queues an immediate lookup. It returns what it did.
// Errors mean the callback could not be stored (the provider should retry).
func (s *Service) HandleCallback(ctx context.Context, provider string, body []byte, signature string) (string, error) {
	prov, _, err := s.provider(provider)
	if err != nil {
		return "", fmt.Errorf("callback: %w", ErrNotFound)
	}
	verify := s.cfg.CallbackVerifiers[provider]
	authenticated := verify != nil && signature != "" && verify(body, signature)
	st, parseErr := prov.ParseCallback(body)
	sum := sha256.Sum256(body)

	action := ""
	err = pgx.BeginFunc(ctx, s.apiPool, func(tx pgx.Tx) error {
		q := store.New(tx)
		cb, err := q.CallbackInsert(ctx, store.CallbackInsertParams{
			Provider: provider, BodySha256: sum[:], Body: truncate(string(body), 64<<10),
			Authenticated: authenticated, Reference: nonEmpty(st.Reference), ReceivedAt: s.now(),
		})
		if errors.Is(err, pgx.ErrNoRows) {
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
		case st.Reference == "":
			action = CallbackUnmatched
		default:
			p, err = q.PurchaseGetByProviderReference(ctx, store.PurchaseGetByProviderReferenceParams{
				Provider: provider, ProviderReference: &st.Reference,
			})
			if errors.Is(err, pgx.ErrNoRows) {
				action = CallbackUnmatched
				break
			}
			if err != nil {
				return err
			}
			if p, err = q.PurchaseLock(ctx, p.ID); err != nil {
				return err
			}
			if action, err = s.applyCallback(ctx, tx, p, st, authenticated, cb.ID); err != nil {
				return err
			}
		}
		params := store.CallbackSetActionParams{ID: cb.ID, Action: action, Outcome: nonEmpty(string(st.Outcome))}
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

func (s *Service) applyCallback(ctx context.Context, tx pgx.Tx, p store.Purchase, st providers.Status, authenticated bool, callbackID int64) (string, error) {
	if _, err := store.New(tx).EventInsert(ctx, store.EventInsertParams{
		PurchaseID: p.ID, Kind: "callback", Name: "callback: " + string(st.Outcome), Actor: "provider",
		CallbackID: &callbackID,
		Data:       mustJSON(map[string]any{"authenticated": authenticated, "raw_status": st.RawStatus}),
		CreatedAt:  s.now(),
	}); err != nil {
		return "", err
	}
	status := Status(p.Status)
	if status.Terminal() {
		contradicted, err := s.contradiction(ctx, tx, p, st, "callback")
		if err != nil || !contradicted {
			return CallbackIgnored, err
		}
		return CallbackContradiction, nil
	}
	paid := status == StatusPaying || status == StatusProcessing || status == StatusNeedsReview
	if !paid {
		// No payment call was ever made for it: nothing a provider says applies.
		return CallbackIgnored, nil
	}
	if !authenticated {
		// A hint: look up now; the answer applies only if it carries our
		// reference, product and amount.
		once := lookupFor(&p)
		once.Once = true
		if err := s.insertAfter(ctx, tx, once, 0); err != nil {
			return "", err
		}
		return CallbackLookupTriggered, nil
	}
	switch st.Outcome {
	case providers.Succeeded:
		_, completed, err := s.succeed(ctx, tx, p, st, "signed callback")
		if err != nil || !completed {
			// Not completed: a token product without its token waits (invariant 11).
			return CallbackIgnored, err
		}
		return CallbackApplied, nil
	case providers.Failed:
		if status == StatusPaying && p.PaymentInFlight {
			// The call is still in flight; its job records the answer and
			// lookups confirm the failure.
			return CallbackIgnored, nil
		}
		_, err := s.apply(ctx, tx, p, change{event: EventFail, data: map[string]any{"via": "signed callback"},
			mutate: func(x *store.Purchase) {
				x.FailureCode = ptr(string(providers.ReasonTransactionFailed))
				x.FailureMessage = ptr("the provider's signed callback reports the transaction failed")
			}})
		if err != nil {
			return "", err
		}
		return CallbackApplied, nil
	case providers.Refunded:
		return CallbackIgnored, s.alert(ctx, tx, "refund_before_success", p.Provider, &p,
			"a signed callback reports a refund for a purchase never confirmed as succeeded", nil)
	default:
		return CallbackIgnored, nil
	}
}
