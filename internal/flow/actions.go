package flow

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/ppob-orchestrator/orchestrator/internal/providers"
	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

// lockForClient locks a purchase the client owns; another client's purchase
// is ErrNotFound, exactly as one that does not exist.
func lockForClient(ctx context.Context, tx pgx.Tx, clientID, id uuid.UUID) (store.Purchase, error) {
	q := store.New(tx)
	if _, err := q.PurchaseGetForClient(ctx, store.PurchaseGetForClientParams{ID: id, ClientID: clientID}); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return store.Purchase{}, fmt.Errorf("purchase %s: %w", id, ErrNotFound)
		}
		return store.Purchase{}, err
	}
	return q.PurchaseLock(ctx, id)
}

// Confirm moves a purchase awaiting confirmation to paying and queues its
// payment. A purchase confirmed before answers as it is now, whatever its
// status. A purchase past its expiry fails with inquiry_expired and the
// confirm is refused with ErrInvalidState, as for any other status.
func (s *Service) Confirm(ctx context.Context, clientID, id uuid.UUID) (store.Purchase, error) {
	var out store.Purchase
	var refuse error
	err := pgx.BeginFunc(ctx, s.apiPool, func(tx pgx.Tx) error {
		c, err := lockForClient(ctx, tx, clientID, id)
		if err != nil {
			return err
		}
		out = c
		switch {
		case c.ConfirmedAt != nil:
			return nil
		case Status(c.Status) != StatusAwaitingConfirmation:
			refuse = fmt.Errorf("%w: purchase %s is %s", ErrInvalidState, id, c.Status)
			return nil
		case c.ExpiresAt != nil && !s.now().Before(*c.ExpiresAt):
			out, err = s.expire(ctx, tx, c)
			refuse = fmt.Errorf("%w: purchase %s expired at %s without confirmation", ErrInvalidState, id, c.ExpiresAt.UTC().Format("2006-01-02T15:04:05Z"))
			return err
		}
		now := s.now()
		out, err = s.apply(ctx, tx, c, change{event: EventConfirm, actor: "client", mutate: func(p *store.Purchase) {
			p.ConfirmedAt = &now
			s.fixPayment(p, deref(p.InquiryAmount))
		}})
		if err != nil {
			return err
		}
		return s.insertAfter(ctx, tx, paymentArgs{PurchaseID: id}, 0)
	})
	if err != nil {
		return store.Purchase{}, err
	}
	return out, refuse
}

// Cancel cancels a purchase in received, inquiring or awaiting_confirmation
// — never later, because a payment call may be in flight. Canceling a
// canceled purchase answers it as it is; any other status is ErrInvalidState.
func (s *Service) Cancel(ctx context.Context, clientID, id uuid.UUID) (store.Purchase, error) {
	var out store.Purchase
	var refuse error
	err := pgx.BeginFunc(ctx, s.apiPool, func(tx pgx.Tx) error {
		c, err := lockForClient(ctx, tx, clientID, id)
		if err != nil {
			return err
		}
		out = c
		switch Status(c.Status) {
		case StatusCanceled:
			return nil
		case StatusReceived, StatusInquiring, StatusAwaitingConfirmation:
			out, err = s.apply(ctx, tx, c, change{event: EventCancel, actor: "client"})
			return err
		default:
			refuse = fmt.Errorf("%w: purchase %s is %s; it can no longer be canceled", ErrInvalidState, id, c.Status)
			return nil
		}
	})
	if err != nil {
		return store.Purchase{}, err
	}
	return out, refuse
}

// ResolveRequest is an operator's decision on a needs_review purchase.
type ResolveRequest struct {
	Status       Status // StatusSucceeded or StatusFailed
	Note         string
	SerialNumber string
	Force        bool
	Operator     string
}

// Resolve applies an operator's decision to a needs_review purchase, after a
// fresh status lookup (flow.md "Confirm, cancel, resolve"): failed is refused
// while the provider says SUCCESS or pending, unless forced; succeeded needs
// the serial number (for a token product, one holding the token). A lookup
// that settles it decides instead of the operator. Refusals are
// ErrInvalidState; bad input is *ValidationError.
func (s *Service) Resolve(ctx context.Context, id uuid.UUID, req ResolveRequest) (store.Purchase, error) {
	var errs []FieldError
	if req.Status != StatusSucceeded && req.Status != StatusFailed {
		errs = append(errs, FieldError{"status", "must be succeeded or failed"})
	}
	if req.Note == "" {
		errs = append(errs, FieldError{"note", "is required: every resolve is audited"})
	}
	if req.Status == StatusSucceeded && req.SerialNumber == "" {
		errs = append(errs, FieldError{"serial_number", "is required to resolve as succeeded"})
	}
	if len(errs) > 0 {
		return store.Purchase{}, &ValidationError{Fields: errs}
	}
	p, err := store.New(s.apiPool).PurchaseGetByID(ctx, id)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Purchase{}, fmt.Errorf("purchase %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return store.Purchase{}, err
	}
	if Status(p.Status) != StatusNeedsReview {
		return p, fmt.Errorf("%w: purchase %s is %s; only needs_review can be resolved", ErrInvalidState, id, p.Status)
	}
	if req.Status == StatusSucceeded && providers.Family(p.Family) == providers.FamilyPLNPrepaid {
		if _, err := providers.ParsePLNSerial(req.SerialNumber); err != nil {
			return p, &ValidationError{Fields: []FieldError{{"serial_number", "must hold the 20-digit token for a PLN token purchase"}}}
		}
	}
	prov, rl, err := s.provider(p.Provider)
	if err != nil {
		return p, err
	}
	var st providers.Status
	looked := rl.canLookup(&p)
	if looked {
		st = prov.Lookup(ctx, providers.LookupRequest{
			Reference: deref(p.ProviderReference), TransactionID: deref(p.ProviderTransactionID),
			RequestID: deref(p.ProviderRequestID), CreatedAt: p.CreatedAt,
		})
	}
	var out store.Purchase
	var refuse error
	err = pgx.BeginFunc(ctx, s.apiPool, func(tx pgx.Tx) error {
		c, err := store.New(tx).PurchaseLock(ctx, id)
		if err != nil {
			return err
		}
		if err := s.recordCalls(ctx, tx, &c, c.Provider, st.Result); err != nil {
			return err
		}
		out = c
		if Status(c.Status) != StatusNeedsReview {
			refuse = fmt.Errorf("%w: purchase %s is %s now", ErrInvalidState, id, c.Status)
			return nil
		}
		audit := map[string]any{"note": req.Note, "operator": req.Operator, "force": req.Force, "lookup": st.Outcome, "requested": req.Status}
		if err := s.note(ctx, tx, &c, "resolve_requested", "operator", audit); err != nil {
			return err
		}
		if looked && (st.Outcome == providers.Succeeded || st.Outcome == providers.Failed) && answerMismatch(&c, nil, st, false) == "" {
			// The provider settles it: its word decides, not the operator's.
			out, err = s.applyLookup(ctx, tx, c, st, true, false)
			if err == nil && Status(out.Status) == StatusNeedsReview {
				refuse = fmt.Errorf("%w: the provider reports success but the token is missing; resolve with the serial number", ErrInvalidState)
			} else if err == nil && Status(out.Status) != req.Status {
				refuse = fmt.Errorf("%w: the provider's fresh lookup says %s; the purchase is now %s", ErrInvalidState, st.Outcome, out.Status)
			}
			return err
		}
		switch req.Status {
		case StatusFailed:
			if (st.Outcome == providers.Pending) && !req.Force {
				refuse = fmt.Errorf("%w: the provider says %s; resolve as failed only with force and a note", ErrInvalidState, st.Outcome)
				return nil
			}
			out, err = s.apply(ctx, tx, c, change{event: EventFail, name: "resolved", actor: "operator", data: audit,
				mutate: func(p *store.Purchase) {
					p.FailureCode = ptr("resolved_by_operator")
					p.FailureMessage = ptr(req.Note)
				}})
			return err
		default:
			r := resultData{SerialNumber: req.SerialNumber, Note: req.Note, ProviderTransactionID: deref(c.ProviderTransactionID)}
			if tok, err := providers.ParsePLNSerial(req.SerialNumber); err == nil && providers.Family(c.Family) == providers.FamilyPLNPrepaid {
				r.Token, r.Tariff, r.Power, r.KWh, r.CustomerName = tok.Token, tok.Tariff, tok.Power, tok.KWh, tok.CustomerName
			}
			out, err = s.apply(ctx, tx, c, change{event: EventSucceed, name: "resolved", actor: "operator", data: audit,
				mutate: func(p *store.Purchase) {
					p.Price = ptr(deref(p.Amount))
					p.Result = mustJSON(r)
				}})
			return err
		}
	})
	if err != nil {
		return store.Purchase{}, err
	}
	return out, refuse
}
