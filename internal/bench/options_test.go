package bench

import (
	"strings"
	"testing"
	"time"
)

func TestParseOptionsDefaults(t *testing.T) {
	t.Parallel()
	o := DefaultOptions()
	if o.Purchases != 2000 || o.Inflight != 5000 || o.Concurrency != 8 || o.Latency != 300*time.Millisecond || o.Jitter != 100*time.Millisecond {
		t.Fatalf("defaults: %+v", o)
	}
	if len(o.LookupBackoff) != 4 || o.LookupBackoff[0] != 200*time.Millisecond {
		t.Fatalf("lookup backoff: %v", o.LookupBackoff)
	}
	if o.LatencyRate != 10 || o.LatencyPurchases != 300 || o.SkipLatency {
		t.Fatalf("latency part: %+v", o)
	}
	if want := (FloorSettings{100, 20, 2 * time.Millisecond, 20 * time.Millisecond, "force_generic_plan"}); o.BestFloor != want {
		t.Fatalf("best floor %v, want %v", o.BestFloor, want)
	}
}

// Every invalid flag is refused with an error naming it.
func TestParseOptionsNamesTheBadFlag(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		flag string
	}{
		{[]string{"--purchases", "0"}, "--purchases"},
		{[]string{"--purchases", "x"}, "purchases"},
		{[]string{"--inflight", "-1"}, "--inflight"},
		{[]string{"--concurrency", "0"}, "--concurrency"},
		{[]string{"--latency", "-1s"}, "--latency"},
		{[]string{"--latency", "100ms", "--jitter", "200ms"}, "--jitter"},
		{[]string{"--lookup-backoff", "1s,nope"}, "--lookup-backoff"},
		{[]string{"--lookup-backoff", "0s"}, "--lookup-backoff"},
		{[]string{"--skip-floor", "--skip-instant", "--skip-inflight", "--skip-latency"}, "--skip-latency"},
		{[]string{"--latency-rate", "0"}, "--latency-rate"},
		{[]string{"--latency-rate", "1001"}, "--latency-rate"},
		{[]string{"--latency-rate", "fast"}, "latency-rate"},
		{[]string{"--latency-purchases", "0"}, "--latency-purchases"},
		{[]string{"--floor-workers", "0"}, "--floor-workers"},
		{[]string{"--floor-pool", "1"}, "--floor-pool"},
		{[]string{"--floor-pool", "101"}, "--floor-pool"},
		{[]string{"--floor-fetch-cooldown", "500us"}, "--floor-fetch-cooldown"},
		{[]string{"--floor-fetch-poll", "1ms"}, "--floor-fetch-poll"},
		{[]string{"--floor-fetch-poll", "2m"}, "--floor-fetch-poll"},
		{[]string{"--floor-plan-cache-mode", "generic"}, "--floor-plan-cache-mode"},
		{[]string{"--floor-plan-cache-mode", ""}, "--floor-plan-cache-mode"},
		{[]string{"--preload", "-1"}, "--preload"},
		{[]string{"--preload", "50000001"}, "--preload"},
		{[]string{"--explain-out", "plans.txt"}, "--explain-out"},
		{[]string{"--statements-out", "st.txt", "--skip-instant"}, "--statements-out"},
		{[]string{"--nope"}, "nope"},
		{[]string{"extra"}, "extra"},
	} {
		_, err := ParseOptions(tc.args)
		if err == nil || !strings.Contains(err.Error(), tc.flag) {
			t.Errorf("ParseOptions(%q) = %v, want an error naming %s", tc.args, err, tc.flag)
		}
	}
}

func TestParseOptionsAccepts(t *testing.T) {
	t.Parallel()
	o, err := ParseOptions([]string{"--purchases", "10", "--inflight", "20", "--concurrency", "3", "--skip-floor",
		"--out", "r.json", "--cpuprofile", "cpu.prof", "--lookup-backoff", "50ms, 1s", "--latency", "0s", "--jitter", "0s",
		"--skip-latency", "--latency-rate", "2.5", "--latency-purchases", "7",
		"--floor-workers", "64", "--floor-pool", "12", "--floor-fetch-cooldown", "5ms", "--floor-fetch-poll", "5ms",
		"--floor-plan-cache-mode", "auto"})
	if err != nil {
		t.Fatal(err)
	}
	if o.Purchases != 10 || o.Inflight != 20 || o.Concurrency != 3 || !o.SkipFloor || o.Out != "r.json" ||
		o.CPUProfile != "cpu.prof" || len(o.LookupBackoff) != 2 || o.LookupBackoff[1] != time.Second || o.Latency != 0 ||
		!o.SkipLatency || o.LatencyRate != 2.5 || o.LatencyPurchases != 7 {
		t.Fatalf("%+v", o)
	}
	if want := (FloorSettings{64, 12, 5 * time.Millisecond, 5 * time.Millisecond, "auto"}); o.BestFloor != want {
		t.Fatalf("best floor %v, want %v", o.BestFloor, want)
	}
	// --preload alone is something to run.
	o, err = ParseOptions([]string{"--preload", "5000000", "--explain-out", "plans.txt", "--skip-floor", "--skip-instant", "--skip-inflight", "--skip-latency"})
	if err != nil || o.Preload != 5_000_000 || o.ExplainOut != "plans.txt" {
		t.Fatalf("%+v, %v", o, err)
	}
}
