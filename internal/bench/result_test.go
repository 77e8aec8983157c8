package bench

import (
	"regexp"
	"testing"
)

func TestSummaryLine(t *testing.T) {
	t.Parallel()
	r := Result{
		Floor:    &FloorResult{ChainsPerSecond: 400},
		Instant:  &FlowResult{PurchasesPerSecond: 250, CreateP99MS: 12.34, CommitsPerPurchase: 5.5, BytesPerPurchase: 9000},
		Inflight: &FlowResult{PeakInflight: 5000, PurchasesPerSecond: 150, PeakRSSBytes: 200 << 20},
	}
	r.Finish()
	want := "bench: purchases_per_s=250.0 river_chain_per_s=400.0 ratio=0.62 create_p99_ms=12.3 commits_per_purchase=5.50 " +
		"db_bytes_per_purchase=9000 inflight=5000 inflight_purchases_per_s=150.0 rss_mb=200"
	if got := r.Summary(); got != want {
		t.Fatalf("summary\n got %s\nwant %s", got, want)
	}
	if m := r.Missed(); len(m) != 0 {
		t.Fatalf("missed %+v", m)
	}

	r.Instant.CommitsPerPurchase = 6.01
	r.Inflight.PeakInflight = 4999
	r.Finish()
	missed := map[string]bool{}
	for _, m := range r.Missed() {
		missed[m.Name] = true
	}
	if len(missed) != 2 || !missed["commits_per_purchase"] || !missed["inflight"] {
		t.Fatalf("missed %v, want commits_per_purchase and inflight", missed)
	}
}

func TestSummaryLineOfSkippedRuns(t *testing.T) {
	t.Parallel()
	r := Result{Instant: &FlowResult{PurchasesPerSecond: 10}}
	r.Finish()
	re := regexp.MustCompile(`^bench: purchases_per_s=10\.0 river_chain_per_s=- ratio=- create_p99_ms=0\.0 commits_per_purchase=0\.00 db_bytes_per_purchase=0 inflight=- inflight_purchases_per_s=- rss_mb=-$`)
	if got := r.Summary(); !re.MatchString(got) {
		t.Fatalf("summary %q", got)
	}
}
