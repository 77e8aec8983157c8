package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ppob-orchestrator/orchestrator/internal/bench"
	"github.com/ppob-orchestrator/orchestrator/internal/dbtest"
)

// A tiny `orchestrator bench` runs every part (both floors, instant,
// latency, in flight) against a given database, prints the summary line
// last with every name the issue gives it and writes the full result;
// every purchase of each batch ends. (Its numbers mean nothing at this size
// and are not asserted; the 5,000-in-flight target is missed, so it exits
// 1.)
func TestBenchTinyRun(t *testing.T) {
	t.Parallel()
	stdout, last, res, b := runTinyBench(t, "--inflight", "12", "--latency", "20ms", "--jitter", "10ms",
		"--latency-purchases", "6", "--latency-rate", "20", "--floor-workers", "6", "--floor-pool", "4")
	names := []string{"purchases_per_s", "best_floor_chains_per_s", "ratio", "inflight_purchases_per_s", "inflight_ratio",
		"hop_p50_ms", "hop_p99_ms", "create_p99_ms", "commits_per_purchase", "db_bytes_per_purchase", "rss_mb"}
	fields := strings.Fields(strings.TrimPrefix(last, "bench:"))
	if !strings.HasPrefix(last, "bench: ") || len(fields) != len(names) {
		t.Fatalf("last line %q, want the %d fields %v\n%s", last, len(names), names, stdout)
	}
	for i, f := range fields {
		name, value, _ := strings.Cut(f, "=")
		if _, err := strconv.ParseFloat(value, 64); name != names[i] || err != nil {
			t.Fatalf("field %d of the last line is %q, want %s=<number>\n%s", i+1, f, names[i], stdout)
		}
	}
	if !strings.Contains(stdout, "database: DATABASE_URL, fsync ") || !strings.Contains(stdout, "instant: database bytes per purchase by table") ||
		!strings.Contains(stdout, "  transient ") || !strings.Contains(stdout, "  durable ") {
		t.Fatalf("no database line or table of bytes\n%s", stdout)
	}
	if res.FloorOurs == nil || res.FloorOurs.Chains != 8 || res.FloorBest == nil || res.FloorBest.Chains != 8 ||
		res.FloorBest.Workers != 6 || res.FloorBest.PoolConns != 4 || res.FloorOurs.Workers != 8 ||
		res.Instant == nil || res.Inflight == nil || len(res.Latency) != 2 {
		t.Fatalf("result %s", b)
	}
	// Each floor reports the plan_cache_mode its sessions ran with: the
	// best floor's own, the other the server's default.
	if res.FloorBest.PlanCacheMode != "force_generic_plan" || res.FloorOurs.PlanCacheMode != "auto" ||
		!strings.Contains(stdout, "commits per chain, plan_cache_mode force_generic_plan)") {
		t.Fatalf("floors' plan_cache_mode: ours %q, best %q\n%s", res.FloorOurs.PlanCacheMode, res.FloorBest.PlanCacheMode, stdout)
	}
	for i, sc := range []string{"01", ""} {
		l := res.Latency[i]
		if l.Scenario != sc || l.Purchases != 6 || l.Succeeded != 6 || l.NotSucceeded != 0 || l.MaxMS == 0 || l.P99MS < l.P50MS {
			t.Fatalf("latency part %d: %+v", i, l)
		}
	}
	// The instant run is the first to write purchases in a fresh database.
	if len(res.Instant.Tables) == 0 || !slices.ContainsFunc(res.Instant.Tables, func(tb bench.TableBytes) bool { return tb.Table == "purchases" && tb.Bytes > 0 }) {
		t.Fatalf("instant: bytes by table %+v", res.Instant.Tables)
	}
	if res.Settings.Fsync == "" || res.Settings.SynchronousCommit == "" {
		t.Fatalf("settings %+v", res.Settings)
	}
	for _, r := range []*bench.FlowResult{res.Instant, res.Inflight} {
		if r.Succeeded+r.Failed != int64(r.Purchases) || r.Other != 0 || r.CreateErrors != 0 {
			t.Fatalf("%s: %d purchases, %d succeeded, %d failed, %d other", r.Name, r.Purchases, r.Succeeded, r.Failed, r.Other)
		}
		if r.Commits <= 0 || r.PeakRSSBytes <= 0 {
			t.Fatalf("%s: commits %d, peak RSS %d", r.Name, r.Commits, r.PeakRSSBytes)
		}
		var sum int64
		for _, tb := range r.Tables {
			sum += tb.Bytes
		}
		if sum != r.Bytes {
			t.Fatalf("%s: %d bytes, by table %+v", r.Name, r.Bytes, r.Tables)
		}
		// Split into River's job table (transient) and the rest (durable).
		if r.TransientBytes+r.DurableBytes != r.Bytes || r.TransientBytes <= 0 || r.DurableBytes <= 0 {
			t.Fatalf("%s: %d bytes split %+v", r.Name, r.Bytes, r.StorageSplit)
		}
		// The test's database runs on this machine: its CPU is read, and
		// split by the pools that named their sessions.
		groups := map[string]bool{}
		for _, g := range r.DBCPUByGroup {
			groups[g.Group] = true
		}
		if r.DBCPUMSPerPurchase == nil || *r.DBCPUMSPerPurchase <= 0 || r.ProcessCPUMSPerPurchase <= 0 ||
			!groups[poolWorkers] || !groups[poolAPI] {
			t.Fatalf("%s: database CPU %v (%s), process %v, by group %+v", r.Name, r.DBCPUMSPerPurchase, r.DBCPUUnknown,
				r.ProcessCPUMSPerPurchase, r.DBCPUByGroup)
		}
	}
	if !strings.Contains(stdout, "by process (ms): ") || !strings.Contains(stdout, "\ncpu: database ") {
		t.Fatalf("no CPU lines\n%s", stdout)
	}
	if res.Inflight.LatencyMS != 20 || res.Settings.LookupBackoff[0] != "50ms" || res.Settings.Database != "DATABASE_URL" {
		t.Fatalf("settings %+v, inflight latency %d", res.Settings, res.Inflight.LatencyMS)
	}
}

// runTinyBench runs `orchestrator bench` at a tiny size (8 purchases, 2
// clients, a 50 ms lookup backoff, and args) against a fresh database, as
// `serve` with 8 workers and connections would, and returns its output,
// the summary line, the --out result and its JSON. Exit 1 (a target
// missed: at this size some always are) is not a failure.
func runTinyBench(t *testing.T, args ...string) (stdout, last string, res bench.Result, raw []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out := filepath.Join(t.TempDir(), "bench.json")
	env := map[string]string{"DATABASE_URL": dbtest.NewDatabase(t), "WORKERS": "8", "DB_MAX_CONNS": "8"}
	getenv := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	var o, e bytes.Buffer
	args = append([]string{"bench", "--purchases", "8", "--concurrency", "2", "--lookup-backoff", "50ms", "--out", out}, args...)
	err := run(ctx, args, getenv, &o, &e)
	var exit exitError
	if err != nil && !(errors.As(err, &exit) && exit.code == 1) {
		t.Fatalf("bench: %v\nstdout:\n%s\nstderr:\n%s", err, o.String(), e.String())
	}
	lines := strings.Split(strings.TrimSpace(o.String()), "\n")
	raw, err = os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &res); err != nil {
		t.Fatal(err)
	}
	return o.String(), lines[len(lines)-1], res, raw
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
