package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Request is one purchase as a client sends it.
type Request struct {
	ReferenceID    string `json:"reference_id"`
	ProductCode    string `json:"product_code"`
	CustomerNumber string `json:"customer_number"`
}

// mixProducts are the products the bench buys in turn: both providers,
// with and without an inquiry (sandbox.Catalog).
var mixProducts = []string{"S10", "TSEL10", "PLN20", "TELKOM_POSTPAID"}

// Mix returns n purchases, tagged for uniqueness, rotating over both
// providers' products with and without an inquiry. scenario(i) names the
// simulator scenario of purchase i ("" for the default: one pending lookup,
// then SUCCESS), played by a customer number ending in 99XX.
func Mix(n int, tag string, scenario func(i int) string) []Request {
	out := make([]Request, n)
	for i := range out {
		// The default customer number's fourth-last character is 1, so it
		// never ends in 99XX.
		number := fmt.Sprintf("0812%05d1%03d", i/1000, i%1000)
		if sc := scenario(i); sc != "" {
			number = fmt.Sprintf("0812%06d99%s", i, sc)
		}
		out[i] = Request{
			ReferenceID:    fmt.Sprintf("bench-%s-%d", tag, i),
			ProductCode:    mixProducts[i%len(mixProducts)],
			CustomerNumber: number,
		}
	}
	return out
}

// InstantScenario is the instant run's mix, mostly success: 1 in 20 is
// pending for three lookups (21), 1 in 20 a customer not found (11).
func InstantScenario(i int) string {
	switch i % 20 {
	case 7:
		return "21"
	case 13:
		return "11"
	}
	return ""
}

// RealWorldScenario is the real-world run's mix: 10% pending for three
// lookups (21), the rest the default.
func RealWorldScenario(i int) string {
	if i%10 == 3 {
		return "21"
	}
	return ""
}

// LoadResult is what creating a batch over the API took.
type LoadResult struct {
	Latencies []time.Duration // of each 201, sorted
	Sent      int             // requests sent (all, unless more stopped them)
	Errors    int
	FirstErr  error
	Seconds   float64
}

// Create POSTs the requests in order to /v1/purchases from concurrency
// clients, until all are sent or more (when not nil) reports false, and
// records each answer's latency. Anything but 201 counts as an error.
func Create(ctx context.Context, hc *http.Client, baseURL, apiKey string, reqs []Request, concurrency int, more func() bool) LoadResult {
	var (
		next    atomic.Int64
		sent    atomic.Int64
		mu      sync.Mutex
		res     LoadResult
		wg      sync.WaitGroup
		started = time.Now()
	)
	fail := func(err error) {
		mu.Lock()
		res.Errors++
		if res.FirstErr == nil {
			res.FirstErr = err
		}
		mu.Unlock()
	}
	lat := make([]time.Duration, len(reqs))
	ok := make([]bool, len(reqs))
	for range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				if ctx.Err() != nil || (more != nil && !more()) {
					return
				}
				i := int(next.Add(1)) - 1
				if i >= len(reqs) {
					return
				}
				sent.Add(1)
				took, _, err := post(ctx, hc, baseURL, apiKey, reqs[i])
				if err != nil {
					fail(err)
					continue
				}
				lat[i], ok[i] = took, true
			}
		}()
	}
	wg.Wait()
	res.Seconds = time.Since(started).Seconds()
	res.Sent = int(sent.Load())
	for i, d := range lat {
		if ok[i] {
			res.Latencies = append(res.Latencies, d)
		}
	}
	slices.Sort(res.Latencies)
	return res
}

// post creates one purchase over the API and returns how long its 201 took
// and when it was read in full (the client's answer time, on this machine's
// wall clock). Anything but 201 is an error.
func post(ctx context.Context, hc *http.Client, baseURL, apiKey string, r Request) (took time.Duration, answered time.Time, err error) {
	body, _ := json.Marshal(r)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, baseURL+"/v1/purchases", bytes.NewReader(body))
	if err != nil {
		return 0, time.Time{}, err
	}
	req.Header.Set("Authorization", "Bearer "+apiKey)
	req.Header.Set("Content-Type", "application/json")
	t0 := time.Now()
	resp, err := hc.Do(req)
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("POST /v1/purchases %s: %w", r.ReferenceID, err)
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	answered = time.Now()
	if resp.StatusCode != http.StatusCreated {
		return 0, time.Time{}, fmt.Errorf("POST /v1/purchases %s: %s: %.300s", r.ReferenceID, resp.Status, answer)
	}
	return answered.Sub(t0), answered, nil
}

// Percentile returns the p-th percentile (0 < p ≤ 100) of sorted, by the
// nearest-rank method; 0 for none.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(float64(len(sorted))*p/100 + 0.999999999)
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

// NewHTTPClient returns a client that keeps a connection per concurrent
// caller, as a partner's app would.
func NewHTTPClient(concurrency int) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = concurrency * 2
	tr.MaxIdleConnsPerHost = concurrency * 2
	return &http.Client{Transport: tr, Timeout: 60 * time.Second}
}
