// Command orchestrator buys PPOB products from aggregator APIs as durable
// flows in PostgreSQL. See README.md for its commands and docs/ for the rest.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/ppob-orchestrator/orchestrator/internal/config"
	"github.com/ppob-orchestrator/orchestrator/internal/telemetry"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.LookupEnv, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		var exit exitError
		if errors.As(err, &exit) {
			os.Exit(exit.code)
		}
		fmt.Fprintln(os.Stderr, "orchestrator:", err)
		os.Exit(2)
	}
}

// exitError ends the program with a code and no further message.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

const usage = `usage: orchestrator COMMAND

commands:
  dev [--webhook-url URL]  run everything on this machine (throwaway PostgreSQL when no DATABASE_URL);
                           URL receives the demo client's webhooks
  serve                    API and workers against DATABASE_URL
  migrate up|down|status   apply, undo one step of, or show the schema migrations
  sim                      serve both provider simulators (SIM_KLIKOO_ADDR, SIM_SNAPCART_ADDR)
  clients create --name N  create an API client and print its key (shown once)
  operators create --name N
                           create a console operator: print its token (shown once) and CONSOLE_OPERATORS entry
  catalog demo             insert the simulators' products into the catalog
  keygen --out FILE        write a new Klikoo RSA key (PKCS#8) and print its public key
  reconcile [--since D] [--format table|json]
                           the reconciliation report; exit 1 when something needs attention
  chaos [flags]            kill -9, provider faults and a database restart under load; checks nothing was lost or charged twice
  bench [flags]            the throughput benchmark, against the engine's own floor
`

// run is the whole program, with its environment injected.
func run(ctx context.Context, args []string, getenv func(string) (string, bool), stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitError{2}
	}
	cfg, err := config.Load(getenv)
	if err != nil {
		return err
	}
	logger := newLogger(cfg, stderr)
	switch args[0] {
	case "dev":
		return runDev(ctx, cfg, args[1:], logger, stdout)
	case "serve":
		return serve(ctx, cfg, logger, serveOptions{})
	case "migrate":
		return runMigrate(ctx, cfg, args[1:], stdout)
	case "sim":
		return runSim(ctx, cfg, args[1:], logger, stdout)
	case "clients":
		return runClients(ctx, cfg, args[1:], stdout)
	case "operators":
		return runOperators(args[1:], stdout)
	case "catalog":
		return runCatalog(ctx, cfg, args[1:], stdout)
	case "keygen":
		return runKeygen(args[1:], stdout)
	case "reconcile":
		return runReconcile(ctx, cfg, args[1:], stdout, stderr)
	case "chaos":
		return runChaos(ctx, cfg, args[1:], stdout, stderr)
	case "bench":
		return runBench(ctx, cfg, args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprintf(stderr, "unknown command %q\n%s", args[0], usage)
		return exitError{2}
	}
}

func newLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewTextHandler(w, opts)
	if cfg.LogFormat == "json" {
		h = slog.NewJSONHandler(w, opts)
	}
	return slog.New(telemetry.LogHandler(h))
}
