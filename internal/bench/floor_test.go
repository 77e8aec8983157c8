package bench

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/ppob-orchestrator/orchestrator/internal/bench/benchdb"
	"github.com/ppob-orchestrator/orchestrator/internal/dbtest"
	"github.com/ppob-orchestrator/orchestrator/internal/flow"
)

// A tiny floor run drives every chain through its three steps, on the
// flow's River settings, counts the commits it cost and records the
// settings it ran with.
func TestFloorRunsEveryChainToItsEnd(t *testing.T) {
	t.Parallel()
	ctx, pool, obs, rc := floorSetup(t)
	const chains = 12
	res, err := Floor(ctx, "ours", pool, rc, chains, 3, obs)
	if err != nil {
		t.Fatal(err)
	}
	if res.Chains != chains || res.Steps != 3 || res.ChainsPerSecond <= 0 || res.Commits <= 0 {
		t.Fatalf("result %+v", res)
	}
	cooldown, poll := QueueFetch(rc)
	if res.Name != "ours" || res.Workers != 4 || res.PoolConns != pool.Config().MaxConns || res.FetchCooldown != cooldown.String() || res.FetchPollInterval != poll.String() {
		t.Fatalf("settings of the result %+v", res)
	}
	n, err := benchdb.New(pool).ChainCountAtStep(ctx, 3)
	if err != nil {
		t.Fatal(err)
	}
	if n != chains {
		t.Fatalf("%d chains at step 3, want %d", n, chains)
	}
	// A second run starts from an empty table.
	if _, err := Floor(ctx, "ours", pool, rc, 2, 1, obs); err != nil {
		t.Fatal(err)
	}
	if n, _ := benchdb.New(pool).ChainCountAtStep(ctx, 3); n != 2 {
		t.Fatalf("%d chains at step 3 after the second run, want 2", n)
	}
}

// The best floor runs on a pool of its own with BestRiverConfig's workers
// and fetch settings, and says so; the observer stops watching its pool
// when it ends, so the pool can be closed.
func TestBestFloorRunsOnItsOwnSettings(t *testing.T) {
	t.Parallel()
	ctx, pool, obs, base := floorSetup(t)
	bestCfg := pool.Config().Copy()
	bestCfg.MaxConns = 5
	best, err := pgxpool.NewWithConfig(ctx, bestCfg)
	if err != nil {
		t.Fatal(err)
	}
	defer best.Close()
	s := FloorSettings{Workers: 7, PoolConns: 5, FetchCooldown: 3 * time.Millisecond, FetchPollInterval: 30 * time.Millisecond}
	rc := BestRiverConfig(s, base)
	if base.FetchCooldown == rc.FetchCooldown || base.Queues[river.QueueDefault].MaxWorkers != 4 {
		t.Fatalf("BestRiverConfig changed its base: %+v", base)
	}
	res, err := Floor(ctx, "best", best, rc, 6, 2, obs)
	if err != nil {
		t.Fatal(err)
	}
	if res.Name != "best" || res.Workers != 7 || res.PoolConns != 5 || res.FetchCooldown != "3ms" || res.FetchPollInterval != "30ms" || res.ChainsPerSecond <= 0 {
		t.Fatalf("result %+v", res)
	}
	obs.mu.Lock()
	watched := slices.Contains(obs.pools, best)
	obs.mu.Unlock()
	if watched {
		t.Fatal("the observer still watches the floor's pool")
	}
}

// floorSetup returns a test database's pool, an observer of it and the
// flow's River settings with 4 workers.
func floorSetup(t *testing.T) (context.Context, *pgxpool.Pool, *Observer, *river.Config) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	pool := dbtest.NewPool(t)
	obs := NewObserver(pool)
	obs.settle = 0 // the commit count is not asserted exactly
	return ctx, pool, obs, flow.RiverConfig(flow.Config{Workers: 4, JobTimeout: 10 * time.Second, RescueAfter: 20 * time.Second})
}

func TestPeakRSS(t *testing.T) {
	t.Parallel()
	if err := ResetPeakRSS(); err != nil {
		t.Fatal(err)
	}
	rss, err := PeakRSS()
	if err != nil {
		t.Fatal(err)
	}
	if rss < 1<<20 {
		t.Fatalf("peak RSS %d bytes", rss)
	}
}
