-- name: TablesWithoutStatistics :many
-- Our tables of at least min_bytes that were never analyzed (reltuples <
-- 0): a database restored from a dump, or moved by pg_upgrade, whose
-- planner cannot yet tell one index from another
-- (docs/deployment.md#backups). A partitioned table's bytes are its
-- partitions'.
SELECT c.relname::text AS name
FROM pg_catalog.pg_class c
WHERE c.relnamespace = current_schema()::regnamespace
  AND c.reltuples < 0
  AND ((c.relkind = 'r' AND pg_catalog.pg_relation_size(c.oid) >= @min_bytes::bigint)
    OR (c.relkind = 'p' AND (
          SELECT coalesce(sum(pg_catalog.pg_relation_size(i.inhrelid)), 0)
          FROM pg_catalog.pg_inherits i WHERE i.inhparent = c.oid) >= @min_bytes::bigint))
ORDER BY c.relkind DESC, c.relname;
