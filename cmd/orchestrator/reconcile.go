package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ppob-orchestrator/orchestrator/internal/config"
	"github.com/ppob-orchestrator/orchestrator/internal/recon"
)

const reconcileUsage = "usage: orchestrator reconcile [--since DURATION|DATE] [--format table|json]"

// runReconcile prints the reconciliation report. It returns nil (exit 0)
// when nothing needs attention, exitError{1} when something does, so cron or
// CI can alert on it, and any other error (exit 2) when it cannot tell.
func runReconcile(ctx context.Context, cfg *config.Config, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("reconcile", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	sinceFlag := fs.String("since", "24h", "events since this long ago (24h, 7d) or this Asia/Jakarta date (2006-01-02)")
	format := fs.String("format", "table", "table or json")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("reconcile: %w\n%s", err, reconcileUsage)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("reconcile: unexpected argument %q\n%s", fs.Arg(0), reconcileUsage)
	}
	now := time.Now()
	since, err := parseSince(*sinceFlag, now)
	if err != nil {
		return fmt.Errorf("reconcile: --since %q: %w", *sinceFlag, err)
	}
	if *format != "table" && *format != "json" {
		return fmt.Errorf("reconcile: --format %q: want table or json", *format)
	}
	if err := cfg.Require("DATABASE_URL"); err != nil {
		return err
	}
	poolCfg, err := poolConfig(cfg.DatabaseURL, 2, poolReconcile)
	if err != nil {
		return err
	}
	pool, err := pgxpool.NewWithConfig(ctx, poolCfg)
	if err != nil {
		return fmt.Errorf("DATABASE_URL: %w", err)
	}
	defer pool.Close()

	report, err := recon.Build(ctx, pool, recon.Options{Since: since, Now: func() time.Time { return now }})
	if err != nil {
		return err
	}
	if *format == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(report)
	} else {
		err = report.WriteTable(stdout)
	}
	if err != nil {
		return fmt.Errorf("reconcile: write report: %w", err)
	}
	if report.NeedsAttention {
		fmt.Fprintln(stderr, "reconcile: something needs attention")
		return exitError{1}
	}
	return nil
}

// parseSince reads --since: a Go duration (90m, 24h), a number of days
// (7d), or a date (2006-01-02, midnight Asia/Jakarta) or RFC 3339 time.
func parseSince(s string, now time.Time) (time.Time, error) {
	wib := time.FixedZone("WIB", 7*60*60)
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	if n, ok := strings.CutSuffix(s, "d"); ok {
		if days, err := strconv.Atoi(n); err == nil && days >= 0 {
			return now.AddDate(0, 0, -days), nil
		}
	}
	if t, err := time.ParseInLocation("2006-01-02", s, wib); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Time{}, errors.New("want a duration (24h, 90m, 7d) or a date (2006-01-02, Asia/Jakarta) or an RFC 3339 time")
}
