package bench

import (
	"context"
	_ "embed"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/ppob-orchestrator/orchestrator/internal/bench/benchdb"
)

// schemaSQL creates the floor's table; EnsureSchema runs it.
//
//go:embed sql/schema.sql
var schemaSQL string

// chainSteps is the length of the floor's chain: a purchase without
// callbacks is about three steps (inquiry or intent, payment, lookup).
const chainSteps = 3

// EnsureSchema creates the bench's own table unless it exists.
func EnsureSchema(ctx context.Context, pool *pgxpool.Pool) error {
	if _, err := pool.Exec(ctx, schemaSQL); err != nil {
		return fmt.Errorf("bench schema: %w", err)
	}
	return nil
}

// FloorResult is an engine floor: bare River chains per second, with the
// River settings and pool it ran with.
type FloorResult struct {
	Name              string `json:"name"` // "ours" or "best"
	Workers           int    `json:"river_workers"`
	PoolConns         int32  `json:"pool_conns"`
	FetchCooldown     string `json:"river_fetch_cooldown"`
	FetchPollInterval string `json:"river_fetch_poll_interval"`
	PlanCacheMode     string `json:"plan_cache_mode"` // PostgreSQL's, as the floor's sessions ran with it

	Chains          int     `json:"chains"`
	Steps           int     `json:"steps_per_chain"`
	Seconds         float64 `json:"seconds"`
	ChainsPerSecond float64 `json:"chains_per_s"`
	Commits         int64   `json:"commits"`
	CommitsPerChain float64 `json:"commits_per_chain"`
	// CPU time per chain, as FlowResult's per purchase.
	DBCPUMSPerChain      *float64          `json:"db_cpu_ms_per_chain,omitempty"`
	DBCPUUnknown         string            `json:"db_cpu_unknown,omitempty"`
	ProcessCPUMSPerChain float64           `json:"process_cpu_ms_per_chain"`
	DBCPUByGroup         []ProcessGroupCPU `json:"db_cpu_by_group,omitempty"` // per chain
}

// chainArgs is one step of a floor chain.
type chainArgs struct {
	ID   int64 `json:"id"`
	Step int   `json:"step"`
}

func (chainArgs) Kind() string { return "bench_chain" }

type chainWorker struct {
	river.WorkerDefaults[chainArgs]
	pool   *pgxpool.Pool
	client *river.Client[pgx.Tx]
	done   func()
}

// Work is what a purchase step costs with everything of ours removed: one
// transaction that compare-and-sets the item's row, inserts the next job
// and completes this one.
func (w *chainWorker) Work(ctx context.Context, job *river.Job[chainArgs]) error {
	last := job.Args.Step+1 == chainSteps
	err := pgx.BeginFunc(ctx, w.pool, func(tx pgx.Tx) error {
		n, err := benchdb.New(tx).ChainAdvance(ctx, benchdb.ChainAdvanceParams{ID: job.Args.ID, Step: int32(job.Args.Step)})
		if err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("chain %d is not at step %d", job.Args.ID, job.Args.Step)
		}
		if !last {
			if _, err := w.client.InsertTx(ctx, tx, chainArgs{ID: job.Args.ID, Step: job.Args.Step + 1}, nil); err != nil {
				return err
			}
		}
		_, err = river.JobCompleteTx[*riverpgxv5.Driver](ctx, tx, job)
		return err
	})
	if err == nil && last {
		w.done()
	}
	return err
}

// QueueFetch returns the fetch cooldown and poll interval the default
// queue runs with under rc: the queue's own when it sets them (the flow's
// purchase steps do, STEP_FETCH_INTERVAL), else the client's.
func QueueFetch(rc *river.Config) (cooldown, poll time.Duration) {
	q := rc.Queues[river.QueueDefault]
	cooldown, poll = rc.FetchCooldown, rc.FetchPollInterval
	if q.FetchCooldown > 0 {
		cooldown = q.FetchCooldown
	}
	if q.FetchPollInterval > 0 {
		poll = q.FetchPollInterval
	}
	return cooldown, poll
}

// BestRiverConfig is River at its best for the floor's chain: base's
// timeouts, attempts and logger with s's workers and fetch settings, and
// no middleware. Its pool is the caller's (s.PoolConns connections).
func BestRiverConfig(s FloorSettings, base *river.Config) *river.Config {
	cfg := *base
	cfg.Queues = map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: s.Workers}}
	cfg.FetchCooldown = s.FetchCooldown
	cfg.FetchPollInterval = s.FetchPollInterval
	cfg.Middleware = nil
	return &cfg
}

// Floor runs chains bare River chains of chainSteps jobs on pool with the
// River settings rc (the flow's, flow.RiverConfig, for the floor "ours";
// BestRiverConfig for "best"), the first jobs inserted by concurrency
// goroutines while the workers run, as the API inserts a purchase's first
// job. It measures from the first insert to the last chain's end. The
// observer's counters give the commits; it watches pool meanwhile.
func Floor(ctx context.Context, name string, pool *pgxpool.Pool, rc *river.Config, chains, concurrency int, obs *Observer) (FloorResult, error) {
	cooldown, poll := QueueFetch(rc)
	res := FloorResult{
		Name: name, Workers: rc.Queues[river.QueueDefault].MaxWorkers, PoolConns: pool.Config().MaxConns,
		FetchCooldown: cooldown.String(), FetchPollInterval: poll.String(),
		Chains: chains, Steps: chainSteps,
	}
	obs.Watch(pool)
	defer obs.Unwatch(pool)
	if err := pool.QueryRow(ctx, "SELECT current_setting('plan_cache_mode')").Scan(&res.PlanCacheMode); err != nil {
		return res, fmt.Errorf("plan_cache_mode: %w", err)
	}
	if err := EnsureSchema(ctx, pool); err != nil {
		return res, err
	}
	q := benchdb.New(pool)
	if err := q.ChainReset(ctx); err != nil {
		return res, fmt.Errorf("reset bench_chain: %w", err)
	}
	var finished atomic.Int64
	allDone := make(chan struct{})
	var lastEnd atomic.Int64
	w := &chainWorker{pool: pool, done: func() {
		lastEnd.Store(time.Now().UnixNano())
		if finished.Add(1) == int64(chains) {
			close(allDone)
		}
	}}
	workers := river.NewWorkers()
	river.AddWorker(workers, w)
	cfg := *rc
	cfg.Workers = workers
	cfg.PeriodicJobs = nil
	client, err := river.NewClient(riverpgxv5.New(pool), &cfg)
	if err != nil {
		return res, fmt.Errorf("floor river client: %w", err)
	}
	w.client = client
	if err := client.Start(ctx); err != nil {
		return res, fmt.Errorf("floor river start: %w", err)
	}
	defer func() {
		stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		_ = client.Stop(stopCtx)
	}()

	before, err := obs.Snapshot(ctx)
	if err != nil {
		return res, err
	}
	start := time.Now()
	var (
		next     atomic.Int64
		wg       sync.WaitGroup
		firstErr error
		errOnce  sync.Once
	)
	for range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				id := next.Add(1)
				if id > int64(chains) {
					return
				}
				err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
					if err := benchdb.New(tx).ChainInsert(ctx, id); err != nil {
						return err
					}
					_, err := client.InsertTx(ctx, tx, chainArgs{ID: id}, nil)
					return err
				})
				if err != nil {
					errOnce.Do(func() { firstErr = fmt.Errorf("insert chain %d: %w", id, err) })
					return
				}
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return res, firstErr
	}
	select {
	case <-allDone:
	case <-ctx.Done():
		return res, ctx.Err()
	}
	res.Seconds = time.Unix(0, lastEnd.Load()).Sub(start).Seconds()
	res.ChainsPerSecond = float64(chains) / res.Seconds
	after, err := obs.Snapshot(ctx)
	if err != nil {
		return res, err
	}
	res.Commits = after.Commits - before.Commits
	res.CommitsPerChain = float64(res.Commits) / float64(chains)
	cpu := CPUPer(before, after, chains)
	res.DBCPUMSPerChain, res.DBCPUUnknown, res.ProcessCPUMSPerChain, res.DBCPUByGroup = cpu.DBMS, cpu.Why, cpu.ProcessMS, cpu.Groups
	return res, nil
}
