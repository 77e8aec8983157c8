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
	Products []offerRow
	Alerts   []store.AlertListRecentRow
}

// offerRow is one product as a provider sells it: the product (ours) with
// the provider's offer of it.
type offerRow struct {
	store.Offer
	Code, Name, Family string
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
	offers, err := c.q.OfferList(ctx)
	if err != nil {
		c.internal(w, r, s, fmt.Errorf("list offers: %w", err))
		return
	}
	byCode := map[string]store.Product{}
	for _, p := range products {
		byCode[p.Code] = p
	}
	var data providersData
	for _, b := range balances {
		pv := providerView{Balance: b}
		for _, o := range offers {
			if o.Provider == b.Provider {
				p := byCode[o.ProductCode]
				pv.Products = append(pv.Products, offerRow{Offer: o, Code: p.Code, Name: p.Name, Family: p.Family})
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
