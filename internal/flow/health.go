package flow

import (
	"sync"
	"time"

	"github.com/ppob-orchestrator/orchestrator/internal/providers"
)

// health is routing's health rule, per process (docs/routing.md#health): a
// provider that answered unknown or rejected to PROVIDER_TRIP_AFTER
// consecutive calls is left out of new routes for PROVIDER_TRIP_FOR, then
// tried again. It never moves a purchase already at a provider. It is safe
// for concurrent use.
type health struct {
	after   int
	tripFor time.Duration
	metrics *Metrics

	mu     sync.Mutex
	streak map[string]int
	until  map[string]time.Time
}

func newHealth(after int, tripFor time.Duration, m *Metrics) *health {
	return &health{after: after, tripFor: tripFor, metrics: m, streak: map[string]int{}, until: map[string]time.Time{}}
}

// observe counts one provider answer and reports whether it tripped the
// provider just now.
func (h *health) observe(provider string, o providers.Outcome, now time.Time) bool {
	if h == nil || h.after <= 0 {
		return false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if o != providers.Unknown && o != providers.Rejected {
		h.streak[provider] = 0
		return false
	}
	h.streak[provider]++
	if h.streak[provider] < h.after || now.Before(h.until[provider]) {
		return false
	}
	h.until[provider] = now.Add(h.tripFor)
	h.streak[provider] = 0
	h.metrics.Tripped.WithLabelValues(provider).Set(1)
	return true
}

// tripped returns the providers left out of new routes now.
func (h *health) tripped(now time.Time) map[string]bool {
	out := map[string]bool{}
	if h == nil {
		return out
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for p, until := range h.until {
		if now.Before(until) {
			out[p] = true
			continue
		}
		delete(h.until, p)
		h.metrics.Tripped.WithLabelValues(p).Set(0)
	}
	return out
}
