package flow

import (
	"context"
	"errors"
	"fmt"
	"reflect"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/ppob-orchestrator/orchestrator/internal/providers"
	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

// ErrConflict is returned (wrapped) when a compare-and-set finds the purchase
// no longer in the status the step read: someone else moved it first.
var ErrConflict = errors.New("purchase moved concurrently")

// ErrNotFound is returned (wrapped) for a purchase, product or client that
// does not exist (or that the caller may not see).
var ErrNotFound = errors.New("not found")

// execute carries out st, decided on cur (locked by tx), in tx: every move
// a compare-and-set of the status with its audit event and its webhook
// messages (invariant 5); then the fields the step changed after its last
// move; its notes and alerts; the contradictions of earlier callbacks when
// it ended the purchase; and its jobs. The events go to tl, cur's timeline,
// after what the transaction appended before (its provider calls, its
// callback); the step's last write of the purchase carries them in the same
// round trip (writeWith), and what comes after goes with the transaction
// (inStep). It returns the purchase as written. Completing or snoozing the
// current job is the caller's.
func (s *Service) execute(ctx context.Context, tx pgx.Tx, tl *timeline, cur store.Purchase, st Step) (store.Purchase, error) {
	if st.Err != nil {
		return cur, st.Err
	}
	if st.AskNext {
		return cur, fmt.Errorf("purchase %s: a step that asked for the next offer was executed", cur.ID)
	}
	if err := tl.bind(cur); err != nil {
		return cur, err
	}
	q := store.New(tx)
	decided := cur // the purchase as the decision last left it in writing
	if n := len(st.Moves); n > 0 {
		decided = st.Moves[n-1].Purchase
	}
	fields := !reflect.DeepEqual(decided, st.Purchase) // a write after the last move
	var (
		moved  = make([]move, 0, len(st.Moves))
		events []store.PurchaseEvent
	)
	for i, m := range st.Moves {
		from := Status(cur.Status)
		mv := move{from: from, event: tl.event(timelineEvent{kind: "status", name: m.Name, from: from,
			to: Status(m.Purchase.Status), actor: m.Actor, data: mustJSON(m.Data), at: st.now})}
		var err error
		if i == len(st.Moves)-1 && !fields {
			mv.row, events, err = s.writeWith(ctx, tx, tl, m.Purchase, from)
		} else {
			mv.row, err = s.write(ctx, q, m.Purchase, from)
		}
		if err != nil {
			return cur, err
		}
		s.metrics.transition(string(from), string(mv.row.Status))
		moved = append(moved, mv)
		cur = mv.row
	}
	if fields {
		row, evs, err := s.writeWith(ctx, tx, tl, st.Purchase, Status(cur.Status))
		if err != nil {
			return cur, err
		}
		cur, events = row, evs
	}
	if err := s.afterMoves(ctx, tx, moved, events); err != nil {
		return cur, err
	}
	if st.Ended != nil {
		if err := q.PurchaseAttemptInsert(ctx, *st.Ended); err != nil {
			return cur, fmt.Errorf("record attempt %d of %s: %w", st.Ended.Number, cur.ID, err)
		}
		s.metrics.Failovers.WithLabelValues(st.Failover.From, st.Failover.Reason).Inc()
	}
	for _, n := range st.Notes {
		s.note(tl, n)
	}
	for _, a := range st.Alerts {
		provider := a.Provider
		if provider == "" {
			provider = cur.Provider
		}
		if err := s.alert(ctx, tx, tl, a.Kind, provider, a.Message, a.Data); err != nil {
			return cur, err
		}
	}
	if len(st.Moves) > 0 && (Status(cur.Status) == StatusSucceeded || Status(cur.Status) == StatusFailed) {
		if err := s.earlierReports(ctx, tx, tl, cur, st); err != nil {
			return cur, err
		}
	}
	for _, j := range st.Jobs {
		args, err := s.jobArgs(ctx, q, &cur, j)
		if err != nil {
			return cur, err
		}
		if err := s.insertAfter(ctx, tx, args, j.After); err != nil {
			return cur, fmt.Errorf("queue %s of %s: %w", j.Kind, cur.ID, err)
		}
	}
	return cur, nil
}

// move is a status change as written: the row, the status it left, and
// the place of its status event among the events its step's last write
// of the purchase returned.
type move struct {
	row   store.Purchase
	from  Status
	event int
}

// afterMoves carries out what each move entails beyond its row and its
// event (events: the timeline as written with them), in order: its webhook
// messages, which carry their event's seq, and — when it ended a purchase
// that lookups were resolving — the cancellation of its waiting lookups.
func (s *Service) afterMoves(ctx context.Context, tx pgx.Tx, moved []move, events []store.PurchaseEvent) error {
	for _, mv := range moved {
		if err := s.emit(ctx, tx, mv.row, events[mv.event]); err != nil {
			return err
		}
		if to := Status(mv.row.Status); to.Terminal() && (mv.from == StatusProcessing || mv.from == StatusNeedsReview) {
			if err := s.cancelLookups(ctx, tx, mv.row.ID); err != nil {
				return err
			}
		}
	}
	return nil
}

// write stores p as a compare-and-set on its status being from.
func (s *Service) write(ctx context.Context, q *store.Queries, p store.Purchase, from Status) (store.Purchase, error) {
	p.UpdatedAt = s.now()
	row, err := q.PurchaseUpdate(ctx, updateParams(&p, from))
	return row, writeErr(p, from, err)
}

// writeWith is write, followed by the write of the timeline tl in the same
// round trip (a pipeline of the two statements, each as if sent alone); it
// returns the events as written too. When the compare-and-set finds
// another status, the events were written for nothing: the caller's
// transaction rolls back on ErrConflict.
func (s *Service) writeWith(ctx context.Context, tx pgx.Tx, tl *timeline, p store.Purchase, from Status) (store.Purchase, []store.PurchaseEvent, error) {
	if tl.empty() {
		row, err := s.write(ctx, store.New(tx), p, from)
		return row, nil, err
	}
	p.UpdatedAt = s.now()
	var (
		row         store.Purchase
		events      []store.PurchaseEvent
		werr, tlErr error
	)
	err := store.Pipeline(ctx, tx, func(q *store.Queries) error {
		row, werr = q.PurchaseUpdate(ctx, updateParams(&p, from))
		events, tlErr = tl.write(ctx, q)
		return errors.Join(werr, tlErr)
	})
	if werr != nil {
		return row, nil, writeErr(p, from, werr)
	}
	if err != nil {
		return row, nil, err
	}
	return row, events, nil
}

// writeErr is the error of a write of p from status from: a conflict when
// it found another status.
func writeErr(p store.Purchase, from Status, err error) error {
	if isNotFound(err) {
		return fmt.Errorf("purchase %s from %s: %w", p.ID, from, ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("update purchase %s: %w", p.ID, err)
	}
	return nil
}

// earlierReports records the contradictions of callbacks received before
// a step ended p (the decision is earlierReports in decide.go).
func (s *Service) earlierReports(ctx context.Context, tx pgx.Tx, tl *timeline, p store.Purchase, st Step) error {
	reports, err := store.New(tx).CallbackOutcomesByPurchase(ctx, store.CallbackOutcomesByPurchaseParams{PurchaseID: p.ID, AuditSince: store.AuditSince(p.CreatedAt)})
	if err != nil {
		return err
	}
	outcomes := make([]providers.Outcome, len(reports))
	for i, r := range reports {
		outcomes[i] = providers.Outcome(deref(r.Outcome))
	}
	follow := earlierReports(p, outcomes, st.now)
	for _, n := range follow.Notes {
		s.note(tl, n)
	}
	for _, a := range follow.Alerts {
		if err := s.alert(ctx, tx, tl, a.Kind, p.Provider, a.Message, a.Data); err != nil {
			return err
		}
	}
	return nil
}

// jobArgs is the River job of j for p (as written), for p's attempt.
func (s *Service) jobArgs(ctx context.Context, q *store.Queries, p *store.Purchase, j Job) (river.JobArgs, error) {
	switch j.Kind {
	case JobPayment:
		return paymentArgs{PurchaseID: p.ID, Attempt: p.Attempt, Repeat: j.Repeat}, nil
	case JobLookup:
		if j.Check > 0 {
			a, err := q.PurchaseAttemptGet(ctx, store.PurchaseAttemptGetParams{PurchaseID: p.ID, Number: int32(j.Check)})
			if err != nil {
				return nil, fmt.Errorf("attempt %d of %s: %w", j.Check, p.ID, err)
			}
			l := checkFor(p, &EndedAttempt{Number: a.Number, Provider: a.Provider, ProviderReference: a.ProviderReference,
				ProviderRequestID: a.ProviderRequestID, ProviderTransactionID: a.ProviderTransactionID})
			l.Once = j.Once
			return l, nil
		}
		l := lookupFor(p)
		l.Once = j.Once
		return l, nil
	case JobExpire:
		return expireArgs{PurchaseID: p.ID, Attempt: p.Attempt}, nil
	default:
		return inquiryArgs{PurchaseID: p.ID, Attempt: p.Attempt}, nil
	}
}

func updateParams(p *store.Purchase, from Status) store.PurchaseUpdateParams {
	return store.PurchaseUpdateParams{
		ID: p.ID, FromStatus: store.PurchaseStatus(from), ToStatus: p.Status,
		ConfirmedAt: p.ConfirmedAt, ExpiresAt: p.ExpiresAt,
		Inquiry: p.Inquiry, InquiryAmount: p.InquiryAmount, InquiryTotal: p.InquiryTotal,
		InquiryAttempts: p.InquiryAttempts, ProviderRequestID: p.ProviderRequestID,
		Amount: p.Amount, ProviderReference: p.ProviderReference,
		PaymentAttempts: p.PaymentAttempts, PaymentLastSentAt: p.PaymentLastSentAt,
		PaymentInFlight: p.PaymentInFlight, PaymentUncertain: p.PaymentUncertain,
		NotFoundStreak: p.NotFoundStreak, Lookups: p.Lookups, DeadlineAt: p.DeadlineAt,
		Provider: p.Provider, ProviderProductCode: p.ProviderProductCode, Attempt: p.Attempt, AttemptStartedAt: p.AttemptStartedAt,
		RetrySince:            p.RetrySince,
		ProviderTransactionID: p.ProviderTransactionID, Price: p.Price, Result: p.Result,
		FailureCode: p.FailureCode, FailureMessage: p.FailureMessage,
		UpdatedAt: p.UpdatedAt, CompletedAt: p.CompletedAt,
	}
}

// complete completes the current job in tx, atomic with the step: what
// River's JobCompleteTx writes, in one update by primary key
// (store.CompleteJob).
func complete[T river.JobArgs](ctx context.Context, tx pgx.Tx, job *river.Job[T]) error {
	return store.CompleteJob(ctx, tx, job.ID)
}

// finish completes job in tx unless the step snoozes it; the worker
// returns what finish returns after the transaction commits (snoozed).
func finish[T river.JobArgs](ctx context.Context, tx pgx.Tx, job *river.Job[T], st Step) error {
	if st.Snooze > 0 {
		return nil
	}
	return complete(ctx, tx, job)
}

// after is what a worker returns once its step committed: a snooze, or
// nothing (the job completed in the step's transaction).
func after(st Step) error {
	if st.Snooze > 0 {
		return river.JobSnooze(st.Snooze)
	}
	return nil
}
