package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ppob-orchestrator/orchestrator/internal/dbtest"
	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

// Without RegisterTypes pgx encodes a uuid.UUID through its driver.Valuer
// (a string, refused by the binary codec, parsed back); with it, directly.
func TestRegisterTypesEncodesUUIDDirectly(t *testing.T) {
	t.Parallel()
	plain := pgtype.NewMap()
	if got := fmt.Sprintf("%T", plain.PlanEncode(pgtype.UUIDOID, pgtype.BinaryFormatCode, uuid.New())); got != "*pgtype.encodePlanDriverValuer" {
		t.Fatalf("pgx's own plan for uuid.UUID is %s: the detour RegisterTypes avoids may be gone", got)
	}
	m := pgtype.NewMap()
	store.RegisterTypes(m)
	for _, v := range []any{uuid.New(), ptr(uuid.New()), []uuid.UUID{uuid.New()}} {
		if got := fmt.Sprintf("%T", m.PlanEncode(pgtype.UUIDOID, pgtype.BinaryFormatCode, v)); got == "*pgtype.encodePlanDriverValuer" {
			t.Errorf("%T still encodes through its driver.Valuer", v)
		}
	}
}

// A pool configured by ConfigurePool sends and reads back the same UUIDs,
// alone, through a pointer, NULL and in an array, and keeps the
// AfterConnect it had.
func TestConfigurePoolRoundTrip(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg, err := pgxpool.ParseConfig(dbtest.NewPool(t).Config().ConnString())
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.RuntimeParams["application_name"] = "types_test"
	ran := false
	cfg.AfterConnect = func(context.Context, *pgx.Conn) error { ran = true; return nil }
	store.ConfigurePool(cfg)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	id, other := uuid.New(), uuid.New()
	var text string
	var back uuid.UUID
	var null *uuid.UUID
	var arr []uuid.UUID
	if err := pool.QueryRow(ctx, "SELECT $1::uuid::text, $1::uuid, $2::uuid, $3::uuid[]", id, (*uuid.UUID)(nil), []uuid.UUID{id, other}).
		Scan(&text, &back, &null, &arr); err != nil {
		t.Fatal(err)
	}
	if text != id.String() || back != id || null != nil || len(arr) != 2 || arr[0] != id || arr[1] != other {
		t.Fatalf("sent %s and [%s %s]; read %s, %s, %v, %v", id, id, other, text, back, null, arr)
	}
	if err := pool.QueryRow(ctx, "SELECT $1::uuid", &other).Scan(&back); err != nil || back != other {
		t.Fatalf("through a pointer: %s, %v", back, err)
	}
	if !ran {
		t.Error("the pool's own AfterConnect did not run")
	}
}
