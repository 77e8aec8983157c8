package flow

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

// PartitionMonthsAhead is how many months past the current one (Asia/Jakarta)
// the month partitions of the audit tables reach: EnsurePartitions makes
// them, at start and daily, so that a month's partition exists long before
// its first row (docs/runbook.md#archiving-old-months).
const PartitionMonthsAhead = 3

// partitionArgs makes the audit tables' month partitions ahead of time.
type partitionArgs struct{}

func (partitionArgs) Kind() string { return "audit_partitions" }

type partitionWorker struct {
	river.WorkerDefaults[partitionArgs]
	s *Service
}

// Work makes the months ahead that are missing. A failure (a lock not
// granted in time) is retried by River; the months ahead leave weeks for it.
func (w *partitionWorker) Work(ctx context.Context, _ *river.Job[partitionArgs]) error {
	_, err := w.s.EnsurePartitions(ctx)
	return err
}

// auditTables are the tables partitioned by month, in the order
// EnsurePartitions makes their months (audit_partitions_ensure's).
var auditTables = []string{"provider_calls", "callbacks", "purchase_events"}

// EnsurePartitions makes the missing month partitions of purchase_events,
// provider_calls and callbacks from the current month through
// PartitionMonthsAhead months ahead, on the service's clock, and returns
// their names (none when they all exist). It is safe to call from several
// processes at once.
//
// Each table's months are made in a transaction of their own
// (audit_partitions_ensure_table, migrations/00014_partition_maker.sql),
// so the maker never holds one audit table's lock while it waits for
// another's: a step or a reconciliation read holding one table and waiting
// for the next cannot deadlock with it. Within it the maker takes
// purchases first, in EXCLUSIVE mode, since a month's foreign key puts
// triggers on purchases (migrations/00015_partition_locks.sql): the
// service's writers hold purchases before they write an audit table, so
// they wait for the maker, not the other way round. For a transaction that
// reads an audit table before it locks a purchase, the maker's lock
// timeout is a quarter of deadlock_timeout (LockTimeoutBelowDeadlock):
// the maker gives up before PostgreSQL would cancel the other. A table
// whose locks are not granted in time fails alone; the others' months are
// still made, and the names made are returned with the joined errors.
// River runs the job again.
func (s *Service) EnsurePartitions(ctx context.Context) ([]string, error) {
	now := s.now()
	until := partitionsUntil(now)
	var made []string
	var errs []error
	for _, tab := range auditTables {
		names, err := s.ensureTablePartitions(ctx, tab, now, until)
		if err != nil {
			errs = append(errs, fmt.Errorf("audit partitions of %s: %w", tab, err))
			continue
		}
		made = append(made, names...) // committed
	}
	if len(made) > 0 {
		s.log.Info("audit partitions made", "partitions", made, "through", until.Format(time.DateOnly))
	}
	return made, errors.Join(errs...)
}

// ensureTablePartitions makes table tab's missing months from the month of
// since to the month of until in a transaction of its own, waiting for each
// lock at most LockTimeoutBelowDeadlock's timeout, and returns their names
// once committed.
func (s *Service) ensureTablePartitions(ctx context.Context, tab string, since, until time.Time) ([]string, error) {
	var names []string
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		q := store.New(tx)
		if _, err := q.LockTimeoutBelowDeadlock(ctx); err != nil {
			return err
		}
		var err error
		names, err = q.AuditPartitionsEnsureTable(ctx, store.AuditPartitionsEnsureTableParams{Tab: tab, Since: since, Until: until})
		return err
	})
	return names, err
}

// partitionsUntil is the first moment of the Asia/Jakarta month
// PartitionMonthsAhead months after now's: the last month EnsurePartitions
// makes. Counted from the first of the month, because a day-based
// AddDate(0, 3, 0) from 30 November is 2 March, a month further than the
// migration's now() + interval '3 months' (28 February); each service
// start on such a day then made a month with DDL that took the audit
// tables' locks while readers held them.
func partitionsUntil(now time.Time) time.Time {
	n := now.In(wib)
	return time.Date(n.Year(), n.Month()+PartitionMonthsAhead, 1, 0, 0, 0, 0, wib)
}
