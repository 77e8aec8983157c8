package flow

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/ppob-orchestrator/orchestrator/internal/providers"
	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

// lockForClient locks a purchase the client owns; another client's purchase
// is ErrNotFound, exactly as one that does not exist.
func lockForClient(ctx context.Context, tx pgx.Tx, clientID, id uuid.UUID) (store.Purchase, error) {
	q := store.New(tx)
	if _, err := q.PurchaseGetForClient(ctx, store.PurchaseGetForClientParams{ID: id, ClientID: clientID}); err != nil {
		return store.Purchase{}, fmt.Errorf("purchase %s: %w", id, notFound(err))
	}
	return q.PurchaseLock(ctx, id)
}

// notFound translates the store's not-found into the flow's.
func notFound(err error) error {
	if err = store.NotFound(err); errors.Is(err, store.ErrNotFound) {
		return ErrNotFound
	}
	return err
}

// isNotFound reports whether err is a read that found no row.
func isNotFound(err error) bool { return errors.Is(store.NotFound(err), store.ErrNotFound) }

// act runs a client's action on its purchase in one transaction: lock,
// decide, carry out. A refusal is ErrInvalidState naming why, returned with
// the purchase as it is now.
func (s *Service) act(ctx context.Context, clientID, id uuid.UUID, decide func(store.Purchase) Step) (store.Purchase, error) {
	var (
		out store.Purchase
		st  Step
	)
	err := inStep(ctx, s.apiPool, func(tx pgx.Tx, tl *timeline) error {
		cur, err := lockForClient(ctx, tx, clientID, id)
		if err != nil {
			return err
		}
		st = decide(cur)
		out, err = s.execute(ctx, tx, tl, cur, st)
		return err
	})
	if err != nil {
		return store.Purchase{}, err
	}
	if st.Refusal != "" {
		return out, fmt.Errorf("%w: %s", ErrInvalidState, st.Refusal)
	}
	return out, nil
}

// Confirm moves a purchase awaiting confirmation to paying and queues its
// payment. A purchase confirmed before answers as it is now, whatever its
// status. A purchase past its expiry fails with inquiry_expired and the
// confirm is refused with ErrInvalidState, as for any other status.
func (s *Service) Confirm(ctx context.Context, clientID, id uuid.UUID) (store.Purchase, error) {
	return s.act(ctx, clientID, id, func(p store.Purchase) Step {
		setup, _ := s.provider(p.Provider)
		return confirm(p, uuid.NewString(), s.now(), setup.Policy, s.rules)
	})
}

// Cancel cancels a purchase in received, inquiring or awaiting_confirmation
// — never later, because a payment call may be in flight. Canceling a
// canceled purchase answers it as it is; any other status is ErrInvalidState.
func (s *Service) Cancel(ctx context.Context, clientID, id uuid.UUID) (store.Purchase, error) {
	return s.act(ctx, clientID, id, func(p store.Purchase) Step { return cancel(p, s.now()) })
}

// Resolve applies an operator's decision to a needs_review purchase, after a
// fresh status lookup (docs/flow.md#confirm-cancel-resolve and resolve in
// decide_action.go). Refusals are ErrInvalidState naming why; bad input is
// *ValidationError.
func (s *Service) Resolve(ctx context.Context, id uuid.UUID, req ResolveRequest) (store.Purchase, error) {
	if err := req.validate(); err != nil {
		return store.Purchase{}, err
	}
	p, err := s.q.PurchaseGetByID(ctx, id)
	if err != nil {
		return store.Purchase{}, fmt.Errorf("purchase %s: %w", id, notFound(err))
	}
	if Status(p.Status) != StatusNeedsReview {
		return p, fmt.Errorf("%w: purchase %s is %s; only needs_review can be resolved", ErrInvalidState, id, p.Status)
	}
	if err := req.validateFor(p); err != nil {
		return p, err
	}
	setup, err := s.provider(p.Provider)
	if err != nil {
		return p, err
	}
	l := Lookup{Looked: setup.Policy.CanLookup(deref(p.ProviderRequestID))}
	if l.Looked {
		l.Answer = setup.Client.Lookup(ctx, providers.LookupRequest{
			Reference: deref(p.ProviderReference), TransactionID: deref(p.ProviderTransactionID),
			RequestID: deref(p.ProviderRequestID), CreatedAt: p.CreatedAt,
		})
		cleanStatus(&l.Answer)
	}
	var (
		out store.Purchase
		st  Step
	)
	err = inStep(ctx, s.apiPool, func(tx pgx.Tx, tl *timeline) error {
		cur, err := store.New(tx).PurchaseLock(ctx, id)
		if err != nil {
			return fmt.Errorf("lock purchase %s: %w", id, notFound(err))
		}
		if err := tl.bind(cur); err != nil {
			return err
		}
		if err := s.recordAnswer(ctx, tx, tl, cur.Provider, l.Answer.Result, l.Answer.Balance, "lookup"); err != nil {
			return err
		}
		st = resolve(cur, l, req, s.now())
		out, err = s.execute(ctx, tx, tl, cur, st)
		return err
	})
	if err != nil {
		return store.Purchase{}, err
	}
	if st.Refusal != "" {
		return out, fmt.Errorf("%w: %s", ErrInvalidState, st.Refusal)
	}
	return out, nil
}

// validate checks an operator's resolve request: a status, a note (every
// resolve is audited), and for succeeded the serial number.
func (req ResolveRequest) validate() error {
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
		return &ValidationError{Fields: errs}
	}
	return nil
}

// validateFor checks the serial number of a succeeded resolve against the
// purchase: for a token product it must hold the 20-digit token.
func (req ResolveRequest) validateFor(p store.Purchase) error {
	if req.Status == StatusSucceeded && providers.Family(p.Family) == providers.FamilyPLNPrepaid {
		if _, err := providers.ParsePLNSerial(req.SerialNumber); err != nil {
			return &ValidationError{Fields: []FieldError{{"serial_number", "must hold the 20-digit token for a PLN token purchase"}}}
		}
	}
	return nil
}

type expireWorker struct {
	river.WorkerDefaults[expireArgs]
	s *Service
}

// Work fails a purchase still awaiting confirmation at its expiry with
// inquiry_expired (expire in decide_action.go).
func (w *expireWorker) Work(ctx context.Context, job *river.Job[expireArgs]) error {
	s := w.s
	var st Step
	err := inStep(ctx, s.pool, func(tx pgx.Tx, tl *timeline) error {
		cur, err := store.New(tx).PurchaseLock(ctx, job.Args.PurchaseID)
		if err != nil {
			return fmt.Errorf("lock purchase %s: %w", job.Args.PurchaseID, store.NotFound(err))
		}
		st = expire(cur, s.now())
		// The job completes first: a job it queues may be unique with it.
		if err := finish(ctx, tx, job, st); err != nil {
			return err
		}
		_, err = s.execute(ctx, tx, tl, cur, st)
		return err
	})
	if err != nil {
		return err
	}
	return after(st)
}
