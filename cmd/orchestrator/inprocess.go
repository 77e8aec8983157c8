package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ppob-orchestrator/orchestrator/internal/config"
	"github.com/ppob-orchestrator/orchestrator/internal/flow"
	"github.com/ppob-orchestrator/orchestrator/internal/sandbox"
	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

// inProcess is the service running in this process, as `dev` runs it.
type inProcess struct {
	apiURL string
	q      *store.Queries // through the workers' pool
	sims   *runningSims
}

// runInProcess runs the service as `dev` does — both simulators in-process
// with generated credentials (written under dir), the demo catalog, the API
// on a free port — against cfg.DatabaseURL, migrated, and calls run with it
// once it serves; then it stops everything. sim's CallbackBaseURL is the
// API's; o's listener, beforeServe and onReady are its own.
func runInProcess(ctx context.Context, cfg *config.Config, dir string, logger *slog.Logger, sim sandbox.Options, o serveOptions, run func(*inProcess) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cfg.HTTPAddr, cfg.SimKlikooAddr, cfg.SimSnapcartAddr = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	cfg.AdminToken = randomToken()
	cfg.KlikooBaseURL, cfg.SnapcartBaseURL, cfg.CallbackBaseURL = "", "", ""
	cfg.KlikooPrivateKeyFile, cfg.KlikooClientID, cfg.KlikooClientSecret = "", "", ""
	cfg.SnapcartAPIKey, cfg.SnapcartCallbackSecret = "", ""
	apiLn, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return err
	}
	s := &inProcess{apiURL: "http://" + apiLn.Addr().String()}
	cfg.CallbackBaseURL = s.apiURL
	creds, err := devCredentials(cfg, dir)
	if err != nil {
		apiLn.Close()
		return err
	}
	sim.CallbackBaseURL = s.apiURL
	if s.sims, err = startSims(ctx, cfg, creds, sim, logger); err != nil {
		apiLn.Close()
		return err
	}
	defer s.sims.stop()
	cfg.KlikooBaseURL = s.sims.klikooURL + "/klikoo-b2b"
	cfg.SnapcartBaseURL = s.sims.snapcartURL

	ready := make(chan struct{})
	served := make(chan error, 1)
	o.listener = apiLn
	o.snapcartCatalogTypes = []string{"postpaid"}
	o.beforeServe = func(ctx context.Context, pool *pgxpool.Pool, _ *flow.Service) error {
		s.q = store.New(pool)
		return flow.SeedCatalog(ctx, s.q, sandbox.Catalog(), time.Now())
	}
	o.onReady = func(string) { close(ready) }
	go func() { served <- serve(ctx, cfg, logger, o) }()
	select {
	case <-ready:
	case err := <-served:
		return fmt.Errorf("service: %w", err)
	case <-ctx.Done():
		return ctx.Err()
	}
	runErr := run(s)
	cancel()
	if err := <-served; err != nil && runErr == nil {
		runErr = fmt.Errorf("service: %w", err)
	}
	return runErr
}
