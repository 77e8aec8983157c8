-- The core schema: clients, the catalog, purchases with their state machine
-- enforced by the database, and the append-only audit trail.

-- +goose Up

CREATE TYPE purchase_status AS ENUM (
    'received', 'inquiring', 'awaiting_confirmation', 'paying', 'processing',
    'succeeded', 'failed', 'canceled', 'needs_review'
);

-- Partners' API clients. Keys are random and high-entropy, so a SHA-256 of the
-- key is enough to store them safely; the key itself is shown once.
CREATE TABLE clients (
    id          uuid PRIMARY KEY,
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    key_hash    bytea NOT NULL UNIQUE CHECK (length(key_hash) = 32),
    key_prefix  text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    disabled_at timestamptz
);

-- The catalog: which product codes exist, who sells them and at what price.
CREATE TABLE products (
    code                  text PRIMARY KEY CHECK (code ~ '^[A-Za-z0-9._-]{1,64}$'),
    name                  text NOT NULL,
    provider              text NOT NULL CHECK (provider IN ('klikoo', 'snapcart')),
    family                text NOT NULL CHECK (family IN
        ('pln_prepaid', 'ewallet', 'pulsa', 'paket_data', 'postpaid', 'bpjs', 'game_voucher')),
    inquiry               text NOT NULL CHECK (inquiry IN ('required', 'optional', 'none')),
    provider_product_code text NOT NULL,
    item_code             text,
    price                 bigint CHECK (price > 0),
    price_fetched_at      timestamptz,
    enabled               boolean NOT NULL DEFAULT true,
    updated_at            timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT price_with_time CHECK ((price IS NULL) = (price_fetched_at IS NULL))
);

CREATE TABLE purchases (
    id                      uuid PRIMARY KEY,
    client_id               uuid NOT NULL REFERENCES clients (id),
    reference_id            text NOT NULL CHECK (reference_id ~ '^[A-Za-z0-9._:-]{1,100}$'),
    -- The canonical JSON of the creating request (docs/api.md): an identical
    -- repeat has the same text, a different one is reference_id_reused.
    fingerprint             text NOT NULL,
    status                  purchase_status NOT NULL DEFAULT 'received',
    product_code            text NOT NULL REFERENCES products (code),
    provider                text NOT NULL CHECK (provider IN ('klikoo', 'snapcart')),
    family                  text NOT NULL,
    customer_number         text,
    phone                   text,
    user_id                 text,
    zone_id                 text,
    period                  text,
    -- The normalized customer identifier, for the duplicate guard.
    customer_key            text NOT NULL,
    max_price               bigint CHECK (max_price > 0),
    selling_price           bigint CHECK (selling_price >= 0),
    confirmation            text NOT NULL CHECK (confirmation IN ('automatic', 'manual')),
    allow_repeat            boolean NOT NULL DEFAULT false,
    confirmed_at            timestamptz,
    expires_at              timestamptz,
    -- Inquiry.
    inquiry                 jsonb,
    inquiry_amount          bigint CHECK (inquiry_amount >= 0),
    inquiry_total           bigint CHECK (inquiry_total >= 0),
    inquiry_attempts        integer NOT NULL DEFAULT 0 CHECK (inquiry_attempts >= 0),
    provider_request_id     text,
    -- Payment. provider_reference is OURS (invariant 1), fixed before
    -- the first payment call and reused on every repeat.
    amount                  bigint CHECK (amount > 0),
    provider_reference      text,
    payment_attempts        integer NOT NULL DEFAULT 0 CHECK (payment_attempts >= 0),
    payment_last_sent_at    timestamptz,
    -- True from the commit of a payment intent until its answer is recorded:
    -- a job that finds it set crashed mid-call (or was delivered twice) and
    -- must not call again (invariant 2, docs/invariants.md).
    payment_in_flight       boolean NOT NULL DEFAULT false,
    -- True once any payment call ended in anything but a definitive refusal:
    -- from then on a rejected repeat can never fail the purchase (invariant 4).
    payment_uncertain       boolean NOT NULL DEFAULT false,
    -- Consecutive not_found lookups since the last payment call (invariant 3).
    not_found_streak        integer NOT NULL DEFAULT 0 CHECK (not_found_streak >= 0),
    lookups                 integer NOT NULL DEFAULT 0 CHECK (lookups >= 0),
    deadline_at             timestamptz,
    provider_transaction_id text,
    -- Result.
    price                   bigint CHECK (price >= 0),
    result                  jsonb,
    failure_code            text,
    failure_message         text,
    created_at              timestamptz NOT NULL,
    updated_at              timestamptz NOT NULL,
    completed_at            timestamptz,

    CONSTRAINT purchases_client_reference UNIQUE (client_id, reference_id),
    CONSTRAINT purchases_provider_reference UNIQUE (provider, provider_reference),
    CONSTRAINT identifier_present CHECK (customer_number IS NOT NULL OR (user_id IS NOT NULL AND zone_id IS NOT NULL)),
    CONSTRAINT terminal_has_completed_at CHECK (
        (status IN ('succeeded', 'failed', 'canceled')) = (completed_at IS NOT NULL)),
    CONSTRAINT failed_has_failure CHECK ((status = 'failed') = (failure_code IS NOT NULL)),
    CONSTRAINT succeeded_has_result CHECK (
        status <> 'succeeded' OR (result IS NOT NULL AND price IS NOT NULL)),
    CONSTRAINT canceled_never_paid CHECK (status <> 'canceled' OR payment_attempts = 0),
    CONSTRAINT payment_has_reference CHECK (
        status NOT IN ('paying', 'processing', 'succeeded', 'needs_review')
        OR (provider_reference IS NOT NULL AND amount IS NOT NULL)),
    CONSTRAINT in_flight_while_paying CHECK (
        NOT payment_in_flight OR status IN ('paying', 'processing', 'needs_review')),
    CONSTRAINT attempts_have_reference CHECK (payment_attempts = 0 OR provider_reference IS NOT NULL),
    CONSTRAINT after_payment_has_attempt CHECK (
        status NOT IN ('processing', 'succeeded', 'needs_review') OR payment_attempts > 0)
);

CREATE INDEX purchases_client_created ON purchases (client_id, created_at DESC, id DESC);
CREATE INDEX purchases_duplicate_guard ON purchases (client_id, product_code, customer_key, created_at DESC);
CREATE INDEX purchases_open ON purchases (status, updated_at)
    WHERE status NOT IN ('succeeded', 'failed', 'canceled');

-- The state machine of docs/flow.md, as data. internal/flow holds the same
-- table in Go; a test keeps the two equal.
CREATE TABLE purchase_transitions (
    from_status purchase_status NOT NULL,
    to_status   purchase_status NOT NULL,
    PRIMARY KEY (from_status, to_status)
);

INSERT INTO purchase_transitions (from_status, to_status) VALUES
    ('received', 'inquiring'), ('received', 'paying'), ('received', 'failed'), ('received', 'canceled'),
    ('inquiring', 'awaiting_confirmation'), ('inquiring', 'paying'), ('inquiring', 'failed'), ('inquiring', 'canceled'),
    ('awaiting_confirmation', 'paying'), ('awaiting_confirmation', 'canceled'), ('awaiting_confirmation', 'failed'),
    ('paying', 'processing'), ('paying', 'succeeded'), ('paying', 'failed'),
    ('processing', 'succeeded'), ('processing', 'failed'), ('processing', 'needs_review'),
    ('needs_review', 'succeeded'), ('needs_review', 'failed');

-- +goose StatementBegin
CREATE FUNCTION purchase_check_transition() RETURNS trigger AS $$
BEGIN
    IF NEW.status IS DISTINCT FROM OLD.status AND NOT EXISTS (
        SELECT 1 FROM purchase_transitions WHERE from_status = OLD.status AND to_status = NEW.status
    ) THEN
        RAISE EXCEPTION 'invalid purchase transition % -> % for %', OLD.status, NEW.status, OLD.id
            USING ERRCODE = 'check_violation', CONSTRAINT = 'purchase_transition';
    END IF;
    IF OLD.status IN ('succeeded', 'failed', 'canceled') THEN
        RAISE EXCEPTION 'purchase % is terminal (%)', OLD.id, OLD.status
            USING ERRCODE = 'check_violation', CONSTRAINT = 'purchase_terminal';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
-- +goose StatementEnd

CREATE TRIGGER purchase_transition BEFORE UPDATE ON purchases
    FOR EACH ROW EXECUTE FUNCTION purchase_check_transition();

-- Every HTTP exchange with a provider, redacted: no secret, token or signature.
CREATE TABLE provider_calls (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    purchase_id uuid REFERENCES purchases (id),
    provider    text NOT NULL,
    operation   text NOT NULL CHECK (operation IN ('token', 'inquiry', 'payment', 'lookup', 'balance', 'products')),
    reference   text,
    http_status integer NOT NULL CHECK (http_status BETWEEN 0 AND 599),
    code        text NOT NULL,
    message     text NOT NULL,
    outcome     text NOT NULL CHECK (outcome IN
        ('succeeded', 'pending', 'failed', 'rejected', 'unknown', 'not_found', 'refunded')),
    reason      text NOT NULL,
    latency_ms  integer NOT NULL CHECK (latency_ms >= 0),
    request     text NOT NULL,
    response    text NOT NULL,
    error       text NOT NULL,
    created_at  timestamptz NOT NULL
);

CREATE INDEX provider_calls_purchase ON provider_calls (purchase_id, id) WHERE purchase_id IS NOT NULL;
CREATE INDEX provider_calls_reference ON provider_calls (provider, reference) WHERE operation = 'payment';

-- Callbacks as received: raw, deduplicated by provider and body hash. The
-- signature header is never stored, only whether it verified.
CREATE TABLE callbacks (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    provider      text NOT NULL CHECK (provider IN ('klikoo', 'snapcart')),
    body_sha256   bytea NOT NULL CHECK (length(body_sha256) = 32),
    body          text NOT NULL,
    authenticated boolean NOT NULL,
    reference     text,
    purchase_id   uuid REFERENCES purchases (id),
    outcome       text,
    action        text NOT NULL DEFAULT 'received',
    received_at   timestamptz NOT NULL,
    CONSTRAINT callbacks_dedupe UNIQUE (provider, body_sha256)
);

-- The audit timeline of a purchase: one row per status change (in the same
-- transaction), per provider call, per callback, per note and alert.
CREATE TABLE purchase_events (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    purchase_id      uuid NOT NULL REFERENCES purchases (id),
    kind             text NOT NULL CHECK (kind IN ('status', 'provider_call', 'callback', 'note', 'alert')),
    name             text NOT NULL,
    from_status      purchase_status,
    to_status        purchase_status,
    actor            text NOT NULL DEFAULT 'system',
    provider_call_id bigint REFERENCES provider_calls (id),
    callback_id      bigint REFERENCES callbacks (id),
    data             jsonb NOT NULL DEFAULT '{}',
    created_at       timestamptz NOT NULL,
    CONSTRAINT status_event_has_statuses CHECK (kind <> 'status' OR (from_status IS NOT NULL AND to_status IS NOT NULL))
);

CREATE INDEX purchase_events_purchase ON purchase_events (purchase_id, id);

-- Things an operator must look at: contradictions, missing tokens, refused
-- calls, low or insufficient deposit, successes above max_price.
CREATE TABLE alerts (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind        text NOT NULL,
    provider    text,
    purchase_id uuid REFERENCES purchases (id),
    message     text NOT NULL,
    data        jsonb NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL
);

CREATE INDEX alerts_kind_created ON alerts (kind, created_at);
-- A purchase raises each kind of alert once.
CREATE UNIQUE INDEX alerts_once_per_purchase ON alerts (kind, purchase_id) WHERE purchase_id IS NOT NULL;

-- Our deposit at each provider, as observed.
CREATE TABLE provider_balances (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    provider    text NOT NULL,
    balance     bigint NOT NULL,
    source      text NOT NULL,
    observed_at timestamptz NOT NULL
);

CREATE INDEX provider_balances_provider ON provider_balances (provider, observed_at DESC);

-- +goose StatementBegin
CREATE FUNCTION reject_audit_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
-- +goose StatementEnd

CREATE TRIGGER purchase_events_append_only BEFORE UPDATE OR DELETE ON purchase_events
    FOR EACH ROW EXECUTE FUNCTION reject_audit_change();
CREATE TRIGGER provider_calls_append_only BEFORE UPDATE OR DELETE ON provider_calls
    FOR EACH ROW EXECUTE FUNCTION reject_audit_change();

-- +goose Down

DROP TABLE provider_balances;
DROP TABLE alerts;
DROP TABLE purchase_events;
DROP TABLE callbacks;
DROP TABLE provider_calls;
DROP FUNCTION reject_audit_change();
DROP TABLE purchases;
DROP FUNCTION purchase_check_transition();
DROP TABLE purchase_transitions;
DROP TABLE products;
DROP TABLE clients;
DROP TYPE purchase_status;
