package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/pressly/goose/v3"

	"github.com/ppob-orchestrator/orchestrator/internal/config"
	"github.com/ppob-orchestrator/orchestrator/migrations"
)

func runMigrate(ctx context.Context, cfg *config.Config, args []string, stdout io.Writer) error {
	if len(args) != 1 {
		return errors.New("usage: orchestrator migrate up|down|status")
	}
	if err := cfg.Require("DATABASE_URL"); err != nil {
		return err
	}
	db, err := sql.Open("pgx", cfg.DatabaseURL)
	if err != nil {
		return fmt.Errorf("DATABASE_URL: %w", err)
	}
	defer db.Close()
	p, err := migrations.NewProvider(db)
	if err != nil {
		return err
	}
	switch args[0] {
	case "up":
		results, err := p.Up(ctx)
		for _, r := range results {
			printResult(stdout, r)
		}
		if err != nil {
			return fmt.Errorf("migrate up: %w", err)
		}
		if len(results) == 0 {
			fmt.Fprintln(stdout, "schema is current")
		}
		return nil
	case "down":
		r, err := p.Down(ctx)
		if err != nil {
			if errors.Is(err, goose.ErrNoNextVersion) {
				fmt.Fprintln(stdout, "nothing to undo")
				return nil
			}
			return fmt.Errorf("migrate down: %w", err)
		}
		printResult(stdout, r)
		return nil
	case "status":
		statuses, err := p.Status(ctx)
		if err != nil {
			return fmt.Errorf("migrate status: %w", err)
		}
		for _, s := range statuses {
			applied := "pending"
			if s.State == goose.StateApplied {
				applied = "applied " + s.AppliedAt.UTC().Format("2006-01-02 15:04:05Z")
			}
			fmt.Fprintf(stdout, "%05d  %-40s %s\n", s.Source.Version, sourceName(s.Source), applied)
		}
		return nil
	default:
		return fmt.Errorf("migrate: unknown direction %q (want up, down or status)", args[0])
	}
}

func printResult(w io.Writer, r *goose.MigrationResult) {
	fmt.Fprintf(w, "%-4s %05d  %s (%s)\n", r.Direction, r.Source.Version, sourceName(r.Source), r.Duration.Round(time.Millisecond))
}

func sourceName(s *goose.Source) string {
	if s.Type == goose.TypeGo {
		return "river (Go migration)"
	}
	return s.Path
}

// schemaCheck returns a check that the database behind db is reachable and
// has every migration of this binary applied.
func schemaCheck(db *sql.DB) func(context.Context) error {
	return func(ctx context.Context) error {
		p, err := migrations.NewProvider(db)
		if err != nil {
			return err
		}
		pending, err := p.HasPending(ctx)
		if err != nil {
			return fmt.Errorf("database unreachable")
		}
		if pending {
			return errors.New("schema not current: run `orchestrator migrate up`")
		}
		return nil
	}
}
