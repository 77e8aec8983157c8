package bench

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
)

// Target is the service under test, running in this process: its API and
// both provider simulators.
type Target struct {
	BaseURL string
	// NewClient creates an API client and returns its id and key.
	NewClient func(ctx context.Context, name string) (uuid.UUID, string, error)
	// SetLatency sets both simulators' latency (uniform ± jitter).
	SetLatency func(latency, jitter time.Duration)
	// CallbackDelay is how long after a payment the simulators call back:
	// a run waits that long after draining, so its counters include them.
	CallbackDelay time.Duration
}

// FlowResult is one run of the purchase flow.
type FlowResult struct {
	Name               string       `json:"name"`
	Purchases          int          `json:"purchases"`
	Concurrency        int          `json:"concurrency"`
	LatencyMS          int64        `json:"provider_latency_ms"`
	JitterMS           int64        `json:"provider_jitter_ms"`
	Succeeded          int64        `json:"succeeded"`
	Failed             int64        `json:"failed"`
	Other              int64        `json:"other"`
	CreateSeconds      float64      `json:"create_seconds"`
	CreateErrors       int          `json:"create_errors"`
	CreateP50MS        float64      `json:"create_p50_ms"`
	CreateP95MS        float64      `json:"create_p95_ms"`
	CreateP99MS        float64      `json:"create_p99_ms"`
	CreateMaxMS        float64      `json:"create_max_ms"`
	DrainSeconds       float64      `json:"drain_seconds"` // first creation to last end
	PurchasesPerSecond float64      `json:"purchases_per_s"`
	Commits            int64        `json:"commits"`
	CommitsPerPurchase float64      `json:"commits_per_purchase"`
	Bytes              int64        `json:"db_bytes"`
	BytesPerPurchase   float64      `json:"db_bytes_per_purchase"`
	Tables             []TableBytes `json:"db_bytes_by_table"` // Bytes by table, largest first
	// Bytes split into River's job table (transient: deleted after
	// JOB_RETENTION) and the rest (durable).
	StorageSplit
	// CPU time per purchase: the database server's (when it runs on this
	// machine; DBCPUUnknown says why not) and the bench process's.
	DBCPUMSPerPurchase      *float64 `json:"db_cpu_ms_per_purchase,omitempty"`
	DBCPUUnknown            string   `json:"db_cpu_unknown,omitempty"`
	ProcessCPUMSPerPurchase float64  `json:"process_cpu_ms_per_purchase"`
	// DBCPUByGroup splits the database's CPU per purchase by process group
	// (CPUByGroup), largest first.
	DBCPUByGroup       []ProcessGroupCPU `json:"db_cpu_by_group,omitempty"`
	PeakRSSBytes       int64             `json:"peak_rss_bytes"`
	PeakInflight       int64             `json:"peak_inflight"`
	MaxRiverQueueDepth int64             `json:"max_river_queue_depth"`
	Samples            int               `json:"samples"`
}

// sampleEvery is how often a run samples River's queue depth and its open
// purchases (the in-flight part stops creating on that count). Each sample
// is two statements on the database the run measures: at 100 ms they were
// 7–12% of all statement time (docs/performance.md).
const sampleEvery = 250 * time.Millisecond

// RunFlow creates reqs over the API from concurrency clients (a fresh API
// client of the service for the batch), waits until every purchase has
// ended, and measures the batch. With untilOpen > 0 it stops creating once
// that many purchases are open at once (reqs must hold enough to get
// there); otherwise it creates them all.
func RunFlow(ctx context.Context, obs *Observer, t Target, name string, reqs []Request, concurrency int, untilOpen int64, timeout time.Duration) (FlowResult, error) {
	res := FlowResult{Name: name, Concurrency: concurrency}
	clientID, key, err := t.NewClient(ctx, "bench-"+name+"-"+uuid.NewString()[:8])
	if err != nil {
		return res, fmt.Errorf("%s: create API client: %w", name, err)
	}
	if err := ResetPeakRSS(); err != nil {
		return res, fmt.Errorf("%s: reset peak RSS: %w", name, err)
	}
	before, err := obs.Snapshot(ctx)
	if err != nil {
		return res, err
	}
	if err := obs.Warm(ctx); err != nil {
		return res, err
	}
	var open atomic.Int64
	stop := obs.Sample(ctx, clientID, sampleEvery, &open)
	var more func() bool
	if untilOpen > 0 {
		more = func() bool { return open.Load() < untilOpen }
	}
	load := Create(ctx, NewHTTPClient(concurrency), t.BaseURL, key, reqs, concurrency, more)
	res.Purchases = load.Sent
	if load.FirstErr != nil {
		stop()
		return res, fmt.Errorf("%s: %d of %d creations failed, the first: %w", name, load.Errors, load.Sent, load.FirstErr)
	}
	if err := obs.WaitDrained(ctx, clientID, int64(load.Sent), timeout); err != nil {
		stop()
		return res, fmt.Errorf("%s: %w", name, err)
	}
	peaks := stop()
	if peaks.Err != nil {
		return res, fmt.Errorf("%s: %w", name, peaks.Err)
	}
	rss, err := PeakRSS()
	if err != nil {
		return res, err
	}
	// Late callbacks belong to the batch's cost.
	select {
	case <-time.After(t.CallbackDelay):
	case <-ctx.Done():
		return res, ctx.Err()
	}
	after, err := obs.Snapshot(ctx)
	if err != nil {
		return res, err
	}
	batch, err := obs.Batch(ctx, clientID)
	if err != nil {
		return res, fmt.Errorf("%s: read batch: %w", name, err)
	}
	n := float64(load.Sent)
	res.Succeeded, res.Failed, res.Other = batch.Succeeded, batch.Failed, batch.Other
	res.CreateSeconds = load.Seconds
	res.CreateP50MS = ms(Percentile(load.Latencies, 50))
	res.CreateP95MS = ms(Percentile(load.Latencies, 95))
	res.CreateP99MS = ms(Percentile(load.Latencies, 99))
	res.CreateMaxMS = ms(Percentile(load.Latencies, 100))
	if !batch.FirstCreated.IsZero() && !batch.LastCompleted.IsZero() {
		res.DrainSeconds = batch.LastCompleted.Sub(batch.FirstCreated).Seconds()
		res.PurchasesPerSecond = n / res.DrainSeconds
	}
	res.Commits = after.Commits - before.Commits
	res.CommitsPerPurchase = float64(res.Commits) / n
	res.Bytes = after.Bytes - before.Bytes
	res.BytesPerPurchase = float64(res.Bytes) / n
	res.Tables = TableGrowth(before, after, load.Sent)
	res.StorageSplit = SplitGrowth(res.Tables, load.Sent)
	cpu := CPUPer(before, after, load.Sent)
	res.DBCPUMSPerPurchase, res.DBCPUUnknown, res.ProcessCPUMSPerPurchase, res.DBCPUByGroup = cpu.DBMS, cpu.Why, cpu.ProcessMS, cpu.Groups
	res.PeakRSSBytes = rss
	res.PeakInflight = peaks.Open
	res.MaxRiverQueueDepth = peaks.QueueDepth
	res.Samples = peaks.Samples
	return res, nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
