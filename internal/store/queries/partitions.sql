-- name: AuditPartitionsEnsure :many
-- Creates the missing Asia/Jakarta month partitions of purchase_events,
-- provider_calls and callbacks from the month holding since to the month
-- holding until (and each table's DEFAULT partition if missing), moving
-- into a new month the rows its DEFAULT caught; returns the names made
-- (audit_partitions_ensure, migrations/00012_audit_partitions.sql), in one
-- transaction: the three tables' locks are held together to its end, which
-- a live service's readers may deadlock with; the service makes them with
-- AuditPartitionsEnsureTable, one table a transaction.
SELECT name::text AS name FROM audit_partitions_ensure(@since::timestamptz, @until::timestamptz) AS name;

-- name: AuditPartitionsEnsureTable :many
-- AuditPartitionsEnsure for one table (provider_calls, callbacks or
-- purchase_events; another name is refused): when a month or the DEFAULT
-- partition is missing it locks the table, then its DEFAULT partition, and
-- makes them; else it locks nothing and returns no name
-- (audit_partitions_ensure_table, migrations/00014_partition_maker.sql).
SELECT name::text AS name FROM audit_partitions_ensure_table(@tab::text, @since::timestamptz, @until::timestamptz) AS name;

-- name: AuditPartitionStateList :many
-- Per audit table: the rows its DEFAULT partition holds (counted up to
-- 100,000; it should hold none) and the end of its last month partition
-- (the epoch when it has none).
SELECT table_name::text AS table_name, default_rows::bigint AS default_rows,
       coalesce(partitions_until, 'epoch')::timestamptz AS partitions_until
FROM audit_partition_state();

-- name: LockTimeoutBelowDeadlock :one
-- For the rest of the transaction, a statement waits for a lock at most a
-- quarter of the server's deadlock_timeout (at least 1 ms) before it fails;
-- returns the timeout set (e.g. '250ms'). For a transaction that must give
-- up rather than make PostgreSQL cancel another in a deadlock: one that
-- waits at most twice after it holds what the other waits for times out
-- before the other's deadlock check, which comes deadlock_timeout after the
-- other began to wait.
SELECT set_config('lock_timeout',
                  greatest(1, (extract(epoch FROM current_setting('deadlock_timeout')::interval) * 250)::int)::text || 'ms',
                  true)::text AS lock_timeout;
