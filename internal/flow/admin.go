package flow

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ppob-orchestrator/orchestrator/internal/providers"
	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

// Operators change the catalog and pause providers (docs/routing.md); every
// change is audited in admin_events: who, what, before and after.

// ProductSpec is an operator's definition of a product and its offers. It
// replaces the product's offers: an offer left out is kept, inactive, for
// the purchases that may still be at it.
type ProductSpec struct {
	Code   string      `json:"-"`
	Name   string      `json:"name"`
	Family string      `json:"family"`
	Offers []OfferSpec `json:"offers"`
}

// OfferSpec is one provider's offer of a product. Active defaults to true.
type OfferSpec struct {
	Provider            string `json:"provider"`
	ProviderProductCode string `json:"provider_product_code"`
	ItemCode            string `json:"item_code,omitempty"`
	Inquiry             string `json:"inquiry"`
	Priority            *int32 `json:"priority"`
	Active              *bool  `json:"active,omitempty"`
}

// CatalogAdmin is a product with every offer, as operators see it.
type CatalogAdmin struct {
	Product store.Product
	Offers  []store.Offer
}

var productCodeRe = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// validate lists what is wrong with spec, each naming its field.
func (spec ProductSpec) validate(known func(string) bool) error {
	var errs []FieldError
	bad := func(field, msg string) { errs = append(errs, FieldError{field, msg}) }
	if !productCodeRe.MatchString(spec.Code) {
		bad("code", "must be 1-64 of A-Z a-z 0-9 . _ -")
	}
	if spec.Name == "" || len(spec.Name) > 200 {
		bad("name", "is required, at most 200 characters")
	}
	if !slices.Contains(providers.Families, providers.Family(spec.Family)) {
		bad("family", fmt.Sprintf("must be one of %v", providers.Families))
	}
	if len(spec.Offers) == 0 {
		bad("offers", "needs at least one offer")
	}
	seen := map[string]bool{}
	for i, o := range spec.Offers {
		field := fmt.Sprintf("offers[%d].", i)
		switch {
		case !known(o.Provider):
			bad(field+"provider", fmt.Sprintf("%q is not a configured provider", o.Provider))
		case seen[o.Provider]:
			bad(field+"provider", "a second offer of "+o.Provider+": a product has at most one offer per provider")
		}
		seen[o.Provider] = true
		if o.ProviderProductCode == "" || len(o.ProviderProductCode) > 100 {
			bad(field+"provider_product_code", "is required, at most 100 characters")
		}
		if o.Inquiry != "required" && o.Inquiry != "optional" && o.Inquiry != "none" {
			bad(field+"inquiry", "must be required, optional or none")
		}
		if o.Priority == nil || *o.Priority < 0 || *o.Priority > 1_000_000 {
			bad(field+"priority", "is required, a whole number from 0 (first) to 1000000")
		}
	}
	if len(errs) > 0 {
		return &ValidationError{Fields: errs}
	}
	return nil
}

// CatalogForOperators returns every product with all its offers.
func (s *Service) CatalogForOperators(ctx context.Context) ([]CatalogAdmin, error) {
	q := store.New(s.apiPool)
	products, err := q.ProductList(ctx)
	if err != nil {
		return nil, fmt.Errorf("list products: %w", err)
	}
	offers, err := q.OfferList(ctx)
	if err != nil {
		return nil, fmt.Errorf("list offers: %w", err)
	}
	out := make([]CatalogAdmin, len(products))
	for i, p := range products {
		out[i].Product = p
		for _, o := range offers {
			if o.ProductCode == p.Code {
				out[i].Offers = append(out[i].Offers, o)
			}
		}
	}
	return out, nil
}

// PutProduct creates or replaces a product and its offers, audited as
// actor's. An existing offer keeps what the provider's catalog told of it
// (its price, and whether the provider lists it); a new one's price is
// unknown until the next refresh.
func (s *Service) PutProduct(ctx context.Context, spec ProductSpec, actor string) (CatalogAdmin, error) {
	if err := spec.validate(func(p string) bool { _, ok := s.cfg.Providers[p]; return ok }); err != nil {
		return CatalogAdmin{}, err
	}
	var out CatalogAdmin
	err := pgx.BeginFunc(ctx, s.apiPool, func(tx pgx.Tx) error {
		q := store.New(tx)
		if err := q.LockKey(ctx, catalogLock); err != nil {
			return err
		}
		before, err := q.OfferListByProduct(ctx, spec.Code)
		if err != nil {
			return err
		}
		now := s.now()
		if out.Product, err = q.ProductUpsert(ctx, store.ProductUpsertParams{Code: spec.Code, Name: spec.Name, Family: spec.Family, UpdatedAt: now}); err != nil {
			return err
		}
		for _, old := range before {
			if !slices.ContainsFunc(spec.Offers, func(o OfferSpec) bool { return o.Provider == old.Provider }) {
				spec.Offers = append(spec.Offers, OfferSpec{Provider: old.Provider, ProviderProductCode: old.ProviderProductCode,
					ItemCode: deref(old.ItemCode), Inquiry: old.Inquiry, Priority: &old.Priority, Active: ptr(false)})
			}
		}
		for _, o := range spec.Offers {
			row, err := q.OfferUpsert(ctx, offerParams(spec.Code, o, offerOf(before, o.Provider), now))
			if err != nil {
				return err
			}
			out.Offers = append(out.Offers, row)
		}
		return s.audit(ctx, q, actor, "product.put", "product:"+spec.Code, before, out.Offers)
	})
	if err != nil {
		return CatalogAdmin{}, fmt.Errorf("put product %s: %w", spec.Code, err)
	}
	return out, nil
}

// catalogLock serializes operators' catalog changes.
const catalogLock = 0x63617461 // "cata"

func offerParams(code string, o OfferSpec, old *store.Offer, now time.Time) store.OfferUpsertParams {
	p := store.OfferUpsertParams{
		ProductCode: code, Provider: o.Provider, ProviderProductCode: o.ProviderProductCode, ItemCode: nonEmpty(o.ItemCode),
		Inquiry: o.Inquiry, Priority: deref(o.Priority), Enabled: true, Active: o.Active == nil || *o.Active, UpdatedAt: now,
	}
	if old != nil && old.ProviderProductCode == o.ProviderProductCode && deref(old.ItemCode) == o.ItemCode {
		p.Price, p.PriceFetchedAt, p.Enabled = old.Price, old.PriceFetchedAt, old.Enabled
	}
	return p
}

// SetPaused pauses (or resumes) a configured provider, audited as actor's:
// a paused provider gets no new route and no failover; purchases already at
// it finish there. An unknown provider is ErrNotFound.
func (s *Service) SetPaused(ctx context.Context, provider string, paused bool, actor string) error {
	if _, ok := s.cfg.Providers[provider]; !ok {
		return fmt.Errorf("provider %q: %w", provider, ErrNotFound)
	}
	err := pgx.BeginFunc(ctx, s.apiPool, func(tx pgx.Tx) error {
		q := store.New(tx)
		was, err := q.ProviderSetPaused(ctx, store.ProviderSetPausedParams{Name: provider, Paused: paused, UpdatedAt: s.now()})
		if err != nil {
			return err
		}
		action := "provider.resume"
		if paused {
			action = "provider.pause"
		}
		return s.audit(ctx, q, actor, action, "provider:"+provider, map[string]bool{"paused": was}, map[string]bool{"paused": paused})
	})
	if err != nil {
		return fmt.Errorf("pause %s: %w", provider, err)
	}
	gauge := 0.0
	if paused {
		gauge = 1
	}
	s.metrics.Paused.WithLabelValues(provider).Set(gauge)
	return nil
}

// audit records an operator's change.
func (s *Service) audit(ctx context.Context, q *store.Queries, actor, action, subject string, before, after any) error {
	b, err := json.Marshal(before)
	if err != nil {
		return err
	}
	a, err := json.Marshal(after)
	if err != nil {
		return err
	}
	return q.AdminEventInsert(ctx, store.AdminEventInsertParams{Actor: actor, Action: action, Subject: subject, Before: b, After: a, CreatedAt: s.now()})
}
