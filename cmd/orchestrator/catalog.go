package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ppob-orchestrator/orchestrator/internal/config"
	"github.com/ppob-orchestrator/orchestrator/internal/flow"
	"github.com/ppob-orchestrator/orchestrator/internal/sandbox"
	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

// runCatalog manages the catalog: `catalog demo` inserts (or updates) every
// product the simulators sell, for a `serve` run against `sim`.
func runCatalog(ctx context.Context, cfg *config.Config, args []string, stdout io.Writer) error {
	if len(args) != 1 || args[0] != "demo" {
		return fmt.Errorf("usage: orchestrator catalog demo")
	}
	if err := cfg.Require("DATABASE_URL"); err != nil {
		return err
	}
	pool, err := pgxpool.New(ctx, cfg.DatabaseURL)
	if err != nil {
		return fmt.Errorf("DATABASE_URL: %w", err)
	}
	defer pool.Close()
	entries := sandbox.Catalog()
	if err := flow.SeedCatalog(ctx, store.New(pool), entries, time.Now()); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "catalog: %d demo products\n", len(entries))
	return nil
}
