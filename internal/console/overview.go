package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"time"

	"github.com/ppob-orchestrator/orchestrator/internal/flow"
	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

// overviewData is the Overview page.
type overviewData struct {
	Day         string // today, YYYY-MM-DD in Asia/Jakarta
	Today       []statusCount
	TodayTotal  int64
	NeedsReview int64
	Stuck       int64
	Alerts      []store.AlertListRecentRow
	Balances    []balanceView
	Chart       chart
}

type statusCount struct {
	Status string
	Count  int64
}

// balanceView is a provider's last known deposit against its alert level.
type balanceView struct {
	Provider   string
	Known      bool
	Balance    int64
	ObservedAt time.Time
	AlertBelow int64
	Low        bool
}

// overview is GET /console/: today's purchases by status (Asia/Jakarta),
// what waits for an operator, the last day's alerts, the deposits, and the
// last hour's purchases per minute.
func (c *Console) overview(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := r.Context()
	now := c.now()
	y, m, d := now.In(wib).Date()
	today := time.Date(y, m, d, 0, 0, 0, 0, wib)
	data := overviewData{Day: today.Format(time.DateOnly)}
	counts, err := c.q.PurchaseCountByStatusSince(ctx, today)
	if err != nil {
		c.internal(w, r, s, fmt.Errorf("count today's purchases: %w", err))
		return
	}
	byStatus := map[string]int64{}
	for _, x := range counts {
		byStatus[string(x.Status)] = x.Count
		data.TodayTotal += x.Count
	}
	for _, st := range flow.Statuses {
		data.Today = append(data.Today, statusCount{Status: string(st), Count: byStatus[string(st)]})
	}
	attention, err := c.q.PurchaseAttentionCounts(ctx)
	if err != nil {
		c.internal(w, r, s, fmt.Errorf("count purchases needing attention: %w", err))
		return
	}
	data.NeedsReview, data.Stuck = attention.NeedsReview, attention.Stuck
	if data.Alerts, err = c.q.AlertListRecent(ctx, store.AlertListRecentParams{Since: now.Add(-24 * time.Hour), RowLimit: 50}); err != nil {
		c.internal(w, r, s, fmt.Errorf("list alerts: %w", err))
		return
	}
	if data.Balances, err = c.balances(ctx); err != nil {
		c.internal(w, r, s, err)
		return
	}
	hourAgo := now.Truncate(time.Minute).Add(-59 * time.Minute)
	perMinute, err := c.q.PurchasePerMinuteSince(ctx, hourAgo)
	if err != nil {
		c.internal(w, r, s, fmt.Errorf("count purchases per minute: %w", err))
		return
	}
	data.Chart = perMinuteChart(hourAgo, perMinute)
	c.render(w, r, http.StatusOK, "overview", s, "Overview", data, "")
}

// balances reads each provider's last observed deposit.
func (c *Console) balances(ctx context.Context) ([]balanceView, error) {
	names := make([]string, 0, len(c.cfg.BalanceAlertBelow))
	for n := range c.cfg.BalanceAlertBelow {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]balanceView, 0, len(names))
	for _, n := range names {
		b := balanceView{Provider: n, AlertBelow: c.cfg.BalanceAlertBelow[n]}
		row, err := c.q.ProviderBalanceLatest(ctx, n)
		switch {
		case err == nil:
			b.Known, b.Balance, b.ObservedAt, b.Low = true, row.Balance, row.ObservedAt, row.Balance < b.AlertBelow
		case !errors.Is(store.NotFound(err), store.ErrNotFound):
			return nil, fmt.Errorf("read %s balance: %w", n, err)
		}
		out = append(out, b)
	}
	return out, nil
}
