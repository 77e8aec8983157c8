package main

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/ppob-orchestrator/orchestrator/internal/config"
	"github.com/ppob-orchestrator/orchestrator/internal/dbtest"
)

// The service's sessions run with PostgreSQL's JIT off (poolConfig), are
// named by pool unless DATABASE_URL names them, their connections know our
// Go types (store.RegisterTypes), and a bad
// DATABASE_URL is refused without being echoed.
func TestPoolSessionsRunWithoutJIT(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := dbtest.NewDatabase(t)
	pool, err := newPoolSized(ctx, &config.Config{DatabaseURL: url}, 2, poolAPI)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var jit string
	if err := pool.QueryRow(ctx, "SHOW jit").Scan(&jit); err != nil || jit != "off" {
		t.Fatalf("SHOW jit = %q (%v), want off", jit, err)
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	plan := fmt.Sprintf("%T", conn.Conn().TypeMap().PlanEncode(pgtype.UUIDOID, pgtype.BinaryFormatCode, uuid.New()))
	conn.Release()
	if plan == "*pgtype.encodePlanDriverValuer" {
		t.Fatalf("a uuid.UUID is encoded through its driver.Valuer: the pool's connections did not register our types")
	}
	if pool.Config().MaxConns != 2 {
		t.Fatalf("MaxConns %d, want 2", pool.Config().MaxConns)
	}
	var name string
	if err := pool.QueryRow(ctx, "SHOW application_name").Scan(&name); err != nil || name != poolAPI {
		t.Fatalf("application_name = %q (%v), want %q", name, err, poolAPI)
	}
	// A name DATABASE_URL gives is the operator's and stays.
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	named, err := newPoolSized(ctx, &config.Config{DatabaseURL: url + sep + "application_name=ops"}, 1, poolAPI)
	if err != nil {
		t.Fatal(err)
	}
	defer named.Close()
	if err := named.QueryRow(ctx, "SHOW application_name").Scan(&name); err != nil || name != "ops" {
		t.Fatalf("application_name from DATABASE_URL = %q (%v), want ops", name, err)
	}
	_, err = newPoolSized(ctx, &config.Config{DatabaseURL: "postgres://u:s3cret@host:notaport/db"}, 2, poolAPI)
	if err == nil || !strings.Contains(err.Error(), "DATABASE_URL") || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("a bad URL: %v, want an error naming DATABASE_URL without the password", err)
	}
}
