package flow

import (
	"context"
	"fmt"

	"github.com/google/uuid"

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

// Purchases lists a client's purchases as the parameters say (keyset
// pagination, newest first).
func (s *Service) Purchases(ctx context.Context, params store.PurchaseListForClientParams) ([]store.Purchase, error) {
	rows, err := store.New(s.apiPool).PurchaseListForClient(ctx, params)
	if err != nil {
		return nil, fmt.Errorf("list purchases of %s: %w", params.ClientID, err)
	}
	return rows, nil
}

// Events returns a purchase's audit timeline in seq order.
func (s *Service) Events(ctx context.Context, purchaseID uuid.UUID) ([]store.PurchaseEvent, error) {
	events, err := store.New(s.apiPool).EventListByPurchase(ctx, purchaseID)
	if err != nil {
		return nil, fmt.Errorf("events of %s: %w", purchaseID, err)
	}
	return events, nil
}

// Products returns the enabled products of the catalog.
func (s *Service) Products(ctx context.Context) ([]store.Product, error) {
	products, err := store.New(s.apiPool).ProductListEnabled(ctx)
	if err != nil {
		return nil, fmt.Errorf("list products: %w", err)
	}
	return products, nil
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
