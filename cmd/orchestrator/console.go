package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/ppob-orchestrator/orchestrator/internal/config"
	"github.com/ppob-orchestrator/orchestrator/internal/console"
	"github.com/ppob-orchestrator/orchestrator/internal/flow"
	"github.com/ppob-orchestrator/orchestrator/internal/httpapi"
	"github.com/ppob-orchestrator/orchestrator/internal/providers/klikoo"
	"github.com/ppob-orchestrator/orchestrator/internal/providers/snapcart"
	"github.com/ppob-orchestrator/orchestrator/internal/webhook"
)

// newConsole builds the operator console on the API's pool. River UI gets
// an insert-only River client of its own on that pool too, so an operator
// browsing jobs never takes a connection from the workers. wh sends a
// webhook delivery again when an operator retries it.
func newConsole(cfg *config.Config, logger *slog.Logger, apiPool *pgxpool.Pool, svc *flow.Service, wh *webhook.Service, dev bool) (*console.Console, error) {
	jobsClient, err := river.NewClient(riverpgxv5.New(apiPool), &river.Config{Logger: logger})
	if err != nil {
		return nil, fmt.Errorf("console: river client: %w", err)
	}
	jobs, err := console.NewJobs(jobsClient, logger)
	if err != nil {
		return nil, fmt.Errorf("console: river ui: %w", err)
	}
	ops := make(map[string][32]byte, len(cfg.ConsoleOperators))
	for _, o := range cfg.ConsoleOperators {
		ops[o.Name] = o.TokenHash
	}
	return console.New(console.Config{
		Pool: apiPool, Flow: svc, Webhooks: wh, Logger: logger, Jobs: jobs, Operators: ops, AdminToken: cfg.AdminToken,
		SessionTTL: cfg.ConsoleSessionTTL, Dev: dev,
		BalanceAlertBelow: map[string]int64{klikoo.Name: cfg.KlikooBalanceAlertBelow, snapcart.Name: cfg.SnapcartBalanceAlertBelow},
	})
}

// withConsole serves the console at /console/ and the API at every other
// path of one listener: /admin/… stays bearer-only (the API's), the
// console cookie-only (its own).
func withConsole(api, con http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle(console.Prefix, con)
	mux.Handle("/", api)
	return mux
}

// serveConsoleAlone serves the console on CONSOLE_ADDR (a private network,
// say) until ctx is done; the API's listener then has no console.
func serveConsoleAlone(ctx context.Context, addr string, con http.Handler, logger *slog.Logger) (func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("CONSOLE_ADDR %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle(console.Prefix, con)
	mux.Handle("/{$}", http.RedirectHandler(console.Prefix, http.StatusSeeOther))
	srv := httpapi.NewServer(addr, mux)
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("console server", "err", err)
		}
	}()
	logger.Info("console serving", "addr", ln.Addr().String())
	return func() {
		shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdownCtx)
	}, nil
}

// runOperators manages console operators: `operators create --name NAME`
// prints a new token once and its CONSOLE_OPERATORS entry (the token's
// SHA-256, which is all the service keeps).
func runOperators(args []string, stdout io.Writer) error {
	if len(args) == 0 || args[0] != "create" {
		return errors.New("usage: orchestrator operators create --name NAME")
	}
	fs := flag.NewFlagSet("operators create", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	name := fs.String("name", "", "the operator's name, shown in the console and written into the audit")
	if err := fs.Parse(args[1:]); err != nil {
		return fmt.Errorf("operators create: %w", err)
	}
	*name = strings.TrimSpace(*name)
	token := randomToken()
	entry := operatorEntry(*name, token)
	if _, err := config.Load(func(k string) (string, bool) {
		if k == "CONSOLE_OPERATORS" {
			return entry, true
		}
		return "", false
	}); err != nil {
		return fmt.Errorf("operators create: --name: %w", err)
	}
	fmt.Fprintf(stdout, "operator %q: sign in to the console with this token, shown only this once:\n%s\n\n"+
		"Add this entry to CONSOLE_OPERATORS (comma-separated) and restart:\n%s\n", *name, token, entry)
	return nil
}

// operatorEntry is name's CONSOLE_OPERATORS entry for token.
func operatorEntry(name, token string) string {
	sum := sha256.Sum256([]byte(token))
	return name + ":" + hex.EncodeToString(sum[:])
}
