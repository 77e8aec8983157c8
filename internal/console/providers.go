package console

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/ppob-orchestrator/orchestrator/internal/flow"
	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

// providerAlertsFor is how far back the Providers page lists alerts;
// changesFor how far back it lists operators' changes.
const (
	providerAlertsFor = 7 * 24 * time.Hour
	changesFor        = 30 * 24 * time.Hour
)

// providersData is the Providers page.
type providersData struct {
	Providers []providerView
	Products  []productView
	Changes   []store.AdminEvent // operators' pauses, resumes and catalog changes
	Done      string             // what the last pause or resume did
}

// providerView is one configured provider: whether new purchases route to
// it (paused by an operator, tripped by the health rule), its deposit, its
// recent alerts, and the pause or resume form.
type providerView struct {
	Name        string
	Paused      bool
	PausedSince *time.Time // when the pause state last changed
	Tripped     bool       // this process's health rule leaves it out
	Balance     balanceView
	Offers      int // the offers it has in the catalog
	Alerts      []store.AlertListRecentRow
	CSRF        string
}

// productView is one product with its offers in route order and the route
// a purchase of it would get now.
type productView struct {
	Product store.Product
	Route   []string
	Offers  []offerView
}

// offerView is one provider's offer of a product; Position is its place
// in the route a purchase would get now (0: not in it).
type offerView struct {
	store.Offer
	Position int
}

// providers is GET /console/providers: each configured provider's state
// (paused, tripped), deposit, alerts and pause/resume button; each product's
// offers with the route a new purchase would take; operators' recent
// changes.
func (c *Console) providers(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := r.Context()
	balances, err := c.balances(ctx)
	if err != nil {
		c.internal(w, r, s, err)
		return
	}
	states, err := c.q.ProviderList(ctx)
	if err != nil {
		c.internal(w, r, s, fmt.Errorf("list provider states: %w", err))
		return
	}
	catalog, err := c.cfg.Flow.CatalogForOperators(ctx)
	if err != nil {
		c.internal(w, r, s, err)
		return
	}
	routes, err := c.cfg.Flow.Catalog(ctx)
	if err != nil {
		c.internal(w, r, s, err)
		return
	}
	data := providersData{Done: doneParam(r.URL.Query(), c.cfg.Flow.ProviderNames())}
	routeOf := map[string][]string{}
	for _, p := range routes {
		routeOf[p.Product.Code] = p.Route
	}
	offers := map[string]int{}
	for _, p := range catalog {
		pv := productView{Product: p.Product, Route: routeOf[p.Product.Code]}
		for _, o := range p.Offers {
			offers[o.Provider]++
			pv.Offers = append(pv.Offers, offerView{Offer: o, Position: slices.Index(pv.Route, o.Provider) + 1})
		}
		data.Products = append(data.Products, pv)
	}
	tripped := c.cfg.Flow.Tripped()
	for _, name := range c.cfg.Flow.ProviderNames() {
		pv := providerView{Name: name, Tripped: tripped[name], Offers: offers[name], CSRF: s.CSRF, Balance: balanceView{Provider: name}}
		if i := slices.IndexFunc(states, func(p store.Provider) bool { return p.Name == name }); i >= 0 {
			pv.Paused, pv.PausedSince = states[i].Paused, &states[i].UpdatedAt
		}
		if i := slices.IndexFunc(balances, func(b balanceView) bool { return b.Provider == name }); i >= 0 {
			pv.Balance = balances[i]
		}
		if pv.Alerts, err = c.q.AlertListRecent(ctx, store.AlertListRecentParams{
			Since: c.now().Add(-providerAlertsFor), Provider: &name, RowLimit: 50,
		}); err != nil {
			c.internal(w, r, s, fmt.Errorf("list %s alerts: %w", name, err))
			return
		}
		data.Providers = append(data.Providers, pv)
	}
	if data.Changes, err = c.q.AdminEventListByAction(ctx, store.AdminEventListByActionParams{
		Actions: []string{"provider.pause", "provider.resume", "product.put"}, Since: c.now().Add(-changesFor), RowLimit: 50,
	}); err != nil {
		c.internal(w, r, s, fmt.Errorf("list operators' changes: %w", err))
		return
	}
	c.render(w, r, http.StatusOK, "providers", s, "Providers", data, "")
}

// doneParam says what a pause or resume just did, from the redirect's
// query; "" for anything but a configured provider.
func doneParam(v url.Values, names []string) string {
	name := v.Get("provider")
	if !slices.Contains(names, name) {
		return ""
	}
	switch v.Get("done") {
	case "paused":
		return name + " is paused: new purchases route around it, and no purchase fails over to it; purchases already at it finish there."
	case "resumed":
		return name + " is resumed: new purchases may route to it again."
	}
	return ""
}

// pause is POST /console/providers/{name}/pause.
func (c *Console) pause(w http.ResponseWriter, r *http.Request, s *session) {
	c.setPaused(w, r, s, true)
}

// resume is POST /console/providers/{name}/resume.
func (c *Console) resume(w http.ResponseWriter, r *http.Request, s *session) {
	c.setPaused(w, r, s, false)
}

// setPaused pauses or resumes a provider through flow.Service.SetPaused,
// which audits it in admin_events with the operator's name.
func (c *Console) setPaused(w http.ResponseWriter, r *http.Request, s *session, paused bool) {
	name := r.PathValue("name")
	err := c.cfg.Flow.SetPaused(r.Context(), name, paused, s.Operator)
	if errors.Is(err, flow.ErrNotFound) {
		c.fail(w, r, s, http.StatusNotFound, fmt.Sprintf("name: no configured provider is named %q.", name))
		return
	}
	if err != nil {
		c.internal(w, r, s, err)
		return
	}
	done := "resumed"
	if paused {
		done = "paused"
	}
	c.log.InfoContext(r.Context(), "console: provider "+done, "provider", name, "operator", s.Operator)
	http.Redirect(w, r, "/console/providers?"+url.Values{"done": {done}, "provider": {name}}.Encode(), http.StatusSeeOther)
}
