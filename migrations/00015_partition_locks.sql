-- Making or detaching an audit month takes purchases first, in EXCLUSIVE
-- mode (docs/runbook.md#archiving-old-months).
--
-- provider_calls, callbacks and purchase_events each have a foreign key to
-- purchases. CREATE TABLE … PARTITION OF clones it onto the new month,
-- which adds triggers on purchases and so takes a SHARE ROW EXCLUSIVE lock
-- on it; DETACH PARTITION takes one to drop them. 00014's maker took the
-- audit table's ACCESS EXCLUSIVE lock first and met purchases' only then,
-- inside CREATE TABLE: a create (it inserts the purchase, then its first
-- event) or a step (it updates the purchase, then writes its calls and
-- events) holding purchases and waiting for the audit table deadlocked
-- with it, and PostgreSQL may cancel either side: a create answered 500.
-- Once a month: on the maker's first run after a month begins in
-- Asia/Jakarta, each service start made a month ahead.
--
--  * audit_partitions_ensure_table and audit_partitions_detach now take
--    LOCK TABLE purchases IN EXCLUSIVE MODE before any audit table. That
--    mode lets plain reads of purchases through and waits for every
--    transaction that has locked, written or (through a foreign key)
--    referred to a purchase, which in the service is every transaction
--    that writes a purchase's audit row: SHARE ROW EXCLUSIVE would let one
--    that holds a purchase FOR UPDATE and has inserted its callback go on
--    to wait for the maker when it updates the purchase. Those transactions then wait
--    for the maker, never the other way round.
--  * A transaction that reads an audit table and only then locks a
--    purchase can still close a cycle with it. The service's maker
--    (flow.EnsurePartitions) sets its lock timeout to a quarter of
--    deadlock_timeout: once it holds purchases it waits at most twice (the
--    table, its DEFAULT partition), so it times out before the other side's
--    deadlock check and is always the side that gives up; the next run
--    makes the month. By hand, the runbook says how to do the same.

-- +goose Up

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION audit_partitions_ensure_table(tab text, since timestamptz, until timestamptz) RETURNS SETOF text AS $$
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
    -- purchases first: a partition's foreign key puts triggers on it.
    LOCK TABLE purchases IN EXCLUSIVE MODE;
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

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION audit_partitions_detach(month date) RETURNS SETOF text AS $$
DECLARE
    tab  text;
    m    timestamp := date_trunc('month', month);
    part text;
BEGIN
    IF m >= date_trunc('month', now() AT TIME ZONE 'Asia/Jakarta') THEN
        RAISE EXCEPTION 'the month of % is not over in Asia/Jakarta: its partitions still take rows', month
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- purchases first: detaching drops the month's foreign key triggers on it.
    LOCK TABLE purchases IN EXCLUSIVE MODE;
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

-- +goose Down

-- 00014's audit_partitions_ensure_table and 00012's audit_partitions_detach,
-- word for word.
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION audit_partitions_ensure_table(tab text, since timestamptz, until timestamptz) RETURNS SETOF text AS $$
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

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION audit_partitions_detach(month date) RETURNS SETOF text AS $$
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
