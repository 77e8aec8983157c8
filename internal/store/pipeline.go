package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Batcher is what a pipeline needs of a connection: pgx.Tx, *pgx.Conn and
// *pgxpool.Pool all have it.
type Batcher interface {
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// Pipeline runs several generated queries in ONE round trip, in order, each
// statement with its own snapshot as if sent one by one (so a lock taken by
// one is held when the next reads). run is called twice. First on a
// Queries that only queues each statement: an exec answers nil, a query
// errQueued, and what run returns is ignored. Then on a Queries that
// answers each query with its statement's result. run must make the same
// calls both times, in the same order: each answer is checked against the
// statement queued in its place, and every statement must be read. The
// first error ends the pipeline: PostgreSQL skips the statements after it.
func Pipeline(ctx context.Context, db Batcher, run func(q *Queries) error) error {
	qd := &queueDB{batch: &pgx.Batch{}}
	_ = run(New(qd))
	res := db.SendBatch(ctx, qd.batch)
	rd := &readDB{res: res, sqls: qd.sqls}
	err := run(New(rd))
	if err == nil && rd.read != len(rd.sqls) {
		err = fmt.Errorf("store: pipeline read %d answers of %d statements", rd.read, len(rd.sqls))
	}
	if cerr := res.Close(); err == nil {
		err = cerr
	}
	return err
}

// errQueued is what a queued query "answers": nothing yet.
var errQueued = errors.New("store: statement queued, not run")

// queueDB queues each statement instead of running it.
type queueDB struct {
	batch *pgx.Batch
	sqls  []string
}

func (d *queueDB) queue(sql string, args []any) {
	d.batch.Queue(sql, args...)
	d.sqls = append(d.sqls, sql)
}

func (d *queueDB) Exec(_ context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	d.queue(sql, args)
	return pgconn.CommandTag{}, nil
}

func (d *queueDB) Query(_ context.Context, sql string, args ...any) (pgx.Rows, error) {
	d.queue(sql, args)
	return nil, errQueued
}

func (d *queueDB) QueryRow(_ context.Context, sql string, args ...any) pgx.Row {
	d.queue(sql, args)
	return queuedRow{}
}

type queuedRow struct{}

func (queuedRow) Scan(...any) error { return errQueued }

// readDB answers each query with the next result of the batch, after
// checking that it is the statement queued in that place.
type readDB struct {
	res  pgx.BatchResults
	sqls []string
	read int
}

func (d *readDB) next(sql string) error {
	if d.read == len(d.sqls) {
		return fmt.Errorf("store: pipeline read more answers than its %d statements", len(d.sqls))
	}
	if d.sqls[d.read] != sql {
		return fmt.Errorf("store: pipeline read statement %d out of order", d.read+1)
	}
	d.read++
	return nil
}

func (d *readDB) Exec(_ context.Context, sql string, _ ...any) (pgconn.CommandTag, error) {
	if err := d.next(sql); err != nil {
		return pgconn.CommandTag{}, err
	}
	return d.res.Exec()
}

func (d *readDB) Query(_ context.Context, sql string, _ ...any) (pgx.Rows, error) {
	if err := d.next(sql); err != nil {
		return nil, err
	}
	return d.res.Query()
}

func (d *readDB) QueryRow(_ context.Context, sql string, _ ...any) pgx.Row {
	if err := d.next(sql); err != nil {
		return errRow{err}
	}
	return d.res.QueryRow()
}

type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }
