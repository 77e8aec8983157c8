package flow

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

// What the API reads goes through the Service, on the API's pool, with the
// store's "no rows" translated once, here, into ErrNotFound.

// PurchaseOf returns the client's purchase id; another client's purchase is
// ErrNotFound, exactly as one that does not exist.
func (s *Service) PurchaseOf(ctx context.Context, clientID, id uuid.UUID) (store.Purchase, error) {
	p, err := store.New(s.apiPool).PurchaseGetForClient(ctx, store.PurchaseGetForClientParams{ID: id, ClientID: clientID})
	if err != nil {
		return p, fmt.Errorf("purchase %s: %w", id, notFound(err))
	}
	return p, nil
}

// Views renders purchases as clients see them, with the attempts each
// moved on from (read only for those that failed over).
func (s *Service) Views(ctx context.Context, ps ...store.Purchase) ([]PurchaseView, error) {
	ended, err := s.endedAttempts(ctx, store.New(s.apiPool), ps)
	if err != nil {
		return nil, err
	}
	out := make([]PurchaseView, len(ps))
	for i, p := range ps {
		out[i] = ViewPurchase(p, ended[p.ID])
	}
	return out, nil
}

// View renders one purchase as clients see it.
func (s *Service) View(ctx context.Context, p store.Purchase) (PurchaseView, error) {
	v, err := s.Views(ctx, p)
	if err != nil {
		return PurchaseView{}, err
	}
	return v[0], nil
}

// endedAttempts reads the attempts the purchases moved on from, by
// purchase; none is read for purchases that never failed over.
func (s *Service) endedAttempts(ctx context.Context, q *store.Queries, ps []store.Purchase) (map[uuid.UUID][]store.PurchaseAttempt, error) {
	var ids []uuid.UUID
	for _, p := range ps {
		if p.Attempt > 1 {
			ids = append(ids, p.ID)
		}
	}
	out := map[uuid.UUID][]store.PurchaseAttempt{}
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := q.PurchaseAttemptListMany(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("attempts of %d purchases: %w", len(ids), err)
	}
	for _, a := range rows {
		out[a.PurchaseID] = append(out[a.PurchaseID], a)
	}
	return out, nil
}

// Purchases lists a client's purchases as the parameters say (keyset
// pagination, newest first).
func (s *Service) Purchases(ctx context.Context, params store.PurchaseListForClientParams) ([]store.Purchase, error) {
	rows, err := store.New(s.apiPool).PurchaseListForClient(ctx, params)
	if err != nil {
		return nil, fmt.Errorf("list purchases of %s: %w", params.ClientID, err)
	}
	return rows, nil
}

// Events returns purchase p's audit timeline in seq order, each provider
// call's event with its call's code, HTTP status, latency and reason as its
// data. Only p's ID and CreatedAt are read: the months since it are read.
func (s *Service) Events(ctx context.Context, p store.Purchase) ([]store.PurchaseEvent, error) {
	rows, err := store.New(s.apiPool).EventListByPurchaseShown(ctx, store.EventListByPurchaseShownParams{
		PurchaseID: p.ID, AuditSince: store.AuditSince(p.CreatedAt),
	})
	if err != nil {
		return nil, fmt.Errorf("events of %s: %w", p.ID, err)
	}
	events := make([]store.PurchaseEvent, len(rows))
	for i, r := range rows {
		events[i] = store.PurchaseEvent(r)
	}
	return events, nil
}

// CatalogProduct is a product as clients see it: the route a purchase of
// it would get now (the usable offers' providers in route order) and the
// first of those offers, nil when none is usable.
type CatalogProduct struct {
	Product store.Product
	Route   []string
	First   *store.Offer
}

// Catalog returns every product with the route a purchase would get now.
func (s *Service) Catalog(ctx context.Context) ([]CatalogProduct, error) {
	var seen seenAtCreate
	var products []store.Product
	var offers []store.Offer
	err := pgx.BeginFunc(ctx, s.apiPool, func(tx pgx.Tx) error {
		return store.Pipeline(ctx, tx, func(q *store.Queries) error {
			var errs [4]error
			products, errs[0] = q.ProductList(ctx)
			offers, errs[1] = q.OfferList(ctx)
			seen.providers, errs[2] = q.ProviderList(ctx)
			seen.deposits, errs[3] = q.ProviderBalanceLatestAll(ctx)
			return errors.Join(errs[:]...)
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read the catalog: %w", err)
	}
	out := make([]CatalogProduct, 0, len(products))
	for _, p := range products {
		seen.offers = seen.offers[:0]
		for _, o := range offers {
			if o.ProductCode == p.Code {
				seen.offers = append(seen.offers, o)
			}
		}
		c := CatalogProduct{Product: p}
		c.Route, _ = s.route(seen)
		if len(c.Route) > 0 {
			o := *offerOf(seen.offers, c.Route[0])
			c.First = &o
		}
		out = append(out, c)
	}
	return out, nil
}

// ClientByKeyHash returns the enabled client whose API key hashes to hash,
// or ErrNotFound.
func (s *Service) ClientByKeyHash(ctx context.Context, hash []byte) (store.Client, error) {
	cl, err := store.New(s.apiPool).ClientGetByKeyHash(ctx, hash)
	if err != nil {
		return cl, fmt.Errorf("client by key: %w", notFound(err))
	}
	return cl, nil
}
