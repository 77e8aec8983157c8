package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ppob-orchestrator/orchestrator/internal/config"
	"github.com/ppob-orchestrator/orchestrator/internal/httpapi"
	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

// runClients manages API clients: `clients create --name NAME` prints a new
// API key once (only its hash is stored).
func runClients(ctx context.Context, cfg *config.Config, args []string, stdout io.Writer) error {
	if len(args) == 0 || args[0] != "create" {
		return fmt.Errorf("usage: orchestrator clients create --name NAME")
	}
	fs := flag.NewFlagSet("clients create", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	name := fs.String("name", "", "the client's name")
	if err := fs.Parse(args[1:]); err != nil {
		return fmt.Errorf("clients create: %w", err)
	}
	*name = strings.TrimSpace(*name)
	if *name == "" || len(*name) > 100 {
		return fmt.Errorf("clients create: --name is required (1-100 characters)")
	}
	if err := cfg.Require("DATABASE_URL"); err != nil {
		return err
	}
	pool, err := pgxpool.New(ctx, cfg.DatabaseURL)
	if err != nil {
		return fmt.Errorf("DATABASE_URL: %w", err)
	}
	defer pool.Close()
	key, err := createClient(ctx, store.New(pool), *name)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "client %q created. Its API key, shown only this once:\n%s\n", *name, key)
	return nil
}

// createClient stores a new client with a fresh API key and returns the key.
func createClient(ctx context.Context, q *store.Queries, name string) (string, error) {
	key, hash, prefix, err := httpapi.NewAPIKey()
	if err != nil {
		return "", err
	}
	id, err := uuid.NewV7()
	if err != nil {
		return "", err
	}
	if _, err := q.ClientInsert(ctx, store.ClientInsertParams{
		ID: id, Name: name, KeyHash: hash, KeyPrefix: prefix, CreatedAt: time.Now().UTC(),
	}); err != nil {
		return "", fmt.Errorf("create client %q: %w", name, err)
	}
	return key, nil
}
