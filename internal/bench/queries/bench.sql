-- name: ChainReset :exec
-- Empties the floor's table before a run.
TRUNCATE bench_chain;

-- name: ChainInsert :exec
INSERT INTO bench_chain (id, step) VALUES (@id, 0);

-- name: ChainAdvance :execrows
-- Moves a chain from step to step + 1: a compare-and-set, like a purchase's
-- status update.
UPDATE bench_chain SET step = step + 1, updated_at = now()
WHERE id = @id AND step = @step;

-- name: BackendPID :one
-- The process of this connection's backend, which leads to the server's
-- processes when it runs on this machine (ServerCPU).
SELECT pg_backend_pid()::int AS pid;

-- name: BackendGroups :many
-- Each process of the server by its group for CPUByGroup: a session's
-- application_name (the service names each pool's), else its kind
-- (checkpointer, walwriter, autovacuum worker, ...).
SELECT pid::int AS pid, coalesce(nullif(application_name, ''), backend_type, 'unknown')::text AS grp
FROM pg_catalog.pg_stat_activity;

-- name: DatabaseCommits :one
-- Transactions committed in this database since the statistics were reset.
SELECT xact_commit FROM pg_catalog.pg_stat_database WHERE datname = current_database();

-- name: RelationBytesByTable :many
-- On-disk size of every table of the current schema (ours and River's), each
-- with its indexes and TOAST, except the named ones. A partition counts
-- under its root table's name, wherever it lives.
SELECT coalesce(root.relname, c.relname)::text AS table_name,
       sum(pg_total_relation_size(c.oid))::bigint AS bytes
FROM pg_catalog.pg_class c
LEFT JOIN pg_catalog.pg_class root ON c.relispartition AND root.oid = pg_partition_root(c.oid)
JOIN pg_catalog.pg_namespace n ON n.oid = coalesce(root.relnamespace, c.relnamespace)
WHERE c.relkind = 'r' AND n.nspname = current_schema()
  AND NOT (coalesce(root.relname, c.relname) = ANY(@excluded::text[]))
GROUP BY 1
ORDER BY 1;

-- name: RiverQueueDepth :one
-- Jobs waiting to run: available, scheduled (snoozed or delayed) and
-- retryable. The states compared as River's enum, so that its fetching
-- index (state first) serves the count: the bench samples it while the
-- service runs, and a scan of the job table would be the bench's load,
-- not the service's.
SELECT count(*) FROM river_job
WHERE state IN ('available', 'scheduled', 'retryable');

-- name: PurchaseProgress :one
-- A client's purchases: how many ended and how many are still open.
SELECT count(*) FILTER (WHERE status IN ('succeeded', 'failed', 'canceled'))::bigint AS done,
       count(*) FILTER (WHERE status NOT IN ('succeeded', 'failed', 'canceled'))::bigint AS open
FROM purchases WHERE client_id = @client_id;

-- name: PurchaseOpenCount :one
-- How many of a client's purchases are still open, read through
-- purchases_open (the open purchases only, not every purchase of the
-- client): what the bench samples while the service runs.
SELECT count(*) FROM purchases
WHERE status NOT IN ('succeeded', 'failed', 'canceled') AND client_id = @client_id;

-- name: PurchaseBatch :one
-- A client's batch once drained: when its first purchase was created, when
-- its last one ended, and how they ended.
SELECT min(created_at)::timestamptz AS first_created,
       max(completed_at)::timestamptz AS last_completed,
       count(*) FILTER (WHERE status = 'succeeded')::bigint AS succeeded,
       count(*) FILTER (WHERE status = 'failed')::bigint AS failed,
       count(*) FILTER (WHERE status NOT IN ('succeeded', 'failed'))::bigint AS other
FROM purchases WHERE client_id = @client_id;

-- name: ChainCountAtStep :one
SELECT count(*) FROM bench_chain WHERE step = @step;

-- name: ServerVersion :one
SELECT current_setting('server_version')::text AS version;

-- name: ServerDurability :one
-- Whether a commit waits for its WAL to reach the disk.
SELECT current_setting('fsync')::text AS fsync,
       current_setting('synchronous_commit')::text AS synchronous_commit;

-- name: PurchaseEnds :many
-- A client's purchases as they ended: the latency part pairs each with the
-- time its create was answered.
SELECT reference_id, status::text AS status, completed_at
FROM purchases WHERE client_id = @client_id;
