package bench

import (
	"regexp"
	"testing"
)

// A run that ran every part, meeting every target.
func fullResult() Result {
	return Result{
		FloorOurs: &FloorResult{Name: "ours", ChainsPerSecond: 160},
		FloorBest: &FloorResult{Name: "best", ChainsPerSecond: 400},
		Instant:   &FlowResult{PurchasesPerSecond: 250, CreateP99MS: 12.34, CommitsPerPurchase: 5.5, BytesPerPurchase: 5999.6},
		Latency: []LatencyResult{
			{Name: "01", Scenario: "01", P50MS: 21.26, P99MS: 120.04},
			{Name: "default", Scenario: "", P50MS: 240, P99MS: 900},
		},
		Inflight: &FlowResult{PeakInflight: 5000, PurchasesPerSecond: 210, PeakRSSBytes: 200 << 20},
	}
}

func TestSummaryLine(t *testing.T) {
	t.Parallel()
	r := fullResult()
	r.Finish()
	want := "bench: purchases_per_s=250.0 best_floor_chains_per_s=400.0 ratio=0.62 inflight_purchases_per_s=210.0 inflight_ratio=0.84 " +
		"hop_p50_ms=21.3 hop_p99_ms=120.0 create_p99_ms=12.3 commits_per_purchase=5.50 db_bytes_per_purchase=6000 rss_mb=200"
	if got := r.Summary(); got != want {
		t.Fatalf("summary\n got %s\nwant %s", got, want)
	}
	if m := r.Missed(); len(m) != 0 || r.Failed() {
		t.Fatalf("missed %+v", m)
	}
	names := map[string]bool{}
	for _, c := range r.Targets {
		names[c.Name] = true
	}
	for _, n := range []string{"ratio", "inflight_ratio", "hop_p50_ms", "hop_p99_ms", "create_p99_ms", "commits_per_purchase",
		"db_bytes_per_purchase", "inflight", "rss_mb"} {
		if !names[n] {
			t.Errorf("no target %s in %+v", n, r.Targets)
		}
	}
}

// The ratio is against the best floor, not ours.
func TestRatioIsAgainstTheBestFloor(t *testing.T) {
	t.Parallel()
	r := fullResult()
	r.FloorBest = nil
	r.Finish()
	if r.Ratio != 0 {
		t.Fatalf("ratio %v without the best floor", r.Ratio)
	}
	r = fullResult()
	r.FloorBest.ChainsPerSecond = 501
	r.Finish()
	if !missed(r)["ratio"] || !r.Failed() {
		t.Fatalf("ratio %v: missed %v", r.Ratio, missed(r))
	}
}

// Each target fails the run at its limit; hop_p99_ms is reported only.
func TestEachTargetAtItsLimit(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		spoil func(*Result)
	}{
		{"inflight_ratio", func(r *Result) { r.Inflight.PurchasesPerSecond = 199.9 }},
		{"hop_p50_ms", func(r *Result) { r.Latency[0].P50MS = 50 }},
		{"create_p99_ms", func(r *Result) { r.Instant.CreateP99MS = 25 }},
		{"commits_per_purchase", func(r *Result) { r.Instant.CommitsPerPurchase = 6.01 }},
		{"db_bytes_per_purchase", func(r *Result) { r.Instant.BytesPerPurchase = 6000.1 }},
		{"rss_mb", func(r *Result) { r.Inflight.PeakRSSBytes = 300 << 20 }},
		{"inflight", func(r *Result) { r.Inflight.PeakInflight = 4999 }},
	} {
		r := fullResult()
		tc.spoil(&r)
		r.Finish()
		if m := missed(r); len(m) != 1 || !m[tc.name] || !r.Failed() {
			t.Errorf("%s: missed %v, failed %v", tc.name, m, r.Failed())
		}
	}
	r := fullResult()
	r.Latency[0].P99MS = 250
	r.Finish()
	if m := missed(r); len(m) != 1 || !m["hop_p99_ms"] || r.Failed() {
		t.Errorf("hop_p99_ms: missed %v, failed %v", m, r.Failed())
	}
}

func TestSummaryLineOfSkippedParts(t *testing.T) {
	t.Parallel()
	r := Result{Instant: &FlowResult{PurchasesPerSecond: 10}}
	r.Finish()
	re := regexp.MustCompile(`^bench: purchases_per_s=10\.0 best_floor_chains_per_s=- ratio=- inflight_purchases_per_s=- inflight_ratio=- ` +
		`hop_p50_ms=- hop_p99_ms=- create_p99_ms=0\.0 commits_per_purchase=0\.00 db_bytes_per_purchase=0 rss_mb=-$`)
	if got := r.Summary(); !re.MatchString(got) {
		t.Fatalf("summary %q", got)
	}
	// The latency part without scenario 01 has no hop.
	r = Result{Latency: []LatencyResult{{Name: "default", P50MS: 3}}}
	r.Finish()
	if got := r.Summary(); !regexp.MustCompile(` hop_p50_ms=- hop_p99_ms=- `).MatchString(got) || len(r.Targets) != 0 {
		t.Fatalf("summary %q, targets %+v", got, r.Targets)
	}
}

// The preload's fields follow the rest when it ran.
func TestSummaryLineWithPreload(t *testing.T) {
	t.Parallel()
	r := fullResult()
	r.Preload = &PreloadResult{Purchases: 5_000_000, CreateP99MS: 19.87, ReconcileSeconds: 3.456}
	r.Finish()
	re := regexp.MustCompile(` rss_mb=200 preload=5000000 preload_create_p99_ms=19\.9 preload_reconcile_s=3\.46$`)
	if got := r.Summary(); !re.MatchString(got) {
		t.Fatalf("summary %q", got)
	}
}

// Each probe of the preload is a target: within 2x of the empty database.
func TestPreloadProbesAreTargets(t *testing.T) {
	t.Parallel()
	r := fullResult()
	r.Preload = &PreloadResult{Purchases: 5_000_000, Report: &PreloadReport{Comparison: []ProbeComparison{
		{Name: "create", Ratio: 1.1}, {Name: "sweeper", Ratio: 3, Over: true}}}}
	r.Finish()
	if m := missed(r); len(m) != 1 || !m["preload sweeper"] || !r.Failed() {
		t.Fatalf("missed %v", m)
	}
}

func missed(r Result) map[string]bool {
	m := map[string]bool{}
	for _, t := range r.Missed() {
		m[t.Name] = true
	}
	return m
}

// The CPU ratio is the best floor's database CPU per chain over the instant
// run's per purchase, and the CPU line says so; unknown, it is left out.
func TestDBCPURatio(t *testing.T) {
	t.Parallel()
	r := fullResult()
	r.Finish()
	if r.DBCPURatio != 0 {
		t.Fatalf("db_cpu_ratio %v without CPU times", r.DBCPURatio)
	}
	if got, want := r.CPULine(), "cpu: database unknown (); this process 0.00 ms per purchase"; got != want {
		t.Fatalf("CPU line\n got %s\nwant %s", got, want)
	}
	chain, purchase := 5.0, 12.5
	r.FloorBest.DBCPUMSPerChain, r.FloorBest.ProcessCPUMSPerChain = &chain, 1.25
	r.Instant.DBCPUMSPerPurchase, r.Instant.ProcessCPUMSPerPurchase = &purchase, 6
	r.Finish()
	if r.DBCPURatio != 0.4 {
		t.Fatalf("db_cpu_ratio %v, want 0.4", r.DBCPURatio)
	}
	want := "cpu: database 12.50 ms per purchase, this process 6.00 ms; best floor: database 5.00 ms per chain, this process 1.25 ms; db_cpu_ratio=0.40"
	if got := r.CPULine(); got != want {
		t.Fatalf("CPU line\n got %s\nwant %s", got, want)
	}
}
