package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/ppob-orchestrator/orchestrator/internal/flow"
	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

// The operators' catalog and providers (docs/routing.md): products and
// their offers, and pausing a provider. Every change is audited by the
// flow in admin_events.

// offerView is one provider's offer of a product, as operators see it.
type offerView struct {
	Provider            string  `json:"provider"`
	ProviderProductCode string  `json:"provider_product_code"`
	ItemCode            *string `json:"item_code"`
	Inquiry             string  `json:"inquiry"`
	Priority            int32   `json:"priority"`
	Price               *int64  `json:"price"`
	PriceFetchedAt      *string `json:"price_fetched_at"`
	Enabled             bool    `json:"enabled"`
	Active              bool    `json:"active"`
}

// adminProductView is a product with every offer.
type adminProductView struct {
	Code   string      `json:"code"`
	Name   string      `json:"name"`
	Family string      `json:"family"`
	Offers []offerView `json:"offers"`
}

func viewAdminProduct(p store.Product, offers []store.Offer) adminProductView {
	v := adminProductView{Code: p.Code, Name: p.Name, Family: p.Family, Offers: make([]offerView, 0, len(offers))}
	for _, o := range offers {
		ov := offerView{Provider: o.Provider, ProviderProductCode: o.ProviderProductCode, ItemCode: o.ItemCode, Inquiry: o.Inquiry,
			Priority: o.Priority, Price: o.Price, Enabled: o.Enabled, Active: o.Active}
		if o.PriceFetchedAt != nil {
			s := rfc3339(*o.PriceFetchedAt)
			ov.PriceFetchedAt = &s
		}
		v.Offers = append(v.Offers, ov)
	}
	return v
}

// adminProducts is GET /admin/products: every product with every offer.
func (a *api) adminProducts(c echo.Context) error {
	all, err := a.cfg.Flow.CatalogForOperators(c.Request().Context())
	if err != nil {
		return err
	}
	out := struct {
		Data []adminProductView `json:"data"`
	}{Data: make([]adminProductView, 0, len(all))}
	for _, p := range all {
		out.Data = append(out.Data, viewAdminProduct(p.Product, p.Offers))
	}
	return c.JSON(http.StatusOK, out)
}

// putProduct is PUT /admin/products/{code}: creates or replaces a product
// and its offers.
func (a *api) putProduct(c echo.Context) error {
	spec := flow.ProductSpec{Code: c.Param("code")}
	if err := a.decodeJSON(c, map[string]fieldDecoder{
		"name": text(&spec.Name), "family": text(&spec.Family), "offers": offers(&spec.Offers),
	}); err != nil {
		return err
	}
	return a.saveProduct(c, spec)
}

// putOffers is PUT /admin/products/{code}/offers: replaces the offers of a
// product that exists.
func (a *api) putOffers(c echo.Context) error {
	spec := flow.ProductSpec{Code: c.Param("code")}
	if err := a.decodeJSON(c, map[string]fieldDecoder{"offers": offers(&spec.Offers)}); err != nil {
		return err
	}
	all, err := a.cfg.Flow.CatalogForOperators(c.Request().Context())
	if err != nil {
		return err
	}
	for _, p := range all {
		if p.Product.Code == spec.Code {
			spec.Name, spec.Family = p.Product.Name, p.Product.Family
			return a.saveProduct(c, spec)
		}
	}
	return errNotFound
}

func (a *api) saveProduct(c echo.Context, spec flow.ProductSpec) error {
	saved, err := a.cfg.Flow.PutProduct(c.Request().Context(), spec, "admin")
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, viewAdminProduct(saved.Product, saved.Offers))
}

// offers decodes a list of offers, refusing members no offer has.
func offers(dst *[]flow.OfferSpec) fieldDecoder {
	return func(raw json.RawMessage) string {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(dst); err != nil {
			return "must be a list of offers {provider, provider_product_code, item_code, inquiry, priority, active}: " + err.Error()
		}
		return ""
	}
}

// pauseProvider is POST /admin/providers/{name}/pause and …/resume.
func (a *api) pauseProvider(paused bool) echo.HandlerFunc {
	return func(c echo.Context) error {
		name := c.Param("name")
		if err := a.cfg.Flow.SetPaused(c.Request().Context(), name, paused, "admin"); err != nil {
			return err
		}
		return c.JSON(http.StatusOK, map[string]any{"provider": name, "paused": paused})
	}
}
