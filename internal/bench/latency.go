package bench

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"
)

// ScenarioSuccessAtOnce is the simulators' scenario 01: the payment is
// accepted, the callback comes at once and every lookup says SUCCESS
// (docs/simulators.md). Its create-to-succeeded times are the summary's
// hop_p50_ms and hop_p99_ms.
const ScenarioSuccessAtOnce = "01"

// LatencyResult is one batch of the latency part: purchases of one
// simulator scenario created at a steady rate with instant providers, and
// for each the time from its create's answer (the client's clock) to its
// completed_at (the worker's clock, taken in the transaction that ends it,
// just before its commit). The service runs in the bench's process, so both
// are this machine's wall clock.
type LatencyResult struct {
	Name          string  `json:"name"`     // "01" or "default"
	Scenario      string  `json:"scenario"` // the simulators' scenario; "" is the default
	Purchases     int     `json:"purchases"`
	RatePerSecond float64 `json:"rate_per_s"`
	Succeeded     int     `json:"succeeded"`
	NotSucceeded  int     `json:"not_succeeded"`
	CreateP50MS   float64 `json:"create_p50_ms"`
	CreateP99MS   float64 `json:"create_p99_ms"`
	P50MS         float64 `json:"to_succeeded_p50_ms"`
	P90MS         float64 `json:"to_succeeded_p90_ms"`
	P99MS         float64 `json:"to_succeeded_p99_ms"`
	MaxMS         float64 `json:"to_succeeded_max_ms"`
}

// RunLatency creates n purchases of scenario over the API, one every
// 1/rate seconds (a ticker, not a burst: each create runs on its own, so a
// slow answer does not delay the next), from a fresh API client of the
// service, waits until every one has ended and measures each one's time
// from its create's answer to succeeded. Providers should answer at once
// (Target.SetLatency(0, 0)); a purchase that ends otherwise is counted in
// NotSucceeded.
func RunLatency(ctx context.Context, obs *Observer, t Target, scenario string, n int, rate float64, timeout time.Duration) (LatencyResult, error) {
	name := scenario
	if name == "" {
		name = "default"
	}
	res := LatencyResult{Name: name, Scenario: scenario, Purchases: n, RatePerSecond: rate}
	clientID, key, err := t.NewClient(ctx, "bench-latency-"+name)
	if err != nil {
		return res, fmt.Errorf("latency %s: create API client: %w", name, err)
	}
	if err := obs.Warm(ctx); err != nil {
		return res, err
	}
	reqs := Mix(n, "latency-"+name, func(int) string { return scenario })
	answered, creates, err := pace(ctx, NewHTTPClient(4), t.BaseURL, key, reqs, rate)
	if err != nil {
		return res, fmt.Errorf("latency %s: %w", name, err)
	}
	if err := obs.WaitDrained(ctx, clientID, int64(n), timeout); err != nil {
		return res, fmt.Errorf("latency %s: %w", name, err)
	}
	ends, err := obs.Ends(ctx, clientID)
	if err != nil {
		return res, fmt.Errorf("latency %s: read the purchases' ends: %w", name, err)
	}
	byRef := make(map[string]time.Time, n)
	for i, r := range reqs {
		byRef[r.ReferenceID] = answered[i]
	}
	var hops []time.Duration
	for _, e := range ends {
		at, ok := byRef[e.ReferenceID]
		if !ok || e.Status != "succeeded" || e.CompletedAt == nil {
			res.NotSucceeded++
			continue
		}
		hops = append(hops, e.CompletedAt.Sub(at))
	}
	slices.Sort(hops)
	res.Succeeded = len(hops)
	res.CreateP50MS, res.CreateP99MS = ms(Percentile(creates, 50)), ms(Percentile(creates, 99))
	res.P50MS, res.P90MS = ms(Percentile(hops, 50)), ms(Percentile(hops, 90))
	res.P99MS, res.MaxMS = ms(Percentile(hops, 99)), ms(Percentile(hops, 100))
	return res, nil
}

// pace POSTs reqs one every 1/rate seconds, each in its own goroutine, and
// returns when each was answered (wall clock) and the sorted create
// latencies. The first error ends the run once the creates under way have
// returned.
func pace(ctx context.Context, hc *http.Client, baseURL, apiKey string, reqs []Request, rate float64) ([]time.Time, []time.Duration, error) {
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
		answered = make([]time.Time, len(reqs))
		took     = make([]time.Duration, len(reqs))
	)
	tick := time.NewTicker(time.Duration(float64(time.Second) / rate))
	defer tick.Stop()
	for i := range reqs {
		if i > 0 {
			select {
			case <-tick.C:
			case <-ctx.Done():
				wg.Wait()
				return nil, nil, ctx.Err()
			}
		}
		mu.Lock()
		failed := firstErr != nil
		mu.Unlock()
		if failed {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			d, at, err := post(ctx, hc, baseURL, apiKey, reqs[i])
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if firstErr == nil {
					firstErr = err
				}
				return
			}
			answered[i], took[i] = at, d
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return nil, nil, firstErr
	}
	slices.Sort(took)
	return answered, took, nil
}
