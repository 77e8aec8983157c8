package chaos

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/ppob-orchestrator/orchestrator/internal/providers/klikoo"
)

// The run pauses Klikoo once, through the admin API, half way through the
// load: docs/routing.md's pause must route new purchases around it, refuse the
// products it alone sells (409 product_unavailable, nothing created), let
// purchases already at it finish there, and keep failovers from moving to
// it. pausedProvider is the provider paused.
const pausedProvider = klikoo.Name

// pauseWindow is when the run pauses the provider, and for how long: a
// third into the time the purchases take to create, for a third of it (at
// most 30 s), so that creations, payments and failovers all meet it.
func pauseWindow(creating time.Duration) (at, d time.Duration) {
	return creating / 3, min(30*time.Second, creating/3).Round(time.Second)
}

// pause pauses provider at begin+at for d, then resumes it, and returns the
// time it was paused: from before the pause was asked for until after the
// resume answered. A canceled ctx resumes it at once.
func (r *run) pause(ctx context.Context, provider string, begin time.Time, at, d time.Duration) (Pause, error) {
	p := Pause{Provider: provider}
	if !sleepCtx(ctx, time.Until(begin.Add(at))) {
		return p, nil
	}
	var out map[string]any
	p.From = time.Now()
	if err := r.postAPI(ctx, r.adminToken, "/admin/providers/"+provider+"/pause", nil, http.StatusOK, &out); err != nil {
		return p, fmt.Errorf("pause %s: %w", provider, err)
	}
	r.say("paused %s at +%s for %s", provider, time.Since(begin).Round(time.Second), d)
	sleepCtx(ctx, d)
	// The resume must happen even when the load is over early.
	resume, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	if err := r.postAPI(resume, r.adminToken, "/admin/providers/"+provider+"/resume", nil, http.StatusOK, &out); err != nil {
		return p, fmt.Errorf("resume %s: %w", provider, err)
	}
	p.To = time.Now()
	r.say("resumed %s at +%s", provider, time.Since(begin).Round(time.Second))
	return p, nil
}

// refusal is an order the API refused with 409 product_unavailable: when
// it was sent and answered.
type refusal struct {
	order            Order
	sent, answeredAt time.Time
}

// refusedWhilePaused reports whether a refusal is one the pauses explain:
// every offer of the order's product is at a paused provider, and the
// request was in flight while it was.
func refusedWhilePaused(f refusal, pauses []Pause) bool {
	for x := &f.order.Kind; x != nil; x = x.Then {
		paused := false
		for _, p := range pauses {
			if p.Provider == x.Provider && !p.To.IsZero() &&
				!f.answeredAt.Before(p.From.Add(-pauseSlack)) && !f.sent.After(p.To.Add(pauseSlack)) {
				paused = true
			}
		}
		if !paused {
			return false
		}
	}
	return true
}
