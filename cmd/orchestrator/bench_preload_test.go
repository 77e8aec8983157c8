package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// `orchestrator bench --preload N` fills the database before the runs,
// probes it before and after, and reports the preload's fields on the
// summary line, the probes in the result and their plans in
// --explain-out. (Its numbers mean nothing at this size and are not
// asserted.)
func TestBenchPreload(t *testing.T) {
	t.Parallel()
	plans := filepath.Join(t.TempDir(), "plans.txt")
	stdout, last, res, b := runTinyBench(t, "--preload", "400", "--explain-out", plans, "--skip-floor", "--skip-inflight", "--skip-latency")
	for _, field := range []string{"preload=400", "preload_create_p99_ms=", "preload_reconcile_s="} {
		if !strings.Contains(last, " "+field) || strings.Contains(last, field+"-") {
			t.Fatalf("last line %q lacks %s\n%s", last, field, stdout)
		}
	}
	if p := res.Preload; p == nil || p.Purchases != 400 || p.Report == nil || len(p.Report.Comparison) == 0 ||
		len(p.Report.Empty) != len(p.Report.Preloaded) || res.Instant == nil || p.CreateP99MS != res.Instant.CreateP99MS {
		t.Fatalf("result %s", b)
	}
	if st, err := os.Stat(plans); err != nil || st.Size() == 0 {
		t.Fatalf("--explain-out: %v", err)
	}
}
