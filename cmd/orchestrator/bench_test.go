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

// A tiny `orchestrator bench` runs all three parts against a given
// database, prints the summary line last and writes the full result; every
// purchase of each batch ends. (Its numbers mean nothing at this size and
// are not asserted; the 5,000-in-flight target is missed, so it exits 1.)
func TestBenchTinyRun(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out := filepath.Join(t.TempDir(), "bench.json")
	env := map[string]string{"DATABASE_URL": dbtest.NewDatabase(t), "WORKERS": "8", "DB_MAX_CONNS": "8"}
	getenv := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	var stdout, stderr bytes.Buffer
	err := run(ctx, []string{"bench", "--purchases", "8", "--inflight", "12", "--concurrency", "2",
		"--latency", "20ms", "--jitter", "10ms", "--lookup-backoff", "50ms", "--out", out}, getenv, &stdout, &stderr)
	var exit exitError
	if err != nil && !(errors.As(err, &exit) && exit.code == 1) {
		t.Fatalf("bench: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	last := lines[len(lines)-1]
	for _, field := range []string{"purchases_per_s=", "river_chain_per_s=", "ratio=", "create_p99_ms=", "commits_per_purchase=",
		"db_bytes_per_purchase=", "inflight=", "inflight_purchases_per_s=", "rss_mb="} {
		if !strings.HasPrefix(last, "bench: ") || !strings.Contains(last, " "+field) || strings.Contains(last, field+"-") {
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
	if res.Floor == nil || res.Floor.Chains != 8 || res.Instant == nil || res.Inflight == nil {
		t.Fatalf("result %s", b)
	}
	for _, r := range []*bench.FlowResult{res.Instant, res.Inflight} {
		if r.Succeeded+r.Failed != int64(r.Purchases) || r.Other != 0 || r.CreateErrors != 0 {
			t.Fatalf("%s: %d purchases, %d succeeded, %d failed, %d other", r.Name, r.Purchases, r.Succeeded, r.Failed, r.Other)
		}
		if r.Commits <= 0 || r.PeakRSSBytes <= 0 {
			t.Fatalf("%s: commits %d, peak RSS %d", r.Name, r.Commits, r.PeakRSSBytes)
		}
	}
	if res.Inflight.LatencyMS != 20 || res.Settings.LookupBackoff[0] != "50ms" || res.Settings.Database != "DATABASE_URL" {
		t.Fatalf("settings %+v, inflight latency %d", res.Settings, res.Inflight.LatencyMS)
	}
}

func TestBenchRefusesBadFlags(t *testing.T) {
	t.Parallel()
	getenv := func(string) (string, bool) { return "", false }
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"bench", "--concurrency", "0"}, getenv, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "--concurrency") {
		t.Fatalf("err = %v, want one naming --concurrency", err)
	}
}
