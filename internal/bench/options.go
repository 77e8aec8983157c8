package bench

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"
)

// Options are the benchmark's flags. The zero value is not valid; use
// ParseOptions or DefaultOptions.
type Options struct {
	Purchases     int             // M: chains of the floor and purchases of the instant run
	Inflight      int             // purchases of the real-world run, all created before the batch drains
	Concurrency   int             // concurrent API clients creating purchases
	Out           string          // write the full result as JSON here ("" : don't)
	CPUProfile    string          // write a CPU profile of the whole run here ("" : don't)
	SkipFloor     bool            // skip the engine floor (no ratio)
	SkipInstant   bool            // skip the instant-provider run
	SkipInflight  bool            // skip the real-world run
	LookupBackoff []time.Duration // LOOKUP_BACKOFF for the bench's service
	Latency       time.Duration   // real-world provider latency
	Jitter        time.Duration   // uniform ± around Latency
}

// DefaultLookupBackoff is the status-lookup schedule of the bench runs:
// short, so that the run measures the engine and not the schedule of
// invariant 10 (docs/invariants.md#10-nothing-waits-forever), whose first
// lookup waits 5 s.
const DefaultLookupBackoff = "200ms,500ms,1s,2s"

// DefaultOptions returns the defaults of `orchestrator bench`.
func DefaultOptions() Options {
	o, _ := ParseOptions(nil)
	return o
}

// ParseOptions parses the bench's arguments; every error names its flag.
func ParseOptions(args []string) (Options, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var o Options
	fs.IntVar(&o.Purchases, "purchases", 2000, "M: floor chains and instant-provider purchases")
	fs.IntVar(&o.Inflight, "inflight", 5000, "purchases of the real-world run, in flight at once")
	fs.IntVar(&o.Concurrency, "concurrency", 8, "concurrent API clients")
	fs.StringVar(&o.Out, "out", "", "write the full result as JSON to this file")
	fs.StringVar(&o.CPUProfile, "cpuprofile", "", "write a CPU profile (pprof) of the run to this file")
	fs.BoolVar(&o.SkipFloor, "skip-floor", false, "skip the engine floor")
	fs.BoolVar(&o.SkipInstant, "skip-instant", false, "skip the instant-provider run")
	fs.BoolVar(&o.SkipInflight, "skip-inflight", false, "skip the real-world run")
	backoff := fs.String("lookup-backoff", DefaultLookupBackoff, "LOOKUP_BACKOFF of the bench's service")
	fs.DurationVar(&o.Latency, "latency", 300*time.Millisecond, "real-world provider latency")
	fs.DurationVar(&o.Jitter, "jitter", 100*time.Millisecond, "uniform ± around --latency")
	if err := fs.Parse(args); err != nil {
		return o, fmt.Errorf("bench: %w (flags: --purchases, --inflight, --concurrency, --out, --cpuprofile, "+
			"--skip-floor, --skip-instant, --skip-inflight, --lookup-backoff, --latency, --jitter)", err)
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("bench: unexpected argument %q", fs.Arg(0))
	}
	switch {
	case o.Purchases < 1 || o.Purchases > 1_000_000:
		return o, errors.New("bench: --purchases must be from 1 to 1000000")
	case o.Inflight < 1 || o.Inflight > 1_000_000:
		return o, errors.New("bench: --inflight must be from 1 to 1000000")
	case o.Concurrency < 1 || o.Concurrency > 10_000:
		return o, errors.New("bench: --concurrency must be from 1 to 10000")
	case o.Latency < 0 || o.Latency > 10*time.Second:
		return o, errors.New("bench: --latency must be from 0 to 10s")
	case o.Jitter < 0 || o.Jitter > o.Latency:
		return o, errors.New("bench: --jitter must be from 0 to --latency")
	case o.SkipFloor && o.SkipInstant && o.SkipInflight:
		return o, errors.New("bench: --skip-floor, --skip-instant and --skip-inflight together leave nothing to run")
	}
	for _, part := range strings.Split(*backoff, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(part))
		if err != nil || d <= 0 {
			return o, fmt.Errorf("bench: --lookup-backoff must be a comma-separated list of positive durations like 200ms,1s, got %q", *backoff)
		}
		o.LookupBackoff = append(o.LookupBackoff, d)
	}
	return o, nil
}
