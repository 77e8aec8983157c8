package flow

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

// decideRouted asks decide, and when the decision would fail over and
// needs the next offer (Step.AskNext), reads it in tx and asks again: the
// common step never reads the offers (docs/routing.md).
func (s *Service) decideRouted(ctx context.Context, tx pgx.Tx, cur store.Purchase, decide func(NextOffer) Step) (Step, error) {
	st := decide(Unread)
	if !st.AskNext {
		return st, nil
	}
	next, err := s.nextOffer(ctx, tx, cur)
	if err != nil {
		return st, err
	}
	return decide(next), nil
}

// nextOffer reads the offer a failover of p would move to: the first
// provider after p's current one in its route whose offer is enabled,
// active and of an unpaused provider now, and configured in this process.
func (s *Service) nextOffer(ctx context.Context, tx pgx.Tx, p store.Purchase) (NextOffer, error) {
	var (
		offers []store.Offer
		paused []store.Provider
	)
	err := store.Pipeline(ctx, tx, func(q *store.Queries) error {
		var offersErr, pausedErr error
		offers, offersErr = q.OfferListByProduct(ctx, p.ProductCode)
		paused, pausedErr = q.ProviderList(ctx)
		return errors.Join(offersErr, pausedErr)
	})
	if err != nil {
		return NextOffer{}, fmt.Errorf("offers of %s: %w", p.ProductCode, err)
	}
	at := slices.Index(p.Route, p.Provider)
	if at < 0 {
		return NextOffer{Known: true}, nil
	}
	for _, provider := range p.Route[at+1:] {
		o := offerOf(offers, provider)
		_, configured := s.cfg.Providers[provider]
		stopped := slices.ContainsFunc(paused, func(x store.Provider) bool { return x.Name == provider && x.Paused })
		if o != nil && o.Enabled && o.Active && configured && !stopped {
			return NextOffer{Known: true, Offer: o}, nil
		}
	}
	return NextOffer{Known: true}, nil
}

// stale reports whether a job queued for attempt belongs to an attempt p
// moved on from (0: queued before routing, always current).
func stale(attempt int32, p store.Purchase) bool {
	return attempt != 0 && attempt != p.Attempt
}

// offer reads p's current offer (its product's family comes with it).
func (s *Service) offer(ctx context.Context, q *store.Queries, p store.Purchase) (store.Offer, error) {
	row, err := q.OfferGet(ctx, store.OfferGetParams{ProductCode: p.ProductCode, Provider: p.Provider})
	if err != nil {
		return store.Offer{}, fmt.Errorf("offer of %s at %s: %w", p.ProductCode, p.Provider, notFound(err))
	}
	return row.Offer, nil
}
