package recon

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

// openStatuses are the statuses of a purchase that has not ended, in the
// order of the enum; purchases_open has a series for each, zero included.
var openStatuses = []store.PurchaseStatus{
	store.PurchaseStatusReceived, store.PurchaseStatusInquiring, store.PurchaseStatusAwaitingConfirmation,
	store.PurchaseStatusPaying, store.PurchaseStatusProcessing, store.PurchaseStatusNeedsReview,
}

// CollectorOptions tune a Collector. The zero value reads with a 2 s
// timeout against the database's clock.
type CollectorOptions struct {
	// Timeout bounds each scrape's read (2 s when zero): a slow database
	// costs the scrape these metrics, never the whole /metrics answer.
	Timeout time.Duration
	// Now is the clock ages are measured against (the views' recon_now());
	// the database's now() when nil.
	Now func() time.Time
	// Logger receives a warning when a read fails. Nil discards.
	Logger *slog.Logger
}

// Collector is a prometheus.Collector that reads the reconciliation views at
// each scrape: the open purchases by status, the stuck ones, the oldest open
// purchase's age, the longest needs_review wait, each provider's last
// observed deposit, and the state of the audit tables' month partitions
// (docs/observability.md).
// Every process of the service reports the same database, so alert rules
// take the max over instances. It is safe for concurrent use.
type Collector struct {
	pool    *pgxpool.Pool
	timeout time.Duration
	now     func() time.Time
	log     *slog.Logger

	up, open, stuck, oldest, review, balance *prometheus.Desc
	defaultRows, partitionsAhead             *prometheus.Desc
}

// NewCollector returns a Collector reading through pool; register it with
// a prometheus.Registry.
func NewCollector(pool *pgxpool.Pool, o CollectorOptions) *Collector {
	if o.Timeout <= 0 {
		o.Timeout = 2 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	status := []string{"status"}
	return &Collector{
		pool: pool, timeout: o.Timeout, now: o.Now, log: o.Logger,
		up: prometheus.NewDesc("recon_up",
			"1 when this scrape read the reconciliation views, 0 when the read failed (the purchase gauges are then absent).", nil, nil),
		open: prometheus.NewDesc("purchases_open",
			"Purchases not ended, by status (needs_review included), from the database.", status, nil),
		stuck: prometheus.NewDesc("purchases_stuck",
			"Open purchases past the time they should have moved (the recon_stuck view), by status.", status, nil),
		oldest: prometheus.NewDesc("purchase_oldest_open_seconds",
			"Age since creation of the oldest purchase in each open status (0 when none).", status, nil),
		review: prometheus.NewDesc("purchase_needs_review_longest_wait_seconds",
			"How long the purchase longest in needs_review has waited for an operator (0 when none).", nil, nil),
		balance: prometheus.NewDesc("provider_balance_observed_rupiah",
			"Our deposit at each provider as last observed by any process (provider_balances).", []string{"provider"}, nil),
		defaultRows: prometheus.NewDesc("audit_default_partition_rows",
			"Rows in the DEFAULT partition of each audit table (counted up to 100,000): rows of a month that had no partition; should be 0.", []string{"table"}, nil),
		partitionsAhead: prometheus.NewDesc("audit_partitions_ahead_seconds",
			"Time from now to the end of each audit table's last month partition (negative when it is past).", []string{"table"}, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.up, c.open, c.stuck, c.oldest, c.review, c.balance, c.defaultRows, c.partitionsAhead} {
		ch <- d
	}
}

// Collect implements prometheus.Collector: one read, bounded by the timeout.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	r, err := c.read(ctx)
	if err != nil {
		c.log.Warn("reconciliation metrics not read", "err", err.Error())
		ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 1)
	byStatus := map[store.PurchaseStatus]store.ReconOpenByStatusListRow{}
	for _, row := range r.open {
		byStatus[row.Status] = row
	}
	for _, s := range openStatuses {
		r := byStatus[s]
		ch <- prometheus.MustNewConstMetric(c.open, prometheus.GaugeValue, float64(r.Open), string(s))
		ch <- prometheus.MustNewConstMetric(c.oldest, prometheus.GaugeValue, float64(r.OldestSeconds), string(s))
		if s != store.PurchaseStatusNeedsReview { // recon_stuck never holds one
			ch <- prometheus.MustNewConstMetric(c.stuck, prometheus.GaugeValue, float64(r.Stuck), string(s))
		}
	}
	review := byStatus[store.PurchaseStatusNeedsReview].LongestReviewSeconds
	ch <- prometheus.MustNewConstMetric(c.review, prometheus.GaugeValue, float64(review))
	for _, b := range r.balances {
		ch <- prometheus.MustNewConstMetric(c.balance, prometheus.GaugeValue, float64(b.Balance), b.Provider)
	}
	now := time.Now()
	if c.now != nil {
		now = c.now()
	}
	for _, p := range r.partitions {
		ch <- prometheus.MustNewConstMetric(c.defaultRows, prometheus.GaugeValue, float64(p.DefaultRows), p.TableName)
		ch <- prometheus.MustNewConstMetric(c.partitionsAhead, prometheus.GaugeValue, p.PartitionsUntil.Sub(now).Seconds(), p.TableName)
	}
}

// reading is what one scrape reads.
type reading struct {
	open       []store.ReconOpenByStatusListRow
	balances   []store.ProviderBalanceLatestListRow
	partitions []store.AuditPartitionStateListRow
}

// read runs the queries in a read-only transaction, with recon_now() set
// when the collector has a clock of its own.
func (c *Collector) read(ctx context.Context) (reading, error) {
	var r reading
	err := pgx.BeginTxFunc(ctx, c.pool, pgx.TxOptions{AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		q := store.New(tx)
		if c.now != nil {
			if err := q.ReconNowSet(ctx, c.now().UTC().Format(time.RFC3339Nano)); err != nil {
				return err
			}
		}
		var err error
		if r.open, err = q.ReconOpenByStatusList(ctx); err != nil {
			return fmt.Errorf("open purchases by status: %w", err)
		}
		if r.balances, err = q.ProviderBalanceLatestList(ctx); err != nil {
			return fmt.Errorf("latest balances: %w", err)
		}
		if r.partitions, err = q.AuditPartitionStateList(ctx); err != nil {
			return fmt.Errorf("audit partitions: %w", err)
		}
		return nil
	})
	if err != nil {
		return reading{}, fmt.Errorf("read reconciliation metrics: %w", err)
	}
	return r, nil
}
