package bench

import (
	"context"
	"testing"
	"time"

	"github.com/ppob-orchestrator/orchestrator/internal/bench/benchdb"
	"github.com/ppob-orchestrator/orchestrator/internal/dbtest"
	"github.com/ppob-orchestrator/orchestrator/internal/flow"
)

// A tiny floor run drives every chain through its three steps, on the
// flow's River settings, and counts the commits it cost.
func TestFloorRunsEveryChainToItsEnd(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pool := dbtest.NewPool(t)
	obs := NewObserver(pool)
	obs.settle = 0 // the commit count is not asserted exactly
	rc := flow.RiverConfig(flow.Config{Workers: 4, JobTimeout: 10 * time.Second, RescueAfter: 20 * time.Second})
	const chains = 12
	res, err := Floor(ctx, pool, rc, chains, 3, obs)
	if err != nil {
		t.Fatal(err)
	}
	if res.Chains != chains || res.Steps != 3 || res.ChainsPerSecond <= 0 {
		t.Fatalf("result %+v", res)
	}
	n, err := benchdb.New(pool).ChainCountAtStep(ctx, 3)
	if err != nil {
		t.Fatal(err)
	}
	if n != chains {
		t.Fatalf("%d chains at step 3, want %d", n, chains)
	}
	// A second run starts from an empty table.
	if _, err := Floor(ctx, pool, rc, 2, 1, obs); err != nil {
		t.Fatal(err)
	}
	if n, _ := benchdb.New(pool).ChainCountAtStep(ctx, 3); n != 2 {
		t.Fatalf("%d chains at step 3 after the second run, want 2", n)
	}
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
