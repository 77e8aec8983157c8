-- The audit tables' month partitions are made one table per transaction
-- (docs/runbook.md#archiving-old-months), so that the maker never holds
-- the locks of two of them at once.
--
-- audit_partitions_ensure of migrations/00012_audit_partitions.sql makes
-- the missing months of provider_calls, callbacks and purchase_events in
-- one transaction. CREATE TABLE … PARTITION OF takes an ACCESS EXCLUSIVE
-- lock on its table and on the table's DEFAULT partition, held to the end
-- of the transaction: once it has made provider_calls' month it holds that
-- table while it waits for purchase_events, which a step (it writes
-- provider_calls, then purchase_events) or a reconciliation read (it reads
-- several of the three) may hold while it waits for provider_calls. That
-- is a deadlock (it happened on 30 November 2026; see the commit that
-- counts the months ahead from the month of now), and so is the metrics
-- scrape's audit_partition_state, which reads the three DEFAULT
-- partitions one after the other in its own order.
--
--  * audit_partitions_ensure_table(tab, since, until) does one table. It
--    first looks, without a lock, whether a month from the one holding
--    since to the one holding until, or the DEFAULT partition, is missing:
--    when none is it returns nothing, so the daily run, which almost always
--    finds everything there, locks nothing. Otherwise it takes the makers'
--    advisory lock (as before: makers take turns), then LOCK TABLE ONLY
--    the table IN ACCESS EXCLUSIVE MODE, then its DEFAULT partition: the
--    parent before its partitions, the order every reader takes them in,
--    so a maker and a reader of one table never wait for each other both
--    ways. The months are then made as 00012 makes them (the rows the
--    DEFAULT caught move into theirs; purchase_events' partitions get their
--    unique (purchase_id, seq) index). A month another maker made while
--    this one waited is seen once the table's lock is taken, and left alone.
--    ONLY: the month partitions are not locked; a reader reaches them
--    through the table, whose lock it holds to its end.
--  * The service (flow.EnsurePartitions) calls it once per table, each in
--    a transaction of its own with a lock timeout: a maker's transaction
--    then holds one table's locks (and the advisory lock, which only makers
--    take), and a table it cannot lock in time fails alone; the other
--    tables' months are still made.
--  * audit_partitions_ensure(since, until) calls it for the three tables in
--    turn and returns the same names as before. In one transaction it holds
--    the three tables at the end, as before: for the migrations, the bench's
--    preload and a database the service does not use yet. An operator on a
--    live database runs audit_partitions_ensure_table, one table a statement.

-- +goose Up

-- +goose StatementBegin
CREATE FUNCTION audit_partitions_ensure_table(tab text, since timestamptz, until timestamptz) RETURNS SETOF text AS $$
DECLARE
    col         text;
    first_month timestamp := date_trunc('month', since AT TIME ZONE 'Asia/Jakarta');
    last_moment timestamp := until AT TIME ZONE 'Asia/Jakarta';
    month       timestamp;
    lo          timestamptz;
    hi          timestamptz;
    part        text;
    caught      boolean;
BEGIN
    col := CASE tab WHEN 'provider_calls' THEN 'created_at' WHEN 'purchase_events' THEN 'created_at'
                    WHEN 'callbacks' THEN 'received_at' END;
    IF col IS NULL THEN
        RAISE EXCEPTION 'tab %: not an audit table (provider_calls, callbacks or purchase_events)', quote_nullable(tab)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- Nothing missing: nothing to lock. to_regclass takes no lock.
    IF to_regclass(quote_ident(tab || '_default')) IS NOT NULL AND NOT EXISTS (
           SELECT FROM generate_series(first_month, last_moment, interval '1 month') AS m
           WHERE to_regclass(quote_ident(tab || '_' || to_char(m, 'YYYY_MM'))) IS NULL) THEN
        RETURN;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('audit_partitions_ensure'));
    EXECUTE format('LOCK TABLE ONLY %I IN ACCESS EXCLUSIVE MODE', tab);
    IF to_regclass(quote_ident(tab || '_default')) IS NULL THEN
        EXECUTE format('CREATE TABLE %I PARTITION OF %I DEFAULT', tab || '_default', tab);
        IF tab = 'purchase_events' THEN
            EXECUTE 'CREATE UNIQUE INDEX purchase_events_default_purchase_seq ON purchase_events_default (purchase_id, seq)';
        END IF;
        RETURN NEXT tab || '_default';
    ELSE
        EXECUTE format('LOCK TABLE ONLY %I IN ACCESS EXCLUSIVE MODE', tab || '_default');
    END IF;
    month := first_month;
    WHILE month <= last_moment LOOP
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
END;
$$ LANGUAGE plpgsql;
-- +goose StatementEnd

-- The three tables in 00012's order: the same names, in the same order.
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION audit_partitions_ensure(since timestamptz, until timestamptz) RETURNS SETOF text AS $$
DECLARE
    tab text;
BEGIN
    FOREACH tab IN ARRAY ARRAY['provider_calls', 'callbacks', 'purchase_events'] LOOP
        RETURN QUERY SELECT * FROM audit_partitions_ensure_table(tab, since, until);
    END LOOP;
END;
$$ LANGUAGE plpgsql;
-- +goose StatementEnd

COMMENT ON FUNCTION audit_partitions_ensure_table(text, timestamptz, timestamptz) IS 'Creates the missing Asia/Jakarta month partitions of one audit table (provider_calls, callbacks or purchase_events) from the month of since to the month of until, locking nothing when none is missing; returns their names';
COMMENT ON FUNCTION audit_partitions_ensure(timestamptz, timestamptz) IS 'Creates the missing Asia/Jakarta month partitions of purchase_events, provider_calls and callbacks from the month of since to the month of until, in one transaction (audit_partitions_ensure_table for each); returns their names';

-- +goose Down

-- 00012's definition, word for word.
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION audit_partitions_ensure(since timestamptz, until timestamptz) RETURNS SETOF text AS $$
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

DROP FUNCTION audit_partitions_ensure_table(text, timestamptz, timestamptz);
COMMENT ON FUNCTION audit_partitions_ensure(timestamptz, timestamptz) IS 'Creates the missing Asia/Jakarta month partitions of purchase_events, provider_calls and callbacks from the month of since to the month of until; returns their names';
