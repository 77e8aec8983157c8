package flow

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/ppob-orchestrator/orchestrator/internal/providers"
	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

// price returns an offer's catalog price as a decision sees it (Price),
// refreshing its provider's catalog first when the price is older than
// PRICE_MAX_AGE — one refresh per provider at a time, however many
// purchases wait. o is updated to what the catalog holds afterwards. A
// refresh that fails leaves the price stale (Fresh false): invariant 8 then
// decides whether it may be used.
func (s *Service) price(ctx context.Context, o *store.Offer) Price {
	if p := s.priceOf(o); p.Fresh {
		return p
	}
	_, _, _ = s.refresh.Do(o.Provider, func() (any, error) {
		return nil, s.RefreshCatalog(ctx, o.Provider)
	})
	if row, err := s.q.OfferGet(ctx, store.OfferGetParams{ProductCode: o.ProductCode, Provider: o.Provider}); err == nil {
		*o = row.Offer
	}
	p := s.priceOf(o)
	if !p.Fresh {
		s.log.Warn("the catalog price is stale: its refresh failed", "product", o.ProductCode, "provider", o.Provider)
	}
	return p
}

// priceOf returns an offer's price as it is, without refreshing it.
func (s *Service) priceOf(o *store.Offer) Price {
	if o.Price == nil {
		return Price{}
	}
	fresh := o.PriceFetchedAt != nil && s.now().Sub(*o.PriceFetchedAt) <= s.cfg.PriceMaxAge
	return Price{Amount: *o.Price, Fresh: fresh}
}

// RefreshCatalog reads a provider's product list and updates the prices
// (and whether the provider lists them as available) of its offers.
func (s *Service) RefreshCatalog(ctx context.Context, provider string) error {
	setup, err := s.provider(provider)
	if err != nil {
		return err
	}
	items, res := setup.Client.Products(ctx)
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := s.recordCalls(ctx, tx, nil, provider, res); err != nil {
			return err
		}
		if res.Outcome != providers.Succeeded {
			return fmt.Errorf("refresh %s catalog: %s", provider, res.Error())
		}
		q := store.New(tx)
		for _, it := range items {
			if it.Price <= 0 {
				continue
			}
			params := store.OfferSetPriceParams{
				Price: ptr(it.Price), FetchedAt: ptr(s.now()), Enabled: it.Enabled,
				Provider: provider, ProviderProductCode: it.Code,
			}
			if it.ItemCode != "" {
				params.ItemCode = ptr(it.ItemCode)
			}
			if _, err := q.OfferSetPrice(ctx, params); err != nil {
				return err
			}
		}
		return nil
	})
}

// observeBalance records a deposit observation when keepBalance says so,
// sets the gauge, and alerts when the deposit falls below the configured
// level.
func (s *Service) observeBalance(ctx context.Context, tx pgx.Tx, provider string, balance int64, source string) error {
	q := store.New(tx)
	prev, prevErr := q.ProviderBalanceLatest(ctx, provider)
	setup, _ := s.provider(provider)
	below := setup.BalanceAlertBelow
	var last *store.ProviderBalance
	if prevErr == nil {
		last = &prev
	}
	if keepBalance(last, balance, below, s.now()) {
		if err := q.ProviderBalanceInsert(ctx, store.ProviderBalanceInsertParams{
			Provider: provider, Balance: balance, Source: source, ObservedAt: s.now(),
		}); err != nil {
			return err
		}
	}
	s.metrics.Balance.WithLabelValues(provider).Set(float64(balance))
	if below <= 0 || balance >= below {
		return nil
	}
	// Alert on crossing the level, not on every observation below it.
	if last != nil && last.Balance < below {
		return nil
	}
	return s.alert(ctx, tx, nil, "low_balance", provider,
		fmt.Sprintf("%s deposit %d is below %d", provider, balance, below), map[string]any{"balance": balance, "alert_below": below})
}

// BalanceKeepEvery is how often, at most, a provider's deposit is recorded
// in provider_balances while it stays on one side of its alert level and
// within one Asia/Jakarta day (docs/audit.md#the-audit-tables).
const BalanceKeepEvery = time.Minute

// wib is Asia/Jakarta (UTC+7, no daylight saving), the day of the daily
// reconciliation views.
var wib = time.FixedZone("WIB", 7*60*60)

// keepBalance decides whether a deposit observed at now is recorded, after
// last (nil: none recorded). Every answer that carries a deposit is
// observed — about one per purchase, and each charge changes the deposit —
// but its answer is already kept whole in provider_calls, so a row per
// answer would only copy it. One is recorded when none was for
// BalanceKeepEvery, when the deposit crossed the alert level below (so the
// alert fires once, on the crossing, and the reader of the latest deposit
// sees the crossing at once), and for the first observation of each
// Asia/Jakarta day (recon_daily_balance's first deposit of the day).
func keepBalance(last *store.ProviderBalance, balance, below int64, now time.Time) bool {
	switch {
	case last == nil:
		return true
	case now.Sub(last.ObservedAt) >= BalanceKeepEvery || now.Before(last.ObservedAt):
		return true
	case now.In(wib).YearDay() != last.ObservedAt.In(wib).YearDay() || now.In(wib).Year() != last.ObservedAt.In(wib).Year():
		return true
	case below > 0 && (balance < below) != (last.Balance < below):
		return true
	}
	return false
}

type catalogWorker struct {
	river.WorkerDefaults[catalogArgs]
	s *Service
}

// Work refreshes every provider's prices; one provider's failure does not
// stop the others.
func (w *catalogWorker) Work(ctx context.Context, _ *river.Job[catalogArgs]) error {
	for name := range w.s.cfg.Providers {
		if err := w.s.RefreshCatalog(ctx, name); err != nil {
			w.s.log.Warn("catalog refresh failed", "provider", name, "err", err)
		}
	}
	return nil
}

type balanceWorker struct {
	river.WorkerDefaults[balanceArgs]
	s *Service
}

// Work reads the deposit of every provider with a balance endpoint.
func (w *balanceWorker) Work(ctx context.Context, _ *river.Job[balanceArgs]) error {
	w.s.CheckBalances(ctx)
	return nil
}

// CheckBalances reads the deposit of every provider with a balance endpoint
// (Klikoo; Snapcart's comes with its inquiries), records it, sets the
// provider_balance_rupiah gauge and alerts below the configured level. One
// provider's failure does not stop the others; failures are logged.
func (s *Service) CheckBalances(ctx context.Context) {
	for name, setup := range s.cfg.Providers {
		br, ok := setup.Client.(BalanceReader)
		if !ok {
			continue
		}
		bal, res := br.Balance(ctx)
		err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			if err := s.recordCalls(ctx, tx, nil, name, res); err != nil {
				return err
			}
			if res.Outcome != providers.Succeeded {
				return fmt.Errorf("balance: %s", res.Error())
			}
			return s.observeBalance(ctx, tx, name, bal, "balance_endpoint")
		})
		if err != nil {
			s.log.Warn("balance check failed", "provider", name, "err", err)
		}
	}
}

// CatalogEntry is one offer of the catalog: a product (ours) and one
// provider's way to sell it. Entries with the same Code are offers of one
// product.
type CatalogEntry struct {
	Code                string // our product code (what clients send)
	Name                string
	Family              providers.Family
	Provider            string // the provider's name (its Policy.Name)
	Inquiry             string // required, optional or none
	ProviderProductCode string
	ItemCode            string
	Priority            int32 // smaller first in routes; 0 means the default, 100
	Price               int64 // the provider's price to us; 0: unknown until refreshed
}

// SeedCatalog inserts or updates catalog entries (dev's demo catalog, an
// operator's product list), with prices as of now.
func SeedCatalog(ctx context.Context, q *store.Queries, entries []CatalogEntry, now time.Time) error {
	for _, e := range entries {
		if _, err := q.ProductUpsert(ctx, store.ProductUpsertParams{Code: e.Code, Name: e.Name, Family: string(e.Family), UpdatedAt: now}); err != nil {
			return fmt.Errorf("seed product %s: %w", e.Code, err)
		}
		o := store.OfferUpsertParams{
			ProductCode: e.Code, Provider: e.Provider, ProviderProductCode: e.ProviderProductCode,
			ItemCode: nonEmpty(e.ItemCode), Inquiry: e.Inquiry, Priority: e.Priority, Enabled: true, Active: true, UpdatedAt: now,
		}
		if o.Priority == 0 {
			o.Priority = 100
		}
		if e.Price > 0 {
			o.Price, o.PriceFetchedAt = ptr(e.Price), ptr(now)
		}
		if _, err := q.OfferUpsert(ctx, o); err != nil {
			return fmt.Errorf("seed offer %s at %s: %w", e.Code, e.Provider, err)
		}
	}
	return nil
}
