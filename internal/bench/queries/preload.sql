-- name: PreloadOffers :many
-- The catalog --preload buys from: every enabled, priced offer of Klikoo
-- and Snapcart (the providers whose answers it knows how to write), each
-- product's offers in route order.
SELECT o.product_code, p.name, p.family, o.provider, o.provider_product_code,
       coalesce(o.item_code, '')::text AS item_code, o.inquiry, o.price::bigint AS price
FROM offers o
JOIN products p ON p.code = o.product_code
WHERE o.enabled AND o.active AND o.price IS NOT NULL AND o.provider IN ('klikoo', 'snapcart')
ORDER BY o.product_code, o.priority, o.price, o.provider;

-- name: PreloadMaxIDs :one
-- The highest id of each table whose id the preload assigns itself (COPY
-- writes them; PreloadSetSequences moves the identities past them).
SELECT (SELECT coalesce(max(id), 0) FROM provider_calls)::bigint AS provider_calls,
       (SELECT coalesce(max(id), 0) FROM callbacks)::bigint AS callbacks,
       (SELECT coalesce(max(id), 0) FROM purchase_events)::bigint AS purchase_events,
       (SELECT coalesce(max(id), 0) FROM alerts)::bigint AS alerts,
       (SELECT coalesce(max(id), 0) FROM provider_balances)::bigint AS provider_balances;

-- name: PreloadSetSequences :exec
-- Moves each identity the preload wrote ids of past the highest id, so the
-- service's next insert takes the next one.
SELECT setval(pg_get_serial_sequence('provider_calls', 'id'), greatest((SELECT max(id) FROM provider_calls), 1), (SELECT max(id) FROM provider_calls) IS NOT NULL),
       setval(pg_get_serial_sequence('callbacks', 'id'), greatest((SELECT max(id) FROM callbacks), 1), (SELECT max(id) FROM callbacks) IS NOT NULL),
       setval(pg_get_serial_sequence('purchase_events', 'id'), greatest((SELECT max(id) FROM purchase_events), 1), (SELECT max(id) FROM purchase_events) IS NOT NULL),
       setval(pg_get_serial_sequence('alerts', 'id'), greatest((SELECT max(id) FROM alerts), 1), (SELECT max(id) FROM alerts) IS NOT NULL),
       setval(pg_get_serial_sequence('provider_balances', 'id'), greatest((SELECT max(id) FROM provider_balances), 1), (SELECT max(id) FROM provider_balances) IS NOT NULL);

-- name: PreloadVacuum :exec
-- What autovacuum would do to the freshly written tables, done once now
-- rather than during the runs: statistics for the planner, the visibility
-- map (index-only scans) and hint bits.
-- The audit tables are partitioned: VACUUM of each goes through its
-- partitions, ANALYZE also gives the parent the statistics of the whole.
VACUUM (ANALYZE) purchases, purchase_events, provider_calls, callbacks, callback_digests, purchase_attempts, alerts, provider_balances;

-- name: PreloadStatusCounts :many
-- The preloaded purchases of the given clients, by status.
SELECT status::text AS status, count(*)::bigint AS count
FROM purchases WHERE client_id = ANY(@client_ids::uuid[])
GROUP BY status ORDER BY status;

-- name: PreloadTableBytes :many
-- On-disk size of the tables the preload fills, with indexes and TOAST; a
-- partitioned table's is the sum of its partitions' (pg_partition_tree
-- lists none for a table that is not partitioned).
SELECT t.relname::text AS name, sum(pg_total_relation_size(coalesce(p.relid, t.oid)))::bigint AS bytes
FROM pg_catalog.pg_class t
JOIN pg_catalog.pg_namespace n ON n.oid = t.relnamespace
LEFT JOIN LATERAL pg_partition_tree(t.oid) p ON true
WHERE n.nspname = current_schema() AND t.relkind IN ('r', 'p')
  AND t.relname IN ('purchases', 'purchase_events', 'provider_calls', 'callbacks', 'callback_digests', 'purchase_attempts', 'alerts', 'provider_balances')
GROUP BY t.relname
ORDER BY t.relname;

-- name: PreloadSuperuser :one
-- Whether the preload may skip the foreign keys' per-row triggers
-- (session_replication_role needs a superuser).
SELECT current_setting('is_superuser') = 'on' AS superuser;

-- name: PreloadSkipTriggers :exec
-- For the rest of the transaction, fires no trigger but ALWAYS ones: the
-- foreign keys' per-row checks are skipped (PreloadOrphans proves them
-- afterwards, in bulk); CHECK, NOT NULL and UNIQUE still hold every row.
SELECT set_config('session_replication_role', 'replica', true);

-- name: PreloadForeignKeys :many
-- The foreign keys of the tables the preload fills: PreloadOrphans proves
-- exactly these, so a new one must be added there. (A partitioned table's
-- foreign key is one constraint of the table, cloned on each partition:
-- the clones have a parent and are left out.)
SELECT conrelid::regclass::text AS table_name, conname::text AS name
FROM pg_catalog.pg_constraint
WHERE contype = 'f' AND conparentid = 0
  AND conrelid IN ('purchases'::regclass, 'provider_calls'::regclass, 'callbacks'::regclass, 'purchase_events'::regclass,
                   'callback_digests'::regclass, 'alerts'::regclass, 'purchase_attempts'::regclass, 'provider_balances'::regclass)
ORDER BY 1, 2;

-- name: PreloadOrphans :one
-- What the foreign keys would have refused, among the preloaded rows (the
-- purchases of the given clients, the audit rows with ids after the
-- given ones): rows whose reference names no row. All zero proves the
-- rows COPY wrote without the per-row checks satisfy every foreign key.
SELECT
    (SELECT count(*) FROM unnest(@client_ids::uuid[]) c(id)
     WHERE NOT EXISTS (SELECT 1 FROM clients x WHERE x.id = c.id))::bigint AS purchases_client_id_fkey,
    (SELECT count(*) FROM purchases p WHERE p.client_id = ANY(@client_ids::uuid[])
     AND NOT EXISTS (SELECT 1 FROM products x WHERE x.code = p.product_code))::bigint AS purchases_product_code_fkey,
    (SELECT count(*) FROM provider_calls c WHERE c.id > @calls_after::bigint AND c.purchase_id IS NOT NULL
     AND NOT EXISTS (SELECT 1 FROM purchases x WHERE x.id = c.purchase_id))::bigint AS provider_calls_purchase_id_fkey,
    (SELECT count(*) FROM callbacks c WHERE c.id > @callbacks_after::bigint AND c.purchase_id IS NOT NULL
     AND NOT EXISTS (SELECT 1 FROM purchases x WHERE x.id = c.purchase_id))::bigint AS callbacks_purchase_id_fkey,
    (SELECT count(*) FROM purchase_events e WHERE e.id > @events_after::bigint
     AND NOT EXISTS (SELECT 1 FROM purchases x WHERE x.id = e.purchase_id))::bigint AS purchase_events_purchase_id_fkey,
    (SELECT count(*) FROM alerts a WHERE a.id > @alerts_after::bigint AND a.purchase_id IS NOT NULL
     AND NOT EXISTS (SELECT 1 FROM purchases x WHERE x.id = a.purchase_id))::bigint AS alerts_purchase_id_fkey,
    (SELECT count(*) FROM purchase_attempts a
     WHERE NOT EXISTS (SELECT 1 FROM purchases x WHERE x.id = a.purchase_id))::bigint AS purchase_attempts_purchase_id_fkey;

-- name: PreloadUnenforcedRefs :one
-- What no constraint checks, among the audit rows with ids after the given
-- ones (migrations/00012_audit_partitions.sql): an event names a provider
-- call or a callback of its own purchase and its own timestamp (the same
-- month's partition), and every callback's body has its digest. All zero
-- proves the preloaded rows keep what the flow keeps.
SELECT
    (SELECT count(*) FROM purchase_events e WHERE e.id > @events_after::bigint AND e.provider_call_id IS NOT NULL
     AND NOT EXISTS (SELECT 1 FROM provider_calls x WHERE x.id = e.provider_call_id AND x.created_at = e.created_at
                     AND x.purchase_id = e.purchase_id))::bigint AS event_provider_call,
    (SELECT count(*) FROM purchase_events e WHERE e.id > @events_after::bigint AND e.callback_id IS NOT NULL
     AND NOT EXISTS (SELECT 1 FROM callbacks x WHERE x.id = e.callback_id AND x.received_at = e.created_at
                     AND x.purchase_id = e.purchase_id))::bigint AS event_callback,
    (SELECT count(*) FROM callbacks c WHERE c.id > @callbacks_after::bigint
     AND NOT EXISTS (SELECT 1 FROM callback_digests d WHERE d.provider = c.provider AND d.body_sha256 = c.body_sha256))::bigint AS callback_digest;

-- name: ProbeTarget :one
-- The purchase the probes search for and model theirs on: the client's
-- newest succeeded one with a customer number and a provider reference.
SELECT id FROM purchases
WHERE client_id = @client_id AND status = 'succeeded' AND customer_number IS NOT NULL AND provider_reference IS NOT NULL
ORDER BY created_at DESC, id DESC
LIMIT 1;

-- name: PreloadShapeProblems :one
-- What would be wrong with the preloaded purchases of the given clients if
-- they were not as the flow leaves them; every count is zero for a good
-- preload (its test reads this).
WITH p AS (
    SELECT * FROM purchases WHERE client_id = ANY(@client_ids::uuid[])
), e AS (
    SELECT e.* FROM purchase_events e JOIN p ON p.id = e.purchase_id
), s AS (
    SELECT e.purchase_id,
           e.from_status = coalesce(lag(e.to_status) OVER w, 'received') AS chained,
           EXISTS (SELECT 1 FROM purchase_transitions t WHERE t.from_status = e.from_status AND t.to_status = e.to_status) AS allowed,
           last_value(e.to_status) OVER (w ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS replayed,
           last_value(e.created_at) OVER (w ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS last_at
    FROM e WHERE e.kind = 'status'
    WINDOW w AS (PARTITION BY e.purchase_id ORDER BY e.seq)
), r AS (
    SELECT purchase_id, bool_and(chained AND allowed) AS ok, min(replayed::text) AS replayed, min(last_at) AS last_at
    FROM s GROUP BY purchase_id
)
SELECT
    -- the status events, replayed from received through the machine's
    -- transitions, end at the purchase's status
    (SELECT count(*) FROM p LEFT JOIN r ON r.purchase_id = p.id
     WHERE NOT coalesce(r.ok, true) OR coalesce(r.replayed, 'received') <> p.status::text)::bigint AS not_replayed,
    -- an ended purchase ended at its last status change
    (SELECT count(*) FROM p JOIN r ON r.purchase_id = p.id
     WHERE p.completed_at IS NOT NULL AND p.completed_at <> r.last_at)::bigint AS completed_elsewhen,
    -- seq is 1, 2, 3, … and the first event is the received note
    (SELECT count(*) FROM (SELECT purchase_id FROM e GROUP BY purchase_id
                           HAVING min(seq) <> 1 OR max(seq) <> count(*)) x)::bigint AS seq_gaps,
    (SELECT count(*) FROM p WHERE NOT EXISTS (
        SELECT 1 FROM e WHERE e.purchase_id = p.id AND e.seq = 1 AND e.kind = 'note' AND e.name = 'received'))::bigint AS not_received_first,
    -- events are in time order
    (SELECT count(*) FROM (SELECT created_at < lag(created_at) OVER (PARTITION BY purchase_id ORDER BY seq) AS back FROM e) x
     WHERE back)::bigint AS events_back_in_time,
    -- every provider call and callback of a purchase has exactly one event
    -- of that purchase, named for it, and every such event has its row
    (SELECT count(*) FROM (
        SELECT c.id FROM provider_calls c JOIN p ON p.id = c.purchase_id
        LEFT JOIN purchase_events x ON x.provider_call_id = c.id
        GROUP BY c.id
        HAVING count(x.id) <> 1 OR NOT bool_and(x.purchase_id = c.purchase_id AND x.kind = 'provider_call' AND x.name = c.operation || ': ' || c.outcome)
    ) y)::bigint AS calls_without_event,
    (SELECT count(*) FROM (
        SELECT c.id FROM callbacks c JOIN p ON p.id = c.purchase_id
        LEFT JOIN purchase_events x ON x.callback_id = c.id
        GROUP BY c.id
        HAVING count(x.id) <> 1 OR NOT bool_and(x.purchase_id = c.purchase_id AND x.kind = 'callback' AND x.name = 'callback: ' || c.outcome)
    ) y)::bigint AS callbacks_without_event,
    (SELECT count(*) FROM e WHERE (e.kind = 'provider_call') <> (e.provider_call_id IS NOT NULL)
                               OR (e.kind = 'callback') <> (e.callback_id IS NOT NULL))::bigint AS events_without_row,
    -- the counters count the current attempt's calls
    (SELECT count(*) FROM p WHERE p.lookups <> (
        SELECT count(*) FROM provider_calls c WHERE c.purchase_id = p.id AND c.operation = 'lookup' AND c.reference = p.provider_reference)
     OR p.payment_attempts <> (
        SELECT count(*) FROM provider_calls c WHERE c.purchase_id = p.id AND c.operation = 'payment' AND c.reference = p.provider_reference)
     OR p.inquiry_attempts <> (
        SELECT count(*) FROM provider_calls c WHERE c.purchase_id = p.id AND c.operation = 'inquiry'))::bigint AS counters_off,
    -- an attempt moved on from was refused: its purchase's route has a
    -- next offer, and its number is the one before the purchase's
    (SELECT count(*) FROM purchase_attempts a JOIN p ON p.id = a.purchase_id
     WHERE a.number <> p.attempt - 1 OR p.route[a.number + 1] <> p.provider OR p.route[a.number] <> a.provider)::bigint AS attempts_off;

-- name: ProbePurchaseCount :one
-- The probes' own purchases left in the database (none: they roll back).
SELECT count(*) FROM purchases WHERE reference_id LIKE 'probe-%';
