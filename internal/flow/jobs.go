package flow

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"
)

// stepUnique makes a purchase's step job unique while it is waiting or
// running, so the sweeper (or a duplicate insert) never runs a step twice at
// once. Completed jobs do not count: a step may be driven again later.
var stepUnique = river.UniqueOpts{
	ByArgs: true,
	ByState: []rivertype.JobState{
		rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning,
		rivertype.JobStateRetryable, rivertype.JobStateScheduled,
	},
}

// riverDriver is the River driver type, for river.JobCompleteTx.
type riverDriver = riverpgxv5.Driver

// inquiryArgs runs a purchase's inquiry.
type inquiryArgs struct {
	PurchaseID uuid.UUID `json:"purchase_id"`
}

func (inquiryArgs) Kind() string { return "purchase_inquiry" }
func (inquiryArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: stepUnique}
}

// paymentArgs makes a purchase's first payment call.
type paymentArgs struct {
	PurchaseID uuid.UUID `json:"purchase_id"`
}

func (paymentArgs) Kind() string { return "purchase_payment" }
func (paymentArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: stepUnique}
}

// lookupArgs polls a purchase's status until it is resolved. Once marks a
// single lookup triggered by an unauthenticated callback: it applies only an
// answer that carries our reference, product and amount, and never repeats
// a payment.
type lookupArgs struct {
	PurchaseID uuid.UUID `json:"purchase_id"`
	Once       bool      `json:"once,omitempty"`
}

func (lookupArgs) Kind() string { return "purchase_lookup" }
func (lookupArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: stepUnique}
}

// expireArgs fails a purchase still awaiting confirmation at its expiry.
type expireArgs struct {
	PurchaseID uuid.UUID `json:"purchase_id"`
}

func (expireArgs) Kind() string { return "purchase_expire" }
func (expireArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: stepUnique}
}

// sweepArgs re-drives purchases whose job has gone missing.
type sweepArgs struct{}

func (sweepArgs) Kind() string { return "sweep" }

// catalogArgs refreshes the catalog's prices from each provider.
type catalogArgs struct{}

func (catalogArgs) Kind() string { return "catalog_refresh" }

// balanceArgs reads each provider's deposit.
type balanceArgs struct{}

func (balanceArgs) Kind() string { return "balance_check" }

// insertAfter inserts args in tx, to run after delay (now if not positive).
// Delays, not instants: River schedules on the real clock, the flow decides
// on its injected one.
func (s *Service) insertAfter(ctx context.Context, tx pgx.Tx, args river.JobArgs, delay time.Duration) error {
	_, err := s.river.InsertTx(ctx, tx, args, scheduleOpts(args, delay))
	return err
}

func scheduleOpts(args river.JobArgs, delay time.Duration) *river.InsertOpts {
	if delay <= 0 {
		return nil
	}
	o := args.(river.JobArgsWithInsertOpts).InsertOpts()
	o.ScheduledAt = time.Now().Add(delay)
	return &o
}

// backoff returns the n-th (from 1) delay of a doubling schedule.
func backoff(first, max time.Duration, n int) time.Duration {
	d := first
	for i := 1; i < n && d < max; i++ {
		d *= 2
	}
	return min(d, max)
}
