package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/ppob-orchestrator/orchestrator/internal/bench"
	"github.com/ppob-orchestrator/orchestrator/internal/config"
	"github.com/ppob-orchestrator/orchestrator/internal/flow"
	"github.com/ppob-orchestrator/orchestrator/internal/httpapi"
	"github.com/ppob-orchestrator/orchestrator/internal/pgcluster"
	"github.com/ppob-orchestrator/orchestrator/internal/providers/simkit"
	"github.com/ppob-orchestrator/orchestrator/internal/sandbox"
	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

// benchRateLimit is the per-client rate limit of the bench's service: the
// highest RATE_LIMIT_PER_CLIENT allows, so the limiter still runs on every
// request but never throttles the load.
const benchRateLimit = 100_000

// benchCallbackDelay is the simulators' callback delay in the bench (their
// default): a run waits this long after draining, so callbacks count.
const benchCallbackDelay = 2 * time.Second

// runBench is `orchestrator bench`: against DATABASE_URL or a throwaway
// cluster with fsync on, the engine's two floors (our River settings, and
// River at its best), then the service in this process (API, workers, both
// simulators) with instant providers, at a steady low rate for the latency
// part, and with real-world providers. It prints progress, then the summary
// line last, and exits 1 when a target is missed (docs/performance.md).
func runBench(ctx context.Context, cfg *config.Config, args []string, stdout, stderr io.Writer) error {
	o, err := bench.ParseOptions(args)
	if err != nil {
		return err
	}
	c := *cfg // the bench changes its own copy only
	cfg = &c
	cfg.LookupBackoff = o.LookupBackoff
	cfg.RateLimitPerClient = benchRateLimit
	logger := benchLogger(cfg, stderr)

	if o.CPUProfile != "" {
		f, err := os.Create(o.CPUProfile)
		if err != nil {
			return fmt.Errorf("--cpuprofile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("--cpuprofile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}

	dir, err := os.MkdirTemp("", "orchestrator-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	database := "DATABASE_URL"
	if cfg.DatabaseURL == "" {
		database = "throwaway"
		start := pgcluster.StartDurable
		if o.StatementsOut != "" {
			start = pgcluster.StartDurableWithStatements
		}
		url, stop, err := localDatabase(ctx, start, filepath.Join(dir, "pgdata"), "orchestrator_bench", logger, stdout)
		if err != nil {
			return err
		}
		defer stop()
		cfg.DatabaseURL = url
	}
	if err := migrateUp(ctx, cfg.DatabaseURL); err != nil {
		return err
	}
	pool, err := newPoolSized(ctx, cfg, cfg.DBMaxConns, poolBench)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := bench.EnsureSchema(ctx, pool); err != nil {
		return err
	}
	obs := bench.NewObserver(pool)

	rc := flow.RiverConfig(flow.Config{
		Workers: cfg.Workers, StepFetchInterval: cfg.StepFetchInterval, FetchCooldown: cfg.FetchCooldown,
		JobTimeout: cfg.JobTimeout, RescueAfter: cfg.RescueAfter, Logger: logger,
	})
	cooldown, poll := bench.QueueFetch(rc)
	res := bench.Result{Settings: bench.Settings{
		CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), Database: database,
		Workers: rc.Queues["default"].MaxWorkers, FetchPollInterval: poll.String(),
		FetchCooldown: cooldown.String(), DBMaxConns: cfg.DBMaxConns, APIMaxConns: cfg.APIMaxConns,
		Concurrency: o.Concurrency, RateLimit: cfg.RateLimitPerClient,
	}}
	for _, d := range o.LookupBackoff {
		res.Settings.LookupBackoff = append(res.Settings.LookupBackoff, d.String())
	}
	res.Settings.PostgreSQL, _ = obs.ServerVersion(ctx)
	if res.Settings.Fsync, res.Settings.SynchronousCommit, err = obs.Durability(ctx); err != nil {
		return fmt.Errorf("read fsync and synchronous_commit: %w", err)
	}
	where := "DATABASE_URL"
	if database == "throwaway" {
		where = "throwaway cluster"
	}
	fmt.Fprintf(stdout, "database: %s, fsync %s, synchronous_commit %s, PostgreSQL %s\n",
		where, res.Settings.Fsync, res.Settings.SynchronousCommit, res.Settings.PostgreSQL)

	if o.Preload > 0 {
		if err := flow.SeedCatalog(ctx, store.New(pool), sandbox.Catalog(), time.Now()); err != nil {
			return err
		}
		rep, err := bench.BigTables(ctx, pool, bench.PreloadPlan{N: o.Preload, ExplainOut: o.ExplainOut, Log: stdout})
		if err != nil {
			return fmt.Errorf("preload: %w", err)
		}
		res.Preload = &bench.PreloadResult{Purchases: int64(o.Preload), ReconcileSeconds: rep.ReconcileSeconds, Report: rep}
	}

	if !o.SkipFloor {
		if res.FloorOurs, res.FloorBest, err = benchFloors(ctx, cfg, &o, pool, rc, obs, stdout); err != nil {
			return err
		}
	}

	if !o.SkipInstant || !o.SkipInflight || !o.SkipLatency {
		if err := benchService(ctx, cfg, dir, logger, obs, func(t bench.Target) error {
			if !o.SkipInstant {
				t.SetLatency(0, 0)
				reqs := bench.Mix(o.Purchases, "instant", bench.InstantScenario)
				fmt.Fprintf(stdout, "instant: %d purchases over the API, %d clients, providers without latency...\n", len(reqs), o.Concurrency)
				if o.StatementsOut != "" {
					if err := bench.ResetStatements(ctx, pool); err != nil {
						return err
					}
				}
				r, err := bench.RunFlow(ctx, obs, t, "instant", reqs, o.Concurrency, 0, drainTimeout(len(reqs)))
				if err != nil {
					return err
				}
				if o.StatementsOut != "" {
					if err := writeStatements(ctx, pool, o.StatementsOut, r.Purchases); err != nil {
						return err
					}
				}
				res.Instant = &r
				printFlow(stdout, &r)
			}
			if !o.SkipLatency {
				t.SetLatency(0, 0)
				for _, sc := range []string{bench.ScenarioSuccessAtOnce, ""} {
					fmt.Fprintf(stdout, "latency: %d purchases of scenario %q at %g/s, providers without latency...\n", o.LatencyPurchases, sc, o.LatencyRate)
					r, err := bench.RunLatency(ctx, obs, t, sc, o.LatencyPurchases, o.LatencyRate, drainTimeout(o.LatencyPurchases))
					if err != nil {
						return err
					}
					res.Latency = append(res.Latency, r)
					fmt.Fprintf(stdout, "latency %s: create answer to succeeded p50/p90/p99/max %.1f/%.1f/%.1f/%.1f ms (%d succeeded, %d not); create p50/p99 %.1f/%.1f ms\n",
						r.Name, r.P50MS, r.P90MS, r.P99MS, r.MaxMS, r.Succeeded, r.NotSucceeded, r.CreateP50MS, r.CreateP99MS)
				}
			}
			if !o.SkipInflight {
				t.SetLatency(o.Latency, o.Jitter)
				// Created until --inflight purchases are open at once (the
				// first end while the last are created), at most twice that.
				reqs := bench.Mix(2*o.Inflight, "inflight", bench.RealWorldScenario)
				fmt.Fprintf(stdout, "inflight: purchases over the API until %d are in flight, %d clients, providers at %s ± %s...\n", o.Inflight, o.Concurrency, o.Latency, o.Jitter)
				r, err := bench.RunFlow(ctx, obs, t, "inflight", reqs, o.Concurrency, int64(o.Inflight), drainTimeout(len(reqs)))
				if err != nil {
					return err
				}
				r.LatencyMS, r.JitterMS = o.Latency.Milliseconds(), o.Jitter.Milliseconds()
				res.Inflight = &r
				printFlow(stdout, &r)
			}
			return nil
		}); err != nil {
			return err
		}
	}

	if res.Preload != nil && res.Instant != nil {
		res.Preload.CreateP99MS = res.Instant.CreateP99MS // the instant run ran on the preloaded tables
	}
	res.Finish()
	if o.Out != "" {
		b, _ := json.MarshalIndent(res, "", "  ")
		if err := os.WriteFile(o.Out, append(b, '\n'), 0o644); err != nil {
			return fmt.Errorf("--out: %w", err)
		}
	}
	for _, t := range res.Missed() {
		note := ""
		if t.ReportOnly {
			note = " (reported; does not fail the run)"
		}
		fmt.Fprintf(stdout, "target missed: %s = %v, want %s%s\n", t.Name, t.Value, t.Limit, note)
	}
	if line := res.CPULine(); line != "" {
		fmt.Fprintln(stdout, line)
	}
	fmt.Fprintln(stdout, res.Summary())
	if res.Failed() {
		return exitError{1}
	}
	return nil
}

// benchFloors runs the floor with our River settings on pool, then the
// floor with River at its best (o.BestFloor) on a pool of its own, closed
// before the service starts.
func benchFloors(ctx context.Context, cfg *config.Config, o *bench.Options, pool *pgxpool.Pool, rc *river.Config, obs *bench.Observer, stdout io.Writer) (ours, best *bench.FloorResult, err error) {
	bestCfg, err := poolConfig(cfg.DatabaseURL, o.BestFloor.PoolConns, poolFloor)
	if err != nil {
		return nil, nil, err
	}
	bestCfg.ConnConfig.RuntimeParams["plan_cache_mode"] = o.BestFloor.PlanCacheMode
	bestPool, err := openPool(ctx, bestCfg)
	if err != nil {
		return nil, nil, err
	}
	defer bestPool.Close()
	for _, f := range []struct {
		name string
		pool *pgxpool.Pool
		rc   *river.Config
		out  **bench.FloorResult
	}{{"ours", pool, rc, &ours}, {"best", bestPool, bench.BestRiverConfig(o.BestFloor, rc), &best}} {
		cooldown, poll := bench.QueueFetch(f.rc)
		fmt.Fprintf(stdout, "floor %s: %d bare River chains of 3 jobs, %d inserting, %d workers, pool of %d, fetch cooldown %s, poll %s...\n",
			f.name, o.Purchases, o.Concurrency, f.rc.Queues[river.QueueDefault].MaxWorkers, f.pool.Config().MaxConns, cooldown, poll)
		r, err := bench.Floor(ctx, f.name, f.pool, f.rc, o.Purchases, o.Concurrency, obs)
		if err != nil {
			return nil, nil, fmt.Errorf("floor %s: %w", f.name, err)
		}
		*f.out = &r
		fmt.Fprintf(stdout, "floor %s: %.1f chains/s (%.2fs, %.2f commits per chain, plan_cache_mode %s); CPU per chain: %s\n",
			f.name, r.ChainsPerSecond, r.Seconds, r.CommitsPerChain, r.PlanCacheMode, cpuText(r.DBCPUMSPerChain, r.DBCPUUnknown, r.ProcessCPUMSPerChain))
		printGroups(stdout, "floor "+f.name, "chain", r.DBCPUByGroup)
	}
	return ours, best, nil
}

// drainTimeout bounds a run: generous, so only a stuck flow ends it.
func drainTimeout(n int) time.Duration { return 2*time.Minute + time.Duration(n)*20*time.Millisecond }

func printFlow(w io.Writer, r *bench.FlowResult) {
	fmt.Fprintf(w, "%s: %.1f purchases/s (%d succeeded, %d failed, %d other, drained in %.2fs); create p50/p95/p99 %.1f/%.1f/%.1f ms; "+
		"%.2f commits and %.0f bytes per purchase; peak in flight %d; max River queue depth %d; peak RSS %.0f MB\n",
		r.Name, r.PurchasesPerSecond, r.Succeeded, r.Failed, r.Other, r.DrainSeconds, r.CreateP50MS, r.CreateP95MS, r.CreateP99MS,
		r.CommitsPerPurchase, r.BytesPerPurchase, r.PeakInflight, r.MaxRiverQueueDepth, float64(r.PeakRSSBytes)/(1<<20))
	fmt.Fprintf(w, "%s: CPU per purchase: %s\n", r.Name, cpuText(r.DBCPUMSPerPurchase, r.DBCPUUnknown, r.ProcessCPUMSPerPurchase))
	printGroups(w, r.Name, "purchase", r.DBCPUByGroup)
	fmt.Fprintf(w, "%s: database bytes per purchase by table (with indexes and TOAST):\n", r.Name)
	for _, t := range r.Tables {
		fmt.Fprintf(w, "  %-28s %8.0f\n", t.Table, t.BytesPerPurchase)
	}
	fmt.Fprintf(w, "  %-28s %8.0f\n", "total", r.BytesPerPurchase)
	fmt.Fprintf(w, "  %-28s %8.0f  (%s: deleted after JOB_RETENTION)\n", "transient", r.TransientBytesPerPurchase, bench.JobTable)
	fmt.Fprintf(w, "  %-28s %8.0f  (every other table)\n", "durable", r.DurableBytesPerPurchase)
}

// cpuText is a part's CPU time per purchase or chain: the database
// server's (or why it is unknown) and this process's.
func cpuText(db *float64, unknown string, process float64) string {
	if db == nil {
		return fmt.Sprintf("database unknown (%s), this process %.2f ms", unknown, process)
	}
	return fmt.Sprintf("database %.2f ms, this process %.2f ms", *db, process)
}

// printGroups prints a part's database CPU per unit by process group, the
// groups under 0.05 ms together.
func printGroups(w io.Writer, part, unit string, groups []bench.ProcessGroupCPU) {
	if len(groups) == 0 {
		return
	}
	fmt.Fprintf(w, "%s: database CPU per %s by process (ms):", part, unit)
	var small float64
	for _, g := range groups {
		if g.MS < 0.05 {
			small += g.MS
			continue
		}
		fmt.Fprintf(w, " %s %.2f;", g.Group, g.MS)
	}
	fmt.Fprintf(w, " the rest %.2f\n", small)
}

// benchLogger logs the service's warnings and errors only (its info lines
// would drown the bench's output), unless LOG_LEVEL asks for debug.
func benchLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	if cfg.LogLevel == "debug" {
		return newLogger(cfg, w)
	}
	c := *cfg
	c.LogLevel = "warn"
	if cfg.LogLevel == "error" {
		c.LogLevel = "error"
	}
	return newLogger(&c, w)
}

// benchService runs the service in this process (runInProcess), the
// simulators' callbacks after benchCallbackDelay, and calls run with it.
func benchService(ctx context.Context, cfg *config.Config, dir string, logger *slog.Logger, obs *bench.Observer, run func(bench.Target) error) error {
	sim := sandbox.Options{CallbackDelay: benchCallbackDelay, Logger: logger}
	// Snapshots close their idle connections, so that the service's commits
	// are all counted when they are read.
	o := serveOptions{onPools: func(workers, api *pgxpool.Pool) { obs.Watch(workers, api) }}
	return runInProcess(ctx, cfg, dir, logger, sim, o, func(s *inProcess) error {
		return run(bench.Target{
			BaseURL: s.apiURL,
			NewClient: func(ctx context.Context, name string) (uuid.UUID, string, error) {
				key, err := createClient(ctx, s.q, name)
				if err != nil {
					return uuid.UUID{}, "", err
				}
				cl, err := s.q.ClientGetByKeyHash(ctx, httpapi.HashAPIKey(key))
				return cl.ID, key, err
			},
			SetLatency: func(latency, jitter time.Duration) {
				f := simkit.Faults{LatencyMS: int(latency.Milliseconds()), JitterMS: int(jitter.Milliseconds())}
				s.sims.sims.Klikoo.Faults().Set(f)
				s.sims.sims.Snapcart.Faults().Set(f)
			},
			CallbackDelay: benchCallbackDelay,
		})
	})
}

// writeStatements writes the statements of the run just ended, per
// purchase, to path (--statements-out).
func writeStatements(ctx context.Context, pool *pgxpool.Pool, path string, purchases int) error {
	st, err := bench.ReadStatements(ctx, pool, purchases)
	if err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("--statements-out: %w", err)
	}
	if err := bench.WriteStatements(f, "instant", purchases, st); err != nil {
		f.Close()
		return fmt.Errorf("--statements-out: %w", err)
	}
	return f.Close()
}
