-- The append-only audit tables purchase_events, provider_calls and
-- callbacks are partitioned by month (docs/runbook.md#archiving-old-months),
-- so that an old month can be detached, dumped and dropped instead of
-- growing the tables forever.
--
--  * Months are Asia/Jakarta months, like the reconciliation's days: the
--    partition purchase_events_2026_11 holds the events created from
--    2026-11-01 00:00+07 up to 2026-12-01 00:00+07. provider_calls and
--    purchase_events are partitioned on created_at, callbacks on
--    received_at. audit_partitions_ensure(since, until) creates the months
--    from the one holding since to the one holding until; the migration
--    makes the months of the rows already there through three months
--    ahead, and the service keeps three months ahead (a daily job).
--  * Each table keeps a DEFAULT partition, so that an insert never fails
--    for want of a month: it should stay empty (the metric
--    audit_default_partition_rows and its alert watch it), and
--    audit_partitions_ensure moves the rows it caught into the month it
--    creates for them.
--  * A primary key of a partitioned table holds its partition key: (id,
--    created_at), (id, received_at). The ids still come from one identity
--    per table, so an id alone still names one row.
--  * Foreign keys to a partitioned table cannot name id alone, so
--    purchase_events.provider_call_id and callback_id are no longer
--    foreign keys. What keeps them true: an event naming a call or a
--    callback is written in the same transaction as that row, after it,
--    with the same timestamp (internal/flow/audit.go, callback.go), so the
--    two always land in the same month's partition and are detached and
--    archived together. The foreign keys to purchases stay.
--  * UNIQUE (provider, body_sha256) on callbacks (the callbacks' dedupe)
--    would have to hold received_at. The dedupe moves, exact and global,
--    to callback_digests, a small unpartitioned table of (provider,
--    body_sha256) that CallbackInsert writes in the same statement as the
--    callback: a duplicate stores no digest and so no callback.
--  * UNIQUE (purchase_id, seq) on purchase_events cannot be global either.
--    seq is assigned by EventInsert under the purchase's row lock; the
--    guard that catches a writer without the lock is now one unique index
--    on (purchase_id, seq) per partition, made by audit_partitions_ensure
--    with the partition (a purchase's events of one month never share a
--    seq; two events of one purchase a month apart are seconds apart in
--    practice, so the lock, not the index, is what numbers them).
--  * The rows of a purchase are never older than the purchase. The reads
--    of one purchase's rows (internal/store/queries/audit.sql,
--    console.sql, the recon_ views) say so, giving a day of margin for
--    clocks of different processes: created_at >= the purchase's
--    created_at - 1 day. PostgreSQL then reads the partitions of the
--    purchase's months only (and the DEFAULT and the empty months ahead).
--  * The reconciliation views that read these tables are dropped and
--    made again over the new ones (recon_needs_review and
--    recon_contradictions with the bound above).
--
-- The rows already there are copied into the partitions (ids kept, the
-- identities continuing where they were): on a big database this
-- migration takes about as long as copying the three tables.

-- +goose Up

-- The views over the old tables go; they come back at the end.
DROP VIEW recon_needs_review;
DROP VIEW recon_contradictions;
DROP VIEW recon_double_payments;
DROP VIEW recon_unmatched_callbacks;

-- The old tables step aside, and free the names of their indexes and
-- identities for the new ones.
ALTER TABLE purchase_events DROP CONSTRAINT purchase_events_provider_call_id_fkey,
    DROP CONSTRAINT purchase_events_callback_id_fkey, DROP CONSTRAINT purchase_events_pkey;
DROP INDEX purchase_events_purchase_seq;
DROP INDEX purchase_events_contradiction;
DROP INDEX purchase_events_needs_review;
ALTER TABLE purchase_events RENAME TO purchase_events_unpartitioned;
ALTER SEQUENCE purchase_events_id_seq RENAME TO purchase_events_unpartitioned_id_seq;

ALTER TABLE provider_calls DROP CONSTRAINT provider_calls_pkey;
DROP INDEX provider_calls_purchase;
DROP INDEX provider_calls_reference;
DROP INDEX provider_calls_payment_created;
ALTER TABLE provider_calls RENAME TO provider_calls_unpartitioned;
ALTER SEQUENCE provider_calls_id_seq RENAME TO provider_calls_unpartitioned_id_seq;

ALTER TABLE callbacks DROP CONSTRAINT callbacks_pkey, DROP CONSTRAINT callbacks_dedupe;
DROP INDEX callbacks_unmatched;
DROP INDEX callbacks_held;
DROP INDEX callbacks_purchase;
ALTER TABLE callbacks RENAME TO callbacks_unpartitioned;
ALTER SEQUENCE callbacks_id_seq RENAME TO callbacks_unpartitioned_id_seq;

-- Every HTTP exchange with a provider, redacted: no secret, token or signature.
CREATE TABLE provider_calls (
    id          bigint GENERATED ALWAYS AS IDENTITY,
    purchase_id uuid CONSTRAINT provider_calls_purchase_id_fkey REFERENCES purchases (id),
    provider    text NOT NULL,
    operation   text NOT NULL CONSTRAINT provider_calls_operation_check CHECK (operation IN ('token', 'inquiry', 'payment', 'lookup', 'balance', 'products')),
    reference   text,
    http_status integer NOT NULL CONSTRAINT provider_calls_http_status_check CHECK (http_status BETWEEN 0 AND 599),
    code        text NOT NULL,
    message     text NOT NULL,
    outcome     text NOT NULL CONSTRAINT provider_calls_outcome_check CHECK (outcome IN
        ('succeeded', 'pending', 'failed', 'rejected', 'unknown', 'not_found', 'refunded')),
    reason      text NOT NULL,
    latency_ms  integer NOT NULL CONSTRAINT provider_calls_latency_ms_check CHECK (latency_ms >= 0),
    request     text NOT NULL,
    response    text NOT NULL,
    error       text NOT NULL,
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (id, created_at)
) PARTITION BY RANGE (created_at);

-- Callbacks as received, raw. The signature header is never stored, only
-- whether it verified. Deduplicated through callback_digests.
CREATE TABLE callbacks (
    id            bigint GENERATED ALWAYS AS IDENTITY,
    provider      text NOT NULL CONSTRAINT callbacks_provider_name CHECK (provider ~ '^[a-z][a-z0-9_]{0,31}$'),
    body_sha256   bytea NOT NULL CONSTRAINT callbacks_body_sha256_check CHECK (length(body_sha256) = 32),
    body          text NOT NULL,
    authenticated boolean NOT NULL,
    reference     text,
    purchase_id   uuid CONSTRAINT callbacks_purchase_id_fkey REFERENCES purchases (id),
    outcome       text,
    action        text NOT NULL DEFAULT 'received',
    received_at   timestamptz NOT NULL,
    PRIMARY KEY (id, received_at)
) PARTITION BY RANGE (received_at);

-- One row per callback body ever stored, per provider: the callbacks'
-- dedupe, global and exact across the months of callbacks (and kept when a
-- month of callbacks is archived, so an old body sent again is still a
-- duplicate). CallbackInsert writes it and the callback in one statement.
CREATE TABLE callback_digests (
    provider    text NOT NULL,
    body_sha256 bytea NOT NULL CHECK (length(body_sha256) = 32),
    received_at timestamptz NOT NULL,
    PRIMARY KEY (provider, body_sha256)
);

-- The audit timeline of a purchase: one row per status change (in the same
-- transaction), per provider call, per callback, per note and alert.
-- provider_call_id and callback_id name a row of the same month (see
-- above); seq is the event's number within the purchase.
CREATE TABLE purchase_events (
    id               bigint GENERATED ALWAYS AS IDENTITY,
    purchase_id      uuid NOT NULL CONSTRAINT purchase_events_purchase_id_fkey REFERENCES purchases (id),
    kind             text NOT NULL CONSTRAINT purchase_events_kind_check CHECK (kind IN ('status', 'provider_call', 'callback', 'note', 'alert')),
    name             text NOT NULL,
    from_status      purchase_status,
    to_status        purchase_status,
    actor            text NOT NULL DEFAULT 'system',
    provider_call_id bigint,
    callback_id      bigint,
    data             jsonb NOT NULL DEFAULT '{}',
    created_at       timestamptz NOT NULL,
    seq              integer NOT NULL CONSTRAINT purchase_events_seq_positive CHECK (seq > 0),
    PRIMARY KEY (id, created_at),
    CONSTRAINT status_event_has_statuses CHECK (kind <> 'status' OR (from_status IS NOT NULL AND to_status IS NOT NULL))
) PARTITION BY RANGE (created_at);

-- The indexes of the old tables, on every partition (but purchase_seq,
-- which is unique per partition: audit_partitions_ensure).
CREATE INDEX provider_calls_purchase ON provider_calls (purchase_id, id) WHERE purchase_id IS NOT NULL;
CREATE INDEX provider_calls_reference ON provider_calls (provider, reference) WHERE operation = 'payment';
CREATE INDEX provider_calls_payment_created ON provider_calls (created_at) WHERE operation = 'payment';
CREATE INDEX callbacks_unmatched ON callbacks (received_at) WHERE action IN ('unmatched', 'unreadable');
CREATE INDEX callbacks_held ON callbacks (purchase_id) WHERE action = 'held';
CREATE INDEX callbacks_purchase ON callbacks (purchase_id, id) WHERE purchase_id IS NOT NULL;
CREATE INDEX purchase_events_contradiction ON purchase_events (purchase_id) WHERE name = 'contradiction';
CREATE INDEX purchase_events_needs_review ON purchase_events (purchase_id, created_at)
    WHERE kind = 'status' AND to_status = 'needs_review';

-- Append-only, on every partition (a row trigger of a partitioned table
-- is one of each of its partitions).
CREATE TRIGGER purchase_events_append_only BEFORE UPDATE OR DELETE ON purchase_events
    FOR EACH ROW EXECUTE FUNCTION reject_audit_change();
CREATE TRIGGER provider_calls_append_only BEFORE UPDATE OR DELETE ON provider_calls
    FOR EACH ROW EXECUTE FUNCTION reject_audit_change();
CREATE TRIGGER callback_digests_append_only BEFORE UPDATE OR DELETE ON callback_digests
    FOR EACH ROW EXECUTE FUNCTION reject_audit_change();

-- audit_partitions_ensure creates the missing month partitions of the
-- three tables for every Asia/Jakarta month from the one holding since to
-- the one holding until, and returns their names. A partition is named
-- for its table and month (purchase_events_2026_11); a month whose name is
-- taken (a partition, or a detached month not yet dropped) is left alone.
-- Each table's DEFAULT partition (<table>_default), the safety net that
-- takes the rows of a month without a partition, is made when missing;
-- rows it caught for a month made here move into that month.
-- purchase_events' partitions get their unique (purchase_id, seq) index.
-- Concurrent callers take turns (a transaction-level advisory lock).
-- +goose StatementBegin
CREATE FUNCTION audit_partitions_ensure(since timestamptz, until timestamptz) RETURNS SETOF text AS $$
DECLARE
    tab     text;
    col     text;
    month   timestamp;
    lo      timestamptz;
    hi      timestamptz;
    part    text;
    caught  boolean;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('audit_partitions_ensure'));
    FOREACH tab IN ARRAY ARRAY['provider_calls', 'callbacks', 'purchase_events'] LOOP
        col := CASE tab WHEN 'callbacks' THEN 'received_at' ELSE 'created_at' END;
        IF to_regclass(quote_ident(tab || '_default')) IS NULL THEN
            EXECUTE format('CREATE TABLE %I PARTITION OF %I DEFAULT', tab || '_default', tab);
            IF tab = 'purchase_events' THEN
                EXECUTE 'CREATE UNIQUE INDEX purchase_events_default_purchase_seq ON purchase_events_default (purchase_id, seq)';
            END IF;
            RETURN NEXT tab || '_default';
        END IF;
        month := date_trunc('month', since AT TIME ZONE 'Asia/Jakarta');
        WHILE month <= until AT TIME ZONE 'Asia/Jakarta' LOOP
            part := tab || '_' || to_char(month, 'YYYY_MM');
            lo := month AT TIME ZONE 'Asia/Jakarta';
            hi := (month + interval '1 month') AT TIME ZONE 'Asia/Jakarta';
            IF to_regclass(quote_ident(part)) IS NULL THEN
                EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I WHERE %I >= %L AND %I < %L)',
                               tab || '_default', col, lo, col, hi) INTO caught;
                IF caught THEN
                    -- Out of DEFAULT (append-only: its trigger is held for
                    -- this statement), into the new month below.
                    EXECUTE format('CREATE TEMP TABLE audit_partition_moving (LIKE %I) ON COMMIT DROP', tab);
                    EXECUTE format('ALTER TABLE %I DISABLE TRIGGER USER', tab || '_default');
                    EXECUTE format('WITH d AS (DELETE FROM %I WHERE %I >= %L AND %I < %L RETURNING *) '
                                   'INSERT INTO audit_partition_moving SELECT * FROM d',
                                   tab || '_default', col, lo, col, hi);
                    EXECUTE format('ALTER TABLE %I ENABLE TRIGGER USER', tab || '_default');
                END IF;
                EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)', part, tab, lo, hi);
                IF tab = 'purchase_events' THEN
                    EXECUTE format('CREATE UNIQUE INDEX %I ON %I (purchase_id, seq)', part || '_purchase_seq', part);
                END IF;
                IF caught THEN
                    EXECUTE format('INSERT INTO %I OVERRIDING SYSTEM VALUE SELECT * FROM audit_partition_moving', tab);
                    DROP TABLE audit_partition_moving;
                END IF;
                RETURN NEXT part;
            END IF;
            month := month + interval '1 month';
        END LOOP;
    END LOOP;
END;
$$ LANGUAGE plpgsql;
-- +goose StatementEnd

-- audit_partitions_detach detaches the partitions of the three tables for
-- the Asia/Jakarta month holding month, and returns their names: each
-- becomes a plain table that no read of the parent sees, to dump and drop
-- (docs/runbook.md#archiving-old-months). The three go together, so a
-- month's events are never left without its calls and callbacks. A month
-- not over yet (or to come) is refused: its partitions still take rows.
-- Not CONCURRENTLY: PostgreSQL refuses that beside a DEFAULT partition
-- (and inside a transaction), so each detach holds its table's lock for a
-- moment, after the statements reading it end; set lock_timeout first.
-- +goose StatementBegin
CREATE FUNCTION audit_partitions_detach(month date) RETURNS SETOF text AS $$
DECLARE
    tab  text;
    m    timestamp := date_trunc('month', month);
    part text;
BEGIN
    IF m >= date_trunc('month', now() AT TIME ZONE 'Asia/Jakarta') THEN
        RAISE EXCEPTION 'the month of % is not over in Asia/Jakarta: its partitions still take rows', month
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOREACH tab IN ARRAY ARRAY['purchase_events', 'provider_calls', 'callbacks'] LOOP
        part := tab || '_' || to_char(m, 'YYYY_MM');
        IF EXISTS (SELECT 1 FROM pg_inherits
                   WHERE inhrelid = to_regclass(quote_ident(part)) AND inhparent = tab::regclass) THEN
            EXECUTE format('ALTER TABLE %I DETACH PARTITION %I', tab, part);
            RETURN NEXT part;
        END IF;
    END LOOP;
END;
$$ LANGUAGE plpgsql;
-- +goose StatementEnd

-- audit_partition_state tells, for each of the three tables, how many rows
-- its DEFAULT partition holds (counted up to 100,000: it should hold none)
-- and up to when its month partitions reach (the end of the last month
-- attached; NULL when none is). The metrics read it at each scrape.
-- +goose StatementBegin
CREATE FUNCTION audit_partition_state()
RETURNS TABLE (table_name text, default_rows bigint, partitions_until timestamptz) AS $$
DECLARE
    tab text;
BEGIN
    FOREACH tab IN ARRAY ARRAY['callbacks', 'provider_calls', 'purchase_events'] LOOP
        table_name := tab;
        EXECUTE format('SELECT count(*) FROM (SELECT 1 FROM %I LIMIT 100000) x', tab || '_default') INTO default_rows;
        -- The month partition named last is the latest month.
        SELECT (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'TO \(''([^'']+)''\)'))[1]::timestamptz
        INTO partitions_until
        FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = tab::regclass AND c.relname ~ ('^' || tab || '_[0-9]{4}_[0-9]{2}$')
        ORDER BY c.relname DESC
        LIMIT 1;
        RETURN NEXT;
    END LOOP;
END;
$$ LANGUAGE plpgsql STABLE;
-- +goose StatementEnd

SELECT audit_partitions_ensure(
    least(now(), (SELECT min(created_at) FROM provider_calls_unpartitioned),
          (SELECT min(received_at) FROM callbacks_unpartitioned),
          (SELECT min(created_at) FROM purchase_events_unpartitioned)),
    now() + interval '3 months');

INSERT INTO provider_calls OVERRIDING SYSTEM VALUE SELECT * FROM provider_calls_unpartitioned;
INSERT INTO callbacks OVERRIDING SYSTEM VALUE SELECT * FROM callbacks_unpartitioned;
INSERT INTO callback_digests (provider, body_sha256, received_at)
SELECT provider, body_sha256, received_at FROM callbacks_unpartitioned;
INSERT INTO purchase_events OVERRIDING SYSTEM VALUE SELECT * FROM purchase_events_unpartitioned;

SELECT setval(pg_get_serial_sequence('provider_calls', 'id'), last_value, is_called) FROM provider_calls_unpartitioned_id_seq;
SELECT setval(pg_get_serial_sequence('callbacks', 'id'), last_value, is_called) FROM callbacks_unpartitioned_id_seq;
SELECT setval(pg_get_serial_sequence('purchase_events', 'id'), last_value, is_called) FROM purchase_events_unpartitioned_id_seq;

DROP TABLE purchase_events_unpartitioned;
DROP TABLE provider_calls_unpartitioned;
DROP TABLE callbacks_unpartitioned;

-- Statistics of the whole tables for the planner (autovacuum analyzes
-- each partition, never a partitioned table: docs/performance.md#big-tables).
ANALYZE provider_calls, callbacks, callback_digests, purchase_events;

-- The views of migrations/00003_reconciliation.sql, the same but for the
-- bound on a purchase's events.
CREATE VIEW recon_needs_review AS
SELECT p.id AS purchase_id, p.client_id, p.reference_id, p.provider, p.product_code,
       p.amount, p.provider_reference, p.provider_request_id, p.provider_transaction_id,
       p.payment_attempts, p.lookups, p.created_at, p.deadline_at,
       coalesce(r.since, p.updated_at)::timestamptz AS review_since,
       (recon_now() - coalesce(r.since, p.updated_at))::interval AS waiting
FROM purchases p
CROSS JOIN LATERAL (
    SELECT max(e.created_at) AS since FROM purchase_events e
    WHERE e.purchase_id = p.id AND e.created_at >= p.created_at - interval '1 day'
      AND e.kind = 'status' AND e.to_status = 'needs_review'
) r
WHERE p.status = 'needs_review';

CREATE VIEW recon_contradictions AS
WITH contradicted AS (
    SELECT purchase_id FROM alerts WHERE kind = 'contradiction' AND purchase_id IS NOT NULL
    UNION
    SELECT purchase_id FROM purchase_events WHERE name = 'contradiction'
)
SELECT p.id AS purchase_id, p.client_id, p.reference_id, p.provider, p.product_code,
       p.provider_reference, p.status, p.price, p.completed_at,
       e.reports, e.reported::text AS reported,
       least(e.first_reported_at, a.created_at)::timestamptz AS first_reported_at,
       greatest(e.last_reported_at, a.created_at)::timestamptz AS last_reported_at,
       coalesce(a.message, '') AS alert_message
FROM contradicted c
JOIN purchases p ON p.id = c.purchase_id
LEFT JOIN alerts a ON a.purchase_id = p.id AND a.kind = 'contradiction'
CROSS JOIN LATERAL (
    SELECT count(*) AS reports,
           coalesce(string_agg(DISTINCT x.data ->> 'reported', ', '), '') AS reported,
           min(x.created_at) AS first_reported_at, max(x.created_at) AS last_reported_at
    FROM purchase_events x
    WHERE x.purchase_id = p.id AND x.created_at >= p.created_at - interval '1 day' AND x.name = 'contradiction'
) e;

CREATE VIEW recon_double_payments AS
SELECT c.provider, c.reference AS provider_reference, p.id AS purchase_id, p.client_id,
       p.reference_id, p.product_code, p.status,
       count(*) AS accepted_calls,
       string_agg(c.code, ', ' ORDER BY c.id)::text AS codes,
       min(c.created_at)::timestamptz AS first_accepted_at,
       max(c.created_at)::timestamptz AS last_accepted_at
FROM provider_calls c
LEFT JOIN purchases p ON p.provider = c.provider AND p.provider_reference = c.reference
WHERE c.operation = 'payment' AND c.reference IS NOT NULL
  AND c.outcome IN ('pending', 'succeeded') AND c.http_status BETWEEN 200 AND 299
  AND c.code NOT LIKE '409%6563'
GROUP BY c.provider, c.reference, p.id
HAVING count(*) > 1;

CREATE VIEW recon_unmatched_callbacks AS
SELECT c.id AS callback_id, c.provider, c.reference, c.action, c.authenticated, c.received_at,
       left(c.body, 1000) AS body
FROM callbacks c
WHERE c.action IN ('unmatched', 'unreadable');

COMMENT ON VIEW recon_needs_review IS 'needs_review purchases, since when (status event) and for how long';
COMMENT ON VIEW recon_contradictions IS 'Terminal purchases a later provider report contradicted (alert and events named contradiction), one row per purchase';
COMMENT ON VIEW recon_double_payments IS 'Provider references with > 1 accepted payment call: outcome pending/succeeded, HTTP 2xx, not Klikoo 409xx6563 (reference already used)';
COMMENT ON VIEW recon_unmatched_callbacks IS 'Callbacks that matched no purchase (unmatched) or could not be parsed (unreadable)';
COMMENT ON FUNCTION audit_partitions_ensure(timestamptz, timestamptz) IS 'Creates the missing Asia/Jakarta month partitions of purchase_events, provider_calls and callbacks from the month of since to the month of until; returns their names';
COMMENT ON FUNCTION audit_partitions_detach(date) IS 'Detaches the partitions of purchase_events, provider_calls and callbacks for the Asia/Jakarta month holding month (an ended month), to dump and drop; returns their names';
COMMENT ON FUNCTION audit_partition_state() IS 'Per audit table: rows in its DEFAULT partition (up to 100,000) and the end of its last month partition';

-- +goose Down

-- Back to one table each, with the rows of the months still attached (a
-- month detached and dropped is gone; restore its dump and attach it
-- first, or the foreign keys below refuse the events that name its rows).
DROP VIEW recon_needs_review;
DROP VIEW recon_contradictions;
DROP VIEW recon_double_payments;
DROP VIEW recon_unmatched_callbacks;
DROP FUNCTION audit_partition_state();
DROP FUNCTION audit_partitions_detach(date);
DROP FUNCTION audit_partitions_ensure(timestamptz, timestamptz);

ALTER TABLE purchase_events RENAME TO purchase_events_partitioned;
ALTER TABLE purchase_events_partitioned DROP CONSTRAINT purchase_events_pkey;
DROP INDEX purchase_events_contradiction;
DROP INDEX purchase_events_needs_review;
ALTER SEQUENCE purchase_events_id_seq RENAME TO purchase_events_partitioned_id_seq;
ALTER TABLE provider_calls RENAME TO provider_calls_partitioned;
ALTER TABLE provider_calls_partitioned DROP CONSTRAINT provider_calls_pkey;
DROP INDEX provider_calls_purchase;
DROP INDEX provider_calls_reference;
DROP INDEX provider_calls_payment_created;
ALTER SEQUENCE provider_calls_id_seq RENAME TO provider_calls_partitioned_id_seq;
ALTER TABLE callbacks RENAME TO callbacks_partitioned;
ALTER TABLE callbacks_partitioned DROP CONSTRAINT callbacks_pkey;
DROP INDEX callbacks_unmatched;
DROP INDEX callbacks_held;
DROP INDEX callbacks_purchase;
ALTER SEQUENCE callbacks_id_seq RENAME TO callbacks_partitioned_id_seq;

CREATE TABLE provider_calls (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    purchase_id uuid CONSTRAINT provider_calls_purchase_id_fkey REFERENCES purchases (id),
    provider    text NOT NULL,
    operation   text NOT NULL CONSTRAINT provider_calls_operation_check CHECK (operation IN ('token', 'inquiry', 'payment', 'lookup', 'balance', 'products')),
    reference   text,
    http_status integer NOT NULL CONSTRAINT provider_calls_http_status_check CHECK (http_status BETWEEN 0 AND 599),
    code        text NOT NULL,
    message     text NOT NULL,
    outcome     text NOT NULL CONSTRAINT provider_calls_outcome_check CHECK (outcome IN
        ('succeeded', 'pending', 'failed', 'rejected', 'unknown', 'not_found', 'refunded')),
    reason      text NOT NULL,
    latency_ms  integer NOT NULL CONSTRAINT provider_calls_latency_ms_check CHECK (latency_ms >= 0),
    request     text NOT NULL,
    response    text NOT NULL,
    error       text NOT NULL,
    created_at  timestamptz NOT NULL
);
CREATE TABLE callbacks (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    provider      text NOT NULL CONSTRAINT callbacks_provider_name CHECK (provider ~ '^[a-z][a-z0-9_]{0,31}$'),
    body_sha256   bytea NOT NULL CONSTRAINT callbacks_body_sha256_check CHECK (length(body_sha256) = 32),
    body          text NOT NULL,
    authenticated boolean NOT NULL,
    reference     text,
    purchase_id   uuid CONSTRAINT callbacks_purchase_id_fkey REFERENCES purchases (id),
    outcome       text,
    action        text NOT NULL DEFAULT 'received',
    received_at   timestamptz NOT NULL,
    CONSTRAINT callbacks_dedupe UNIQUE (provider, body_sha256)
);
CREATE TABLE purchase_events (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    purchase_id      uuid NOT NULL CONSTRAINT purchase_events_purchase_id_fkey REFERENCES purchases (id),
    kind             text NOT NULL CONSTRAINT purchase_events_kind_check CHECK (kind IN ('status', 'provider_call', 'callback', 'note', 'alert')),
    name             text NOT NULL,
    from_status      purchase_status,
    to_status        purchase_status,
    actor            text NOT NULL DEFAULT 'system',
    provider_call_id bigint CONSTRAINT purchase_events_provider_call_id_fkey REFERENCES provider_calls (id),
    callback_id      bigint CONSTRAINT purchase_events_callback_id_fkey REFERENCES callbacks (id),
    data             jsonb NOT NULL DEFAULT '{}',
    created_at       timestamptz NOT NULL,
    seq              integer NOT NULL CONSTRAINT purchase_events_seq_positive CHECK (seq > 0),
    CONSTRAINT status_event_has_statuses CHECK (kind <> 'status' OR (from_status IS NOT NULL AND to_status IS NOT NULL))
);

INSERT INTO provider_calls OVERRIDING SYSTEM VALUE SELECT * FROM provider_calls_partitioned;
INSERT INTO callbacks OVERRIDING SYSTEM VALUE SELECT * FROM callbacks_partitioned;
INSERT INTO purchase_events OVERRIDING SYSTEM VALUE SELECT * FROM purchase_events_partitioned;
SELECT setval(pg_get_serial_sequence('provider_calls', 'id'), last_value, is_called) FROM provider_calls_partitioned_id_seq;
SELECT setval(pg_get_serial_sequence('callbacks', 'id'), last_value, is_called) FROM callbacks_partitioned_id_seq;
SELECT setval(pg_get_serial_sequence('purchase_events', 'id'), last_value, is_called) FROM purchase_events_partitioned_id_seq;

DROP TABLE purchase_events_partitioned;
DROP TABLE provider_calls_partitioned;
DROP TABLE callbacks_partitioned;
DROP TABLE callback_digests;

CREATE INDEX provider_calls_purchase ON provider_calls (purchase_id, id) WHERE purchase_id IS NOT NULL;
CREATE INDEX provider_calls_reference ON provider_calls (provider, reference) WHERE operation = 'payment';
CREATE INDEX provider_calls_payment_created ON provider_calls (created_at) WHERE operation = 'payment';
CREATE INDEX callbacks_unmatched ON callbacks (received_at) WHERE action IN ('unmatched', 'unreadable');
CREATE INDEX callbacks_held ON callbacks (purchase_id) WHERE action = 'held';
CREATE INDEX callbacks_purchase ON callbacks (purchase_id, id) WHERE purchase_id IS NOT NULL;
CREATE UNIQUE INDEX purchase_events_purchase_seq ON purchase_events (purchase_id, seq);
CREATE INDEX purchase_events_contradiction ON purchase_events (purchase_id) WHERE name = 'contradiction';
CREATE INDEX purchase_events_needs_review ON purchase_events (purchase_id, created_at)
    WHERE kind = 'status' AND to_status = 'needs_review';
CREATE TRIGGER purchase_events_append_only BEFORE UPDATE OR DELETE ON purchase_events
    FOR EACH ROW EXECUTE FUNCTION reject_audit_change();
CREATE TRIGGER provider_calls_append_only BEFORE UPDATE OR DELETE ON provider_calls
    FOR EACH ROW EXECUTE FUNCTION reject_audit_change();

CREATE VIEW recon_needs_review AS
SELECT p.id AS purchase_id, p.client_id, p.reference_id, p.provider, p.product_code,
       p.amount, p.provider_reference, p.provider_request_id, p.provider_transaction_id,
       p.payment_attempts, p.lookups, p.created_at, p.deadline_at,
       coalesce(r.since, p.updated_at)::timestamptz AS review_since,
       (recon_now() - coalesce(r.since, p.updated_at))::interval AS waiting
FROM purchases p
CROSS JOIN LATERAL (
    SELECT max(e.created_at) AS since FROM purchase_events e
    WHERE e.purchase_id = p.id AND e.kind = 'status' AND e.to_status = 'needs_review'
) r
WHERE p.status = 'needs_review';

CREATE VIEW recon_contradictions AS
WITH contradicted AS (
    SELECT purchase_id FROM alerts WHERE kind = 'contradiction' AND purchase_id IS NOT NULL
    UNION
    SELECT purchase_id FROM purchase_events WHERE name = 'contradiction'
)
SELECT p.id AS purchase_id, p.client_id, p.reference_id, p.provider, p.product_code,
       p.provider_reference, p.status, p.price, p.completed_at,
       e.reports, e.reported::text AS reported,
       least(e.first_reported_at, a.created_at)::timestamptz AS first_reported_at,
       greatest(e.last_reported_at, a.created_at)::timestamptz AS last_reported_at,
       coalesce(a.message, '') AS alert_message
FROM contradicted c
JOIN purchases p ON p.id = c.purchase_id
LEFT JOIN alerts a ON a.purchase_id = p.id AND a.kind = 'contradiction'
CROSS JOIN LATERAL (
    SELECT count(*) AS reports,
           coalesce(string_agg(DISTINCT x.data ->> 'reported', ', '), '') AS reported,
           min(x.created_at) AS first_reported_at, max(x.created_at) AS last_reported_at
    FROM purchase_events x WHERE x.purchase_id = p.id AND x.name = 'contradiction'
) e;

CREATE VIEW recon_double_payments AS
SELECT c.provider, c.reference AS provider_reference, p.id AS purchase_id, p.client_id,
       p.reference_id, p.product_code, p.status,
       count(*) AS accepted_calls,
       string_agg(c.code, ', ' ORDER BY c.id)::text AS codes,
       min(c.created_at)::timestamptz AS first_accepted_at,
       max(c.created_at)::timestamptz AS last_accepted_at
FROM provider_calls c
LEFT JOIN purchases p ON p.provider = c.provider AND p.provider_reference = c.reference
WHERE c.operation = 'payment' AND c.reference IS NOT NULL
  AND c.outcome IN ('pending', 'succeeded') AND c.http_status BETWEEN 200 AND 299
  AND c.code NOT LIKE '409%6563'
GROUP BY c.provider, c.reference, p.id
HAVING count(*) > 1;

CREATE VIEW recon_unmatched_callbacks AS
SELECT c.id AS callback_id, c.provider, c.reference, c.action, c.authenticated, c.received_at,
       left(c.body, 1000) AS body
FROM callbacks c
WHERE c.action IN ('unmatched', 'unreadable');

COMMENT ON VIEW recon_needs_review IS 'needs_review purchases, since when (status event) and for how long';
COMMENT ON VIEW recon_contradictions IS 'Terminal purchases a later provider report contradicted (alert and events named contradiction), one row per purchase';
COMMENT ON VIEW recon_double_payments IS 'Provider references with > 1 accepted payment call: outcome pending/succeeded, HTTP 2xx, not Klikoo 409xx6563 (reference already used)';
COMMENT ON VIEW recon_unmatched_callbacks IS 'Callbacks that matched no purchase (unmatched) or could not be parsed (unreadable)';
