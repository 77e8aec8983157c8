package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ppob-orchestrator/orchestrator/internal/bench"
	"github.com/ppob-orchestrator/orchestrator/internal/dbtest"
)

// `orchestrator bench --preload N` fills the database before the runs,
// probes it before and after, and reports the preload's fields on the
// summary line, the probes in the result and their plans in
// --explain-out. (Its numbers mean nothing at this size and are not
// asserted.)
func TestBenchPreload(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := t.TempDir()
	out, plans := filepath.Join(dir, "bench.json"), filepath.Join(dir, "plans.txt")
	env := map[string]string{"DATABASE_URL": dbtest.NewDatabase(t), "WORKERS": "8", "DB_MAX_CONNS": "8"}
	getenv := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	var stdout, stderr bytes.Buffer
	err := run(ctx, []string{"bench", "--preload", "400", "--explain-out", plans, "--skip-floor", "--skip-inflight", "--skip-latency",
		"--purchases", "8", "--concurrency", "2", "--lookup-backoff", "50ms", "--out", out}, getenv, &stdout, &stderr)
	var exit exitError
	if err != nil && !(errors.As(err, &exit) && exit.code == 1) {
		t.Fatalf("bench: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	last := lines[len(lines)-1]
	for _, field := range []string{"preload=400", "preload_create_p99_ms=", "preload_reconcile_s="} {
		if !strings.Contains(last, " "+field) || strings.Contains(last, field+"-") {
			t.Fatalf("last line %q lacks %s\n%s", last, field, stdout.String())
		}
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var res bench.Result
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	if p := res.Preload; p == nil || p.Purchases != 400 || p.Report == nil || len(p.Report.Comparison) == 0 ||
		len(p.Report.Empty) != len(p.Report.Preloaded) || res.Instant == nil || p.CreateP99MS != res.Instant.CreateP99MS {
		t.Fatalf("result %s", b)
	}
	if st, err := os.Stat(plans); err != nil || st.Size() == 0 {
		t.Fatalf("--explain-out: %v", err)
	}
}
