package recon

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

// Options select what the report covers. The zero value reports everything
// the database holds, measured against time.Now.
type Options struct {
	// Since bounds the sections that are events (contradictions, double
	// payments, price discrepancies, unmatched callbacks, alerts: by when
	// they happened) and the daily sections (whole Asia/Jakarta days from
	// the day that holds Since). Stuck and needs_review purchases are the
	// present state and are always reported in full.
	Since time.Time
	// Now is the clock "stuck" and "waiting" are measured against (the
	// views' recon_now()); time.Now when nil.
	Now func() time.Time
}

// Section is one part of the report: its rows, and how many there are.
// Rows is never nil, so it marshals as [] when empty.
type Section[T any] struct {
	Count int `json:"count"`
	Rows  []T `json:"rows"`
}

// Report is the reconciliation report, read from the views in one
// repeatable-read snapshot. NeedsAttention is true when any of Stuck,
// NeedsReview, Contradictions, DoublePayments, PriceAboveMax, PriceMismatch,
// UnmatchedCallbacks, WebhookFailures or MultipleSuccesses holds a row;
// Failovers, Alerts, DailyTotals and DailyBalance
// are for reading, never a reason to alert by themselves.
type Report struct {
	GeneratedAt    time.Time `json:"generated_at"`
	Since          time.Time `json:"since"`
	NeedsAttention bool      `json:"needs_attention"`

	Stuck              Section[Stuck]             `json:"stuck"`
	NeedsReview        Section[Review]            `json:"needs_review"`
	Contradictions     Section[Contradiction]     `json:"contradictions"`
	DoublePayments     Section[DoublePayment]     `json:"double_payments"`
	PriceAboveMax      Section[PriceAboveMax]     `json:"price_above_max"`
	PriceMismatch      Section[PriceMismatch]     `json:"price_mismatch"`
	UnmatchedCallbacks Section[UnmatchedCallback] `json:"unmatched_callbacks"`
	WebhookFailures    Section[WebhookFailure]    `json:"webhook_failures"`
	MultipleSuccesses  Section[MultipleSuccess]   `json:"multiple_successes"`
	Failovers          Section[Failovers]         `json:"failovers"`
	Alerts             Section[Alert]             `json:"alerts"`
	DailyTotals        Section[DailyTotal]        `json:"daily_totals"`
	DailyBalance       Section[DailyBalance]      `json:"daily_balance"`
}

// Build reads the report from the database behind pool. The schema must
// have the reconciliation migration; otherwise the error says to migrate.
func Build(ctx context.Context, pool *pgxpool.Pool, o Options) (*Report, error) {
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	r := &Report{GeneratedAt: now().UTC(), Since: o.Since.UTC()}
	since := r.Since
	opts := pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}
	err := pgx.BeginTxFunc(ctx, pool, opts, func(tx pgx.Tx) error {
		q := store.New(tx)
		if err := q.ReconNowSet(ctx, r.GeneratedAt.Format(time.RFC3339Nano)); err != nil {
			return fmt.Errorf("set recon.now: %w", err)
		}
		return first(
			read(&r.Stuck, "stuck", func(x store.ReconStuckListRow) Stuck { return Stuck(x) })(q.ReconStuckList(ctx)),
			read(&r.NeedsReview, "needs_review", func(x store.ReconNeedsReviewListRow) Review { return Review(x) })(q.ReconNeedsReviewList(ctx)),
			read(&r.Contradictions, "contradictions", func(x store.ReconContradictionListRow) Contradiction { return Contradiction(x) })(q.ReconContradictionList(ctx, since)),
			read(&r.DoublePayments, "double_payments", func(x store.ReconDoublePaymentListRow) DoublePayment { return DoublePayment(x) })(q.ReconDoublePaymentList(ctx, since)),
			read(&r.PriceAboveMax, "price_above_max", func(x store.ReconPriceAboveMaxListRow) PriceAboveMax { return PriceAboveMax(x) })(q.ReconPriceAboveMaxList(ctx, since)),
			read(&r.PriceMismatch, "price_mismatch", func(x store.ReconPriceMismatchListRow) PriceMismatch { return PriceMismatch(x) })(q.ReconPriceMismatchList(ctx, since)),
			read(&r.UnmatchedCallbacks, "unmatched_callbacks", func(x store.ReconUnmatchedCallback) UnmatchedCallback { return UnmatchedCallback(x) })(q.ReconUnmatchedCallbackList(ctx, since)),
			read(&r.WebhookFailures, "webhook_failures", func(x store.ReconWebhookFailureListRow) WebhookFailure { return WebhookFailure(x) })(q.ReconWebhookFailureList(ctx, since)),
			read(&r.MultipleSuccesses, "multiple_successes", func(x store.ReconMultipleSuccessListRow) MultipleSuccess { return MultipleSuccess(x) })(q.ReconMultipleSuccessList(ctx, since)),
			read(&r.Failovers, "failovers", func(x store.ReconFailoverListRow) Failovers { return Failovers(x) })(q.ReconFailoverList(ctx, since)),
			read(&r.Alerts, "alerts", func(x store.ReconAlert) Alert { return Alert(x) })(q.ReconAlertList(ctx, since)),
			read(&r.DailyTotals, "daily_totals", func(x store.ReconDailyTotalListRow) DailyTotal { return DailyTotal(x) })(q.ReconDailyTotalList(ctx, since)),
			read(&r.DailyBalance, "daily_balance", func(x store.ReconDailyBalanceListRow) DailyBalance { return DailyBalance(x) })(q.ReconDailyBalanceList(ctx, since)),
		)
	})
	if err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && (pgErr.Code == "42P01" || pgErr.Code == "42883") {
			return nil, fmt.Errorf("reconciliation: the schema has no reconciliation views (run `orchestrator migrate up`): %w", err)
		}
		return nil, fmt.Errorf("reconciliation: %w", err)
	}
	r.NeedsAttention = r.Stuck.Count+r.NeedsReview.Count+r.Contradictions.Count+r.DoublePayments.Count+
		r.PriceAboveMax.Count+r.PriceMismatch.Count+r.UnmatchedCallbacks.Count+r.WebhookFailures.Count+r.MultipleSuccesses.Count > 0
	return r, nil
}

// read returns a function that fills s from the rows of one query, converted
// by c (the report's row types repeat the store's rows with JSON names; Go
// converts between struct types that differ only in tags, so a changed query
// breaks the build here), or names the section in the query's error.
func read[R, T any](s *Section[T], name string, c func(R) T) func([]R, error) error {
	return func(rows []R, err error) error {
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		s.Rows = make([]T, len(rows))
		for i, r := range rows {
			s.Rows[i] = c(r)
		}
		s.Count = len(rows)
		return nil
	}
}

// first returns the first non-nil error: once a read fails the transaction is
// aborted and every later read fails for that reason only.
func first(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
