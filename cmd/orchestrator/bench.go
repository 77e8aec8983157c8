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

	"github.com/ppob-orchestrator/orchestrator/internal/bench"
	"github.com/ppob-orchestrator/orchestrator/internal/config"
	"github.com/ppob-orchestrator/orchestrator/internal/flow"
	"github.com/ppob-orchestrator/orchestrator/internal/httpapi"
	"github.com/ppob-orchestrator/orchestrator/internal/providers/simkit"
	"github.com/ppob-orchestrator/orchestrator/internal/sandbox"
)

// benchRateLimit is the per-client rate limit of the bench's service: the
// highest RATE_LIMIT_PER_CLIENT allows, so the limiter still runs on every
// request but never throttles the load.
const benchRateLimit = 100_000

// benchCallbackDelay is the simulators' callback delay in the bench (their
// default): a run waits this long after draining, so callbacks count.
const benchCallbackDelay = 2 * time.Second

// runBench is `orchestrator bench`: against DATABASE_URL or a throwaway
// cluster, the engine floor, then the service in this process (API,
// workers, both simulators) with instant and with real-world providers. It
// prints progress, then the summary line last, and exits 1 when a target
// is missed.
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
		url, stop, err := localDatabase(ctx, filepath.Join(dir, "pgdata"), "orchestrator_bench", logger, stdout)
		if err != nil {
			return err
		}
		defer stop()
		cfg.DatabaseURL = url
	}
	if err := migrateUp(ctx, cfg.DatabaseURL); err != nil {
		return err
	}
	pool, err := newPool(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := bench.EnsureSchema(ctx, pool); err != nil {
		return err
	}
	obs := bench.NewObserver(pool)

	rc := flow.RiverConfig(flow.Config{Workers: cfg.Workers, JobTimeout: cfg.JobTimeout, RescueAfter: cfg.RescueAfter, Logger: logger})
	res := bench.Result{Settings: bench.Settings{
		CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), Database: database,
		Workers: rc.Queues["default"].MaxWorkers, FetchPollInterval: rc.FetchPollInterval.String(),
		FetchCooldown: rc.FetchCooldown.String(), DBMaxConns: cfg.DBMaxConns, APIMaxConns: cfg.APIMaxConns,
		Concurrency: o.Concurrency, RateLimit: cfg.RateLimitPerClient,
	}}
	for _, d := range o.LookupBackoff {
		res.Settings.LookupBackoff = append(res.Settings.LookupBackoff, d.String())
	}
	res.Settings.PostgreSQL, _ = obs.ServerVersion(ctx)

	if !o.SkipFloor {
		fmt.Fprintf(stdout, "floor: %d bare River chains of 3 jobs, %d inserting...\n", o.Purchases, o.Concurrency)
		f, err := bench.Floor(ctx, pool, rc, o.Purchases, o.Concurrency, obs)
		if err != nil {
			return fmt.Errorf("floor: %w", err)
		}
		res.Floor = &f
		fmt.Fprintf(stdout, "floor: %.1f chains/s (%.2fs, %.2f commits per chain)\n", f.ChainsPerSecond, f.Seconds, f.CommitsPerChain)
	}

	if !o.SkipInstant || !o.SkipInflight {
		if err := benchService(ctx, cfg, dir, logger, obs, func(t bench.Target) error {
			if !o.SkipInstant {
				t.SetLatency(0, 0)
				reqs := bench.Mix(o.Purchases, "instant", bench.InstantScenario)
				fmt.Fprintf(stdout, "instant: %d purchases over the API, %d clients, providers without latency...\n", len(reqs), o.Concurrency)
				r, err := bench.RunFlow(ctx, obs, t, "instant", reqs, o.Concurrency, 0, drainTimeout(len(reqs)))
				if err != nil {
					return err
				}
				res.Instant = &r
				printFlow(stdout, &r)
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

	res.Finish()
	if o.Out != "" {
		b, _ := json.MarshalIndent(res, "", "  ")
		if err := os.WriteFile(o.Out, append(b, '\n'), 0o644); err != nil {
			return fmt.Errorf("--out: %w", err)
		}
	}
	for _, t := range res.Missed() {
		fmt.Fprintf(stdout, "target missed: %s = %v, want %s\n", t.Name, t.Value, t.Limit)
	}
	fmt.Fprintln(stdout, res.Summary())
	if len(res.Missed()) > 0 {
		return exitError{1}
	}
	return nil
}

// drainTimeout bounds a run: generous, so only a stuck flow ends it.
func drainTimeout(n int) time.Duration { return 2*time.Minute + time.Duration(n)*20*time.Millisecond }

func printFlow(w io.Writer, r *bench.FlowResult) {
	fmt.Fprintf(w, "%s: %.1f purchases/s (%d succeeded, %d failed, %d other, drained in %.2fs); create p50/p95/p99 %.1f/%.1f/%.1f ms; "+
		"%.2f commits and %.0f bytes per purchase; peak in flight %d; max River queue depth %d; peak RSS %.0f MB\n",
		r.Name, r.PurchasesPerSecond, r.Succeeded, r.Failed, r.Other, r.DrainSeconds, r.CreateP50MS, r.CreateP95MS, r.CreateP99MS,
		r.CommitsPerPurchase, r.BytesPerPurchase, r.PeakInflight, r.MaxRiverQueueDepth, float64(r.PeakRSSBytes)/(1<<20))
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
