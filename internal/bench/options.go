package bench

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// Options are the benchmark's flags. The zero value is not valid; use
// ParseOptions or DefaultOptions.
type Options struct {
	Purchases        int             // M: chains of the floors and purchases of the instant run
	Inflight         int             // purchases of the real-world run, all created before the batch drains
	Concurrency      int             // concurrent API clients creating purchases
	Out              string          // write the full result as JSON here ("" : don't)
	CPUProfile       string          // write a CPU profile of the whole run here ("" : don't)
	SkipFloor        bool            // skip both engine floors (no ratio)
	SkipInstant      bool            // skip the instant-provider run
	SkipInflight     bool            // skip the real-world run
	SkipLatency      bool            // skip the latency part
	LookupBackoff    []time.Duration // LOOKUP_BACKOFF for the bench's service
	Latency          time.Duration   // real-world provider latency
	Jitter           time.Duration   // uniform ± around Latency
	LatencyRate      float64         // purchases per second of the latency part, at a steady pace
	LatencyPurchases int             // purchases of each scenario of the latency part
	BestFloor        FloorSettings   // River and pool of the best floor
	Preload          int             // purchases of a year's history to preload before the runs (0: none; bigtables.go)
	ExplainOut       string          // write the preload's probes' plans here ("" : don't)
	StatementsOut    string          // write the instant run's statements (pg_stat_statements) here ("" : don't)
}

// FloorSettings are what a floor's River client and pool run with.
// A FloorResult carries them as they ran.
type FloorSettings struct {
	Workers           int
	PoolConns         int32
	FetchCooldown     time.Duration
	FetchPollInterval time.Duration
	PlanCacheMode     string // PostgreSQL's plan_cache_mode for the floor's sessions
}

// The best floor's defaults: River at its best for the floor's chain on a
// 2-core machine (docs/performance.md): many workers are cheap goroutines,
// a pool large enough that none waits for a connection, a fetch that
// neither waits for a poll nor for a long cooldown, and generic plans:
// River's JobCompleteTx statement is otherwise planned again on most calls
// (the floor went from about 500 to 700 chains/s with them).
const (
	DefaultBestFloorWorkers       = 100
	DefaultBestFloorPoolConns     = 20
	DefaultBestFloorFetchCooldown = 2 * time.Millisecond
	DefaultBestFloorFetchPoll     = 20 * time.Millisecond
	DefaultBestFloorPlanCacheMode = "force_generic_plan"
)

// planCacheModes are the values PostgreSQL accepts for plan_cache_mode.
var planCacheModes = []string{"auto", "force_generic_plan", "force_custom_plan"}

// DefaultLookupBackoff is the status-lookup schedule of the bench runs:
// short, so that the run measures the engine and not the schedule of
// invariant 10 (docs/invariants.md#10-nothing-waits-forever), whose first
// lookup waits 5 s.
const DefaultLookupBackoff = "200ms,500ms,1s,2s"

// maxFloorPool bounds --floor-pool: the throwaway cluster allows 200
// connections, and the floor runs before the service opens its pools.
const maxFloorPool = 100

// DefaultOptions returns the defaults of `orchestrator bench`.
func DefaultOptions() Options {
	o, _ := ParseOptions(nil)
	return o
}

// ParseOptions parses the bench's arguments; every error names its flag.
func ParseOptions(args []string) (Options, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var o Options
	fs.IntVar(&o.Purchases, "purchases", 2000, "M: chains of each floor and instant-provider purchases")
	fs.IntVar(&o.Inflight, "inflight", 5000, "purchases of the real-world run, in flight at once")
	fs.IntVar(&o.Concurrency, "concurrency", 8, "concurrent API clients")
	fs.StringVar(&o.Out, "out", "", "write the full result as JSON to this file")
	fs.StringVar(&o.CPUProfile, "cpuprofile", "", "write a CPU profile (pprof) of the run to this file")
	fs.BoolVar(&o.SkipFloor, "skip-floor", false, "skip both engine floors")
	fs.BoolVar(&o.SkipInstant, "skip-instant", false, "skip the instant-provider run")
	fs.BoolVar(&o.SkipInflight, "skip-inflight", false, "skip the real-world run")
	fs.BoolVar(&o.SkipLatency, "skip-latency", false, "skip the latency part")
	backoff := fs.String("lookup-backoff", DefaultLookupBackoff, "LOOKUP_BACKOFF of the bench's service")
	fs.DurationVar(&o.Latency, "latency", 300*time.Millisecond, "real-world provider latency")
	fs.DurationVar(&o.Jitter, "jitter", 100*time.Millisecond, "uniform ± around --latency")
	fs.Float64Var(&o.LatencyRate, "latency-rate", 10, "purchases per second of the latency part")
	fs.IntVar(&o.LatencyPurchases, "latency-purchases", 300, "purchases of each scenario of the latency part")
	fs.IntVar(&o.BestFloor.Workers, "floor-workers", DefaultBestFloorWorkers, "River workers of the best floor")
	var poolConns int
	fs.IntVar(&poolConns, "floor-pool", DefaultBestFloorPoolConns, "connections of the best floor's pool")
	fs.DurationVar(&o.BestFloor.FetchCooldown, "floor-fetch-cooldown", DefaultBestFloorFetchCooldown, "River FetchCooldown of the best floor")
	fs.DurationVar(&o.BestFloor.FetchPollInterval, "floor-fetch-poll", DefaultBestFloorFetchPoll, "River FetchPollInterval of the best floor")
	fs.StringVar(&o.BestFloor.PlanCacheMode, "floor-plan-cache-mode", DefaultBestFloorPlanCacheMode, "PostgreSQL plan_cache_mode of the best floor's sessions")
	fs.IntVar(&o.Preload, "preload", 0, "purchases of a year's history to preload before the runs (0: none)")
	fs.StringVar(&o.ExplainOut, "explain-out", "", "write the plans of the preload's probes to this file")
	fs.StringVar(&o.StatementsOut, "statements-out", "", "write where the database's time went in the instant run, statement by statement, to this file")
	if err := fs.Parse(args); err != nil {
		return o, fmt.Errorf("bench: %w (flags: --purchases, --inflight, --concurrency, --out, --cpuprofile, "+
			"--skip-floor, --skip-instant, --skip-inflight, --skip-latency, --lookup-backoff, --latency, --jitter, "+
			"--latency-rate, --latency-purchases, --floor-workers, --floor-pool, --floor-fetch-cooldown, --floor-fetch-poll, "+
			"--floor-plan-cache-mode, --preload, --explain-out, --statements-out)", err)
	}

	if fs.NArg() > 0 {
		return o, fmt.Errorf("bench: unexpected argument %q", fs.Arg(0))
	}
	switch {
	case o.Purchases < 1 || o.Purchases > 1_000_000:
		return o, errors.New("bench: --purchases must be from 1 to 1000000")
	case o.Inflight < 1 || o.Inflight > 1_000_000:
		return o, errors.New("bench: --inflight must be from 1 to 1000000")
	case o.Concurrency < 1 || o.Concurrency > 10_000:
		return o, errors.New("bench: --concurrency must be from 1 to 10000")
	case o.Latency < 0 || o.Latency > 10*time.Second:
		return o, errors.New("bench: --latency must be from 0 to 10s")
	case o.Jitter < 0 || o.Jitter > o.Latency:
		return o, errors.New("bench: --jitter must be from 0 to --latency")
	case o.LatencyRate <= 0 || o.LatencyRate > 1000:
		return o, errors.New("bench: --latency-rate must be above 0 and at most 1000 purchases per second")
	case o.LatencyPurchases < 1 || o.LatencyPurchases > 100_000:
		return o, errors.New("bench: --latency-purchases must be from 1 to 100000")
	case o.BestFloor.Workers < 1 || o.BestFloor.Workers > 10_000:
		return o, errors.New("bench: --floor-workers must be from 1 to 10000")
	case poolConns < 2 || poolConns > maxFloorPool:
		return o, fmt.Errorf("bench: --floor-pool must be from 2 to %d (River's listener holds one connection)", maxFloorPool)
	case o.BestFloor.FetchCooldown < time.Millisecond:
		return o, errors.New("bench: --floor-fetch-cooldown must be at least 1ms (River's minimum)")
	case o.BestFloor.FetchPollInterval < o.BestFloor.FetchCooldown || o.BestFloor.FetchPollInterval > time.Minute:
		return o, errors.New("bench: --floor-fetch-poll must be from --floor-fetch-cooldown to 1m")
	case !slices.Contains(planCacheModes, o.BestFloor.PlanCacheMode):
		return o, fmt.Errorf("bench: --floor-plan-cache-mode must be one of %s", strings.Join(planCacheModes, ", "))
	case o.Preload < 0 || o.Preload > MaxPreload:
		return o, fmt.Errorf("bench: --preload must be from 0 to %d", MaxPreload)
	case o.ExplainOut != "" && o.Preload == 0:
		return o, errors.New("bench: --explain-out needs --preload")
	case o.StatementsOut != "" && o.SkipInstant:
		return o, errors.New("bench: --statements-out needs the instant run (drop --skip-instant)")
	case o.SkipFloor && o.SkipInstant && o.SkipInflight && o.SkipLatency && o.Preload == 0:
		return o, errors.New("bench: --skip-floor, --skip-instant, --skip-inflight and --skip-latency together leave nothing to run")
	}
	o.BestFloor.PoolConns = int32(poolConns)
	for _, part := range strings.Split(*backoff, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(part))
		if err != nil || d <= 0 {
			return o, fmt.Errorf("bench: --lookup-backoff must be a comma-separated list of positive durations like 200ms,1s, got %q", *backoff)
		}
		o.LookupBackoff = append(o.LookupBackoff, d)
	}
	return o, nil
}
