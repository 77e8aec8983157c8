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
	Database          string   `json:"database"` // "throwaway" or "DATABASE_URL"
	Workers           int      `json:"river_workers"`
	FetchPollInterval string   `json:"river_fetch_poll_interval"`
	FetchCooldown     string   `json:"river_fetch_cooldown"`
	DBMaxConns        int32    `json:"db_max_conns"`
	APIMaxConns       int32    `json:"api_db_max_conns"`
	LookupBackoff     []string `json:"lookup_backoff"`
	Concurrency       int      `json:"concurrency"`
	RateLimit         int      `json:"rate_limit_per_client"`
}

// Result is the whole benchmark, as --out writes it.
type Result struct {
	Settings Settings      `json:"settings"`
	Floor    *FloorResult  `json:"floor,omitempty"`
	Instant  *FlowResult   `json:"instant,omitempty"`
	Inflight *FlowResult   `json:"inflight,omitempty"`
	Ratio    float64       `json:"ratio,omitempty"` // instant purchases/s ÷ floor chains/s
	Targets  []TargetCheck `json:"targets"`
}

// TargetCheck is one of the targets and whether the run met it.
type TargetCheck struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Limit string  `json:"limit"`
	Met   bool    `json:"met"`
}

// The targets, for this 2-core machine.
const (
	TargetRatio       = 0.5
	TargetCommits     = 6
	TargetCreateP99MS = 25
	TargetRSSMB       = 300
	TargetInflight    = 5000
)

// Finish computes the ratio and checks the targets of the runs that ran.
func (r *Result) Finish() {
	r.Targets = nil
	if r.Floor != nil && r.Instant != nil && r.Floor.ChainsPerSecond > 0 {
		r.Ratio = r.Instant.PurchasesPerSecond / r.Floor.ChainsPerSecond
		r.Targets = append(r.Targets, TargetCheck{"ratio", round(r.Ratio, 3), fmt.Sprintf(">= %v", TargetRatio), r.Ratio >= TargetRatio})
	}
	if i := r.Instant; i != nil {
		r.Targets = append(r.Targets,
			TargetCheck{"commits_per_purchase", round(i.CommitsPerPurchase, 2), fmt.Sprintf("<= %d", TargetCommits), i.CommitsPerPurchase <= TargetCommits},
			TargetCheck{"create_p99_ms", round(i.CreateP99MS, 2), fmt.Sprintf("< %d", TargetCreateP99MS), i.CreateP99MS < TargetCreateP99MS})
	}
	if f := r.Inflight; f != nil {
		rss := float64(f.PeakRSSBytes) / (1 << 20)
		r.Targets = append(r.Targets,
			TargetCheck{"inflight", float64(f.PeakInflight), fmt.Sprintf(">= %d", TargetInflight), f.PeakInflight >= TargetInflight},
			TargetCheck{"rss_mb", round(rss, 1), fmt.Sprintf("< %d", TargetRSSMB), rss < TargetRSSMB})
	}
}

// Missed returns the targets the run missed.
func (r *Result) Missed() []TargetCheck {
	var out []TargetCheck
	for _, t := range r.Targets {
		if !t.Met {
			out = append(out, t)
		}
	}
	return out
}

// Summary is the one line `orchestrator bench` prints last. A value of a
// run that was skipped prints as "-".
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
	i, f, fl := r.Instant, r.Inflight, r.Floor
	field("purchases_per_s", i != nil, get(i, func(x *FlowResult) float64 { return x.PurchasesPerSecond }), 1)
	field("river_chain_per_s", fl != nil, get(fl, func(x *FloorResult) float64 { return x.ChainsPerSecond }), 1)
	field("ratio", i != nil && fl != nil, r.Ratio, 2)
	field("create_p99_ms", i != nil, get(i, func(x *FlowResult) float64 { return x.CreateP99MS }), 1)
	field("commits_per_purchase", i != nil, get(i, func(x *FlowResult) float64 { return x.CommitsPerPurchase }), 2)
	field("db_bytes_per_purchase", i != nil, get(i, func(x *FlowResult) float64 { return x.BytesPerPurchase }), 0)
	field("inflight", f != nil, get(f, func(x *FlowResult) float64 { return float64(x.PeakInflight) }), 0)
	field("inflight_purchases_per_s", f != nil, get(f, func(x *FlowResult) float64 { return x.PurchasesPerSecond }), 1)
	field("rss_mb", f != nil, get(f, func(x *FlowResult) float64 { return float64(x.PeakRSSBytes) / (1 << 20) }), 0)
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
