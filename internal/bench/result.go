package bench

import (
	"fmt"
	"strings"
)

// Settings are what a result was measured with.
type Settings struct {
	CPUs              int      `json:"cpus"`
	GoVersion         string   `json:"go_version"`
	PostgreSQL        string   `json:"postgresql"`
	Database          string   `json:"database"`           // "throwaway" or "DATABASE_URL"
	Fsync             string   `json:"fsync"`              // the server's, as it reports it
	SynchronousCommit string   `json:"synchronous_commit"` // the server's, as it reports it
	Workers           int      `json:"river_workers"`
	FetchPollInterval string   `json:"river_fetch_poll_interval"`
	FetchCooldown     string   `json:"river_fetch_cooldown"`
	DBMaxConns        int32    `json:"db_max_conns"`
	APIMaxConns       int32    `json:"api_db_max_conns"`
	LookupBackoff     []string `json:"lookup_backoff"`
	Concurrency       int      `json:"concurrency"`
	RateLimit         int      `json:"rate_limit_per_client"`
}

// PreloadResult is what `--preload` measured: the purchases it loaded
// before the run, the create p99 on those tables and how long
// `orchestrator reconcile --since 24h` took on them. The summary line
// prints it when present.
type PreloadResult struct {
	Purchases        int64   `json:"purchases"`
	CreateP99MS      float64 `json:"create_p99_ms"`
	ReconcileSeconds float64 `json:"reconcile_s"`

	// Report is what the preload wrote and its probes found (bigtables.go).
	Report *PreloadReport `json:"report,omitempty"`
}

// Result is the whole benchmark, as --out writes it.
type Result struct {
	Settings      Settings        `json:"settings"`
	FloorOurs     *FloorResult    `json:"floor_ours,omitempty"` // the flow's River settings and pool
	FloorBest     *FloorResult    `json:"floor_best,omitempty"` // River at its best (BestRiverConfig)
	Instant       *FlowResult     `json:"instant,omitempty"`
	Latency       []LatencyResult `json:"latency,omitempty"` // one per scenario
	Inflight      *FlowResult     `json:"inflight,omitempty"`
	Preload       *PreloadResult  `json:"preload,omitempty"`
	Ratio         float64         `json:"ratio,omitempty"`          // instant purchases/s ÷ best floor chains/s
	InflightRatio float64         `json:"inflight_ratio,omitempty"` // inflight purchases/s ÷ instant purchases/s
	// DBCPURatio is the best floor's database CPU per chain ÷ the instant
	// run's per purchase: how the database side alone compares, beside
	// Ratio, which counts both sides. Not a target. Zero when either is
	// unknown.
	DBCPURatio float64       `json:"db_cpu_ratio,omitempty"`
	Targets    []TargetCheck `json:"targets"`
}

// TargetCheck is one of the targets and whether the run met it. A
// report-only target is printed when missed but does not fail the run.
type TargetCheck struct {
	Name       string  `json:"name"`
	Value      float64 `json:"value"`
	Limit      string  `json:"limit"`
	Met        bool    `json:"met"`
	ReportOnly bool    `json:"report_only,omitempty"`
}

// The targets, for this 2-core machine.
const (
	TargetRatio         = 0.5
	TargetInflightRatio = 0.8
	TargetHopP50MS      = 50
	TargetHopP99MS      = 250 // report only
	TargetCommits       = 6
	TargetCreateP99MS   = 25
	TargetBytes         = 6000
	TargetRSSMB         = 300
	TargetInflight      = 5000
)

// Hop returns the latency part's batch of scenario 01, whose
// create-to-succeeded times are the summary's hop_*; nil when it did not run.
func (r *Result) Hop() *LatencyResult {
	for i := range r.Latency {
		if r.Latency[i].Scenario == ScenarioSuccessAtOnce {
			return &r.Latency[i]
		}
	}
	return nil
}

// Finish computes the ratios and checks the targets of the parts that ran.
func (r *Result) Finish() {
	r.Targets, r.Ratio, r.InflightRatio, r.DBCPURatio = nil, 0, 0, 0
	check := func(name string, v float64, prec int, limit string, met bool) {
		r.Targets = append(r.Targets, TargetCheck{Name: name, Value: round(v, prec), Limit: limit, Met: met})
	}
	i, f := r.Instant, r.Inflight
	if b := r.FloorBest; b != nil && i != nil && b.ChainsPerSecond > 0 {
		r.Ratio = i.PurchasesPerSecond / b.ChainsPerSecond
		check("ratio", r.Ratio, 3, fmt.Sprintf(">= %v", TargetRatio), r.Ratio >= TargetRatio)
	}
	if b := r.FloorBest; b != nil && i != nil && b.DBCPUMSPerChain != nil && i.DBCPUMSPerPurchase != nil && *i.DBCPUMSPerPurchase > 0 {
		r.DBCPURatio = *b.DBCPUMSPerChain / *i.DBCPUMSPerPurchase
	}
	if i != nil && f != nil && i.PurchasesPerSecond > 0 {
		r.InflightRatio = f.PurchasesPerSecond / i.PurchasesPerSecond
		check("inflight_ratio", r.InflightRatio, 3, fmt.Sprintf(">= %v", TargetInflightRatio), r.InflightRatio >= TargetInflightRatio)
	}
	if h := r.Hop(); h != nil {
		check("hop_p50_ms", h.P50MS, 1, fmt.Sprintf("< %d", TargetHopP50MS), h.P50MS < TargetHopP50MS)
		check("hop_p99_ms", h.P99MS, 1, fmt.Sprintf("< %d", TargetHopP99MS), h.P99MS < TargetHopP99MS)
		r.Targets[len(r.Targets)-1].ReportOnly = true
	}
	if i != nil {
		check("create_p99_ms", i.CreateP99MS, 2, fmt.Sprintf("< %d", TargetCreateP99MS), i.CreateP99MS < TargetCreateP99MS)
		check("commits_per_purchase", i.CommitsPerPurchase, 2, fmt.Sprintf("<= %d", TargetCommits), i.CommitsPerPurchase <= TargetCommits)
		check("db_bytes_per_purchase", i.BytesPerPurchase, 0, fmt.Sprintf("<= %d", TargetBytes), i.BytesPerPurchase <= TargetBytes)
	}
	if f != nil {
		rss := float64(f.PeakRSSBytes) / (1 << 20)
		check("inflight", float64(f.PeakInflight), 0, fmt.Sprintf(">= %d", TargetInflight), f.PeakInflight >= TargetInflight)
		check("rss_mb", rss, 1, fmt.Sprintf("< %d", TargetRSSMB), rss < TargetRSSMB)
	}
	r.Targets = append(r.Targets, r.Preload.targets()...)
}

// Missed returns the targets the run missed, report-only ones included.
func (r *Result) Missed() []TargetCheck {
	var out []TargetCheck
	for _, t := range r.Targets {
		if !t.Met {
			out = append(out, t)
		}
	}
	return out
}

// Failed reports whether the run missed a target that fails it (exit 1).
func (r *Result) Failed() bool {
	for _, t := range r.Missed() {
		if !t.ReportOnly {
			return true
		}
	}
	return false
}

// Summary is the one line `orchestrator bench` prints last, with the names
// scripts read (docs/performance.md). A value of a part that was skipped
// prints as "-"; the preload's three fields follow only when it ran.
func (r *Result) Summary() string {
	var b strings.Builder
	b.WriteString("bench:")
	field := func(name string, ok bool, v float64, prec int) {
		if ok {
			fmt.Fprintf(&b, " %s=%.*f", name, prec, v)
		} else {
			fmt.Fprintf(&b, " %s=-", name)
		}
	}
	i, f, fl, h := r.Instant, r.Inflight, r.FloorBest, r.Hop()
	field("purchases_per_s", i != nil, get(i, func(x *FlowResult) float64 { return x.PurchasesPerSecond }), 1)
	field("best_floor_chains_per_s", fl != nil, get(fl, func(x *FloorResult) float64 { return x.ChainsPerSecond }), 1)
	field("ratio", i != nil && fl != nil, r.Ratio, 2)
	field("inflight_purchases_per_s", f != nil, get(f, func(x *FlowResult) float64 { return x.PurchasesPerSecond }), 1)
	field("inflight_ratio", i != nil && f != nil, r.InflightRatio, 2)
	field("hop_p50_ms", h != nil, get(h, func(x *LatencyResult) float64 { return x.P50MS }), 1)
	field("hop_p99_ms", h != nil, get(h, func(x *LatencyResult) float64 { return x.P99MS }), 1)
	field("create_p99_ms", i != nil, get(i, func(x *FlowResult) float64 { return x.CreateP99MS }), 1)
	field("commits_per_purchase", i != nil, get(i, func(x *FlowResult) float64 { return x.CommitsPerPurchase }), 2)
	field("db_bytes_per_purchase", i != nil, get(i, func(x *FlowResult) float64 { return x.BytesPerPurchase }), 0)
	field("rss_mb", f != nil, get(f, func(x *FlowResult) float64 { return float64(x.PeakRSSBytes) / (1 << 20) }), 0)
	if p := r.Preload; p != nil {
		field("preload", true, float64(p.Purchases), 0)
		field("preload_create_p99_ms", true, p.CreateP99MS, 1)
		field("preload_reconcile_s", true, p.ReconcileSeconds, 2)
	}
	return b.String()
}

func get[T any](p *T, f func(*T) float64) float64 {
	if p == nil {
		return 0
	}
	return f(p)
}

func round(v float64, prec int) float64 {
	s := fmt.Sprintf("%.*f", prec, v)
	var out float64
	_, _ = fmt.Sscan(s, &out)
	return out
}

// CPULine says what the instant run and the best floor cost the database's
// and this process's CPU, or "" when the instant run did not run.
func (r *Result) CPULine() string {
	i := r.Instant
	if i == nil {
		return ""
	}
	if i.DBCPUMSPerPurchase == nil {
		return fmt.Sprintf("cpu: database unknown (%s); this process %.2f ms per purchase", i.DBCPUUnknown, i.ProcessCPUMSPerPurchase)
	}
	line := fmt.Sprintf("cpu: database %.2f ms per purchase, this process %.2f ms", *i.DBCPUMSPerPurchase, i.ProcessCPUMSPerPurchase)
	if b := r.FloorBest; b != nil && b.DBCPUMSPerChain != nil {
		line += fmt.Sprintf("; best floor: database %.2f ms per chain, this process %.2f ms; db_cpu_ratio=%.2f",
			*b.DBCPUMSPerChain, b.ProcessCPUMSPerChain, r.DBCPURatio)
	}
	return line
}
