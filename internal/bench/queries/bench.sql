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

-- name: DatabaseCommits :one
-- Transactions committed in this database since the statistics were reset.
SELECT xact_commit FROM pg_catalog.pg_stat_database WHERE datname = current_database();

-- name: RelationBytes :one
-- On-disk size of every table of the current schema (ours and River's, with
-- their indexes and TOAST), except the named ones.
SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint AS bytes
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r' AND n.nspname = current_schema()
  AND NOT (c.relname = ANY(@excluded::text[]));

-- name: RiverQueueDepth :one
-- Jobs waiting to run: available, scheduled (snoozed or delayed) and
-- retryable.
SELECT count(*) FROM river_job
WHERE state::text IN ('available', 'scheduled', 'retryable');

-- name: PurchaseProgress :one
-- A client's purchases: how many ended and how many are still open.
SELECT count(*) FILTER (WHERE status IN ('succeeded', 'failed', 'canceled'))::bigint AS done,
       count(*) FILTER (WHERE status NOT IN ('succeeded', 'failed', 'canceled'))::bigint AS open
FROM purchases WHERE client_id = @client_id;

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
