package console

import (
	"fmt"
	"net/http"
	"time"

	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

// providerAlertsFor is how far back the Providers page lists alerts.
const providerAlertsFor = 7 * 24 * time.Hour

// providersData is the Providers page.
type providersData struct {
	Providers []providerView
}

// providerView is one provider: its deposit, the products it sells, its
// recent alerts.
type providerView struct {
	Balance  balanceView
	Products []store.Product
	Alerts   []store.AlertListRecentRow
}

// providers is GET /console/providers.
func (c *Console) providers(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := r.Context()
	balances, err := c.balances(ctx)
	if err != nil {
		c.internal(w, r, s, err)
		return
	}
	products, err := c.q.ProductList(ctx)
	if err != nil {
		c.internal(w, r, s, fmt.Errorf("list products: %w", err))
		return
	}
	var data providersData
	for _, b := range balances {
		pv := providerView{Balance: b}
		for _, p := range products {
			if p.Provider == b.Provider {
				pv.Products = append(pv.Products, p)
			}
		}
		name := b.Provider
		if pv.Alerts, err = c.q.AlertListRecent(ctx, store.AlertListRecentParams{
			Since: c.now().Add(-providerAlertsFor), Provider: &name, RowLimit: 50,
		}); err != nil {
			c.internal(w, r, s, fmt.Errorf("list %s alerts: %w", name, err))
			return
		}
		data.Providers = append(data.Providers, pv)
	}
	c.render(w, r, http.StatusOK, "providers", s, "Providers", data, "")
}
