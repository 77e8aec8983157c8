package store

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
)

// RegisterTypes teaches a connection's type map the Go types our queries
// pass that pgx does not know: google/uuid's UUID, which every query
// naming a purchase, client or endpoint passes.
//
// Without it pgx encodes a uuid.UUID through its driver.Valuer: a string,
// which the binary uuid codec refuses; pgx builds that error (fmt.Errorf),
// throws it away, parses the string back into 16 bytes and encodes those.
// The bench's CPU profile put that detour at about 5 % of the service's
// CPU (docs/performance.md). The bytes sent are the same either way.
func RegisterTypes(m *pgtype.Map) {
	m.TryWrapEncodePlanFuncs = append([]pgtype.TryWrapEncodePlanFunc{tryWrapUUIDEncodePlan}, m.TryWrapEncodePlanFuncs...)
}

// ConfigurePool makes every connection of a pool configuration register
// our types (RegisterTypes) as it connects, after any AfterConnect it had.
func ConfigurePool(cfg *pgxpool.Config) {
	next := cfg.AfterConnect
	cfg.AfterConnect = func(ctx context.Context, conn *pgx.Conn) error {
		RegisterTypes(conn.TypeMap())
		if next != nil {
			return next(ctx, conn)
		}
		return nil
	}
}

// tryWrapUUIDEncodePlan wraps a uuid.UUID, or a pointer to one (which pgx
// does not dereference for a driver.Valuer), as pgtype.UUID, which the
// uuid codec encodes as it is. A nil pointer is NULL.
func tryWrapUUIDEncodePlan(value any) (pgtype.WrappedEncodePlanNextSetter, any, bool) {
	switch value.(type) {
	case uuid.UUID, *uuid.UUID:
		return &wrapUUIDEncodePlan{}, pgtype.UUID{}, true
	}
	return nil, nil, false
}

type wrapUUIDEncodePlan struct{ next pgtype.EncodePlan }

func (p *wrapUUIDEncodePlan) SetNext(next pgtype.EncodePlan) { p.next = next }

func (p *wrapUUIDEncodePlan) Encode(value any, buf []byte) ([]byte, error) {
	switch u := value.(type) {
	case uuid.UUID:
		return p.next.Encode(pgtype.UUID{Bytes: u, Valid: true}, buf)
	case *uuid.UUID:
		if u == nil {
			return nil, nil
		}
		return p.next.Encode(pgtype.UUID{Bytes: *u, Valid: true}, buf)
	}
	return nil, fmt.Errorf("store: %T is not a uuid.UUID", value)
}
