package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/ppob-orchestrator/orchestrator/internal/chaos"
	"github.com/ppob-orchestrator/orchestrator/internal/config"
)

const chaosUsage = `usage: orchestrator chaos [flags]

Runs PostgreSQL, the simulators and two serve processes of this binary, buys
--purchases purchases over the API while provider faults are on, serve
processes are killed with SIGKILL and PostgreSQL is restarted, then checks
that nothing was charged twice, nothing was lost and every purchase ended as
its scenario requires. The last line is the summary; the exit status is 1
when something was found.

flags:
  --purchases N          purchases to create (default 300)
  --kills K              SIGKILLs of a random serve process, each restarted (default 3)
  --db-restarts R        PostgreSQL restarts in immediate mode under load (default 1)
  --fault-rate F         share of provider calls that time out, reset or answer 5xx (default 0.05)
  --rate R               purchases created per second (default 20)
  --status-deadline D    the service's STATUS_DEADLINE in the run (default 90s)
  --deadline D           how long to wait, after the last purchase is created, for all to settle (default 5m)
  --seed S               random seed (default: from the clock; printed)
  --keep                 keep the work directory (PostgreSQL's data, every log) also on success
`

// runChaos is `orchestrator chaos`: the chaos test of issue 7, as a program.
// It needs nothing but this binary and PostgreSQL's binaries: it starts its
// own throwaway cluster (DATABASE_URL is ignored) and stops everything it
// started on success, on failure and on Ctrl-C.
func runChaos(ctx context.Context, _ *config.Config, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("chaos", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	o := chaos.Options{Progress: stdout}
	fs.IntVar(&o.Purchases, "purchases", 300, "")
	fs.IntVar(&o.Kills, "kills", 3, "")
	fs.IntVar(&o.DBRestarts, "db-restarts", 1, "")
	fs.Float64Var(&o.FaultRate, "fault-rate", 0.05, "")
	fs.Float64Var(&o.Rate, "rate", 20, "")
	fs.DurationVar(&o.StatusDeadline, "status-deadline", 90*time.Second, "")
	fs.DurationVar(&o.Deadline, "deadline", 5*time.Minute, "")
	seed := fs.Uint64("seed", 0, "")
	keep := fs.Bool("keep", false, "")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, chaosUsage)
			return nil
		}
		return fmt.Errorf("chaos: %w\n%s", err, chaosUsage)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("chaos: unexpected argument %q\n%s", fs.Arg(0), chaosUsage)
	}
	if err := o.Validate(); err != nil {
		return fmt.Errorf("chaos: %w", err)
	}
	o.Seed = *seed
	if o.Seed == 0 {
		o.Seed = uint64(time.Now().UnixNano())
	}
	bin, err := os.Executable()
	if err != nil {
		return fmt.Errorf("chaos: find this binary: %w", err)
	}
	if o.Dir, err = os.MkdirTemp("", "orchestrator-chaos-"); err != nil {
		return fmt.Errorf("chaos: work dir: %w", err)
	}
	o.Bin = bin
	fmt.Fprintf(stdout, "chaos: seed %d (repeat with --seed %d)\n", o.Seed, o.Seed)

	res, err := chaos.Run(ctx, o)
	ok := err == nil && res.OK()
	if res != nil {
		for _, line := range res.Details() {
			fmt.Fprintln(stdout, line)
		}
	}
	if ok && !*keep {
		if rmErr := os.RemoveAll(o.Dir); rmErr != nil {
			fmt.Fprintf(stderr, "chaos: remove work dir: %v\n", rmErr)
		}
	} else {
		fmt.Fprintf(stdout, "chaos: work dir kept: %s\n", o.Dir)
	}
	if err != nil {
		if res != nil {
			fmt.Fprintln(stdout, res.Line())
		}
		return fmt.Errorf("chaos: %w (work dir: %s)", err, o.Dir)
	}
	fmt.Fprintln(stdout, res.Line())
	if !ok {
		return exitError{1}
	}
	return nil
}
