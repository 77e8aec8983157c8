-- Routing (docs/routing.md): a product is ours, an offer is one provider's
-- way to sell it, and a purchase may move from one offer to the next under
-- the failover rules — never once money may have moved.
--
--  * offers: what products held of their provider moves here, one offer
--    per (product, provider); every existing product becomes a product with
--    one offer.
--  * purchases: route (the providers of the offers fixed at creation, in
--    order), attempt (the current attempt's number) and when it started,
--    and the provider's code of the current offer. The current attempt's
--    working state stays on the purchase (provider, our reference, request
--    and transaction ids, inquiry, amount, counters, deadline); an attempt
--    the purchase moved on from is a row of purchase_attempts.
--    purchase_attempt_list shows every attempt, ended or current.
--  * providers: pause state, in the database so every serve process sees it.
--  * admin_events: who changed which product, offer or provider, before and
--    after.
--  * the state machine gains fail_over (inquiring, paying → received) and
--    late_success (received, inquiring, awaiting_confirmation → needs_review).
--  * a canceled purchase is one whose payment never may have moved money
--    (not payment_uncertain): a purchase that failed over after a refused
--    payment can still be canceled.
--  * an alert is once per kind, purchase and provider (the second
--    provider's alert is not lost).

-- +goose Up

CREATE TABLE offers (
    product_code          text NOT NULL REFERENCES products (code) ON DELETE CASCADE,
    provider              text NOT NULL CHECK (provider ~ '^[a-z][a-z0-9_]{0,31}$'),
    provider_product_code text NOT NULL CHECK (length(provider_product_code) BETWEEN 1 AND 100),
    item_code             text,
    inquiry               text NOT NULL CHECK (inquiry IN ('required', 'optional', 'none')),
    priority              integer NOT NULL DEFAULT 100 CHECK (priority BETWEEN 0 AND 1000000),
    price                 bigint CHECK (price > 0),
    price_fetched_at      timestamptz,
    enabled               boolean NOT NULL DEFAULT true,
    active                boolean NOT NULL DEFAULT true,
    updated_at            timestamptz NOT NULL,
    PRIMARY KEY (product_code, provider),
    CONSTRAINT offer_price_with_time CHECK ((price IS NULL) = (price_fetched_at IS NULL))
);

CREATE INDEX offers_provider_code ON offers (provider, provider_product_code);

INSERT INTO offers (product_code, provider, provider_product_code, item_code, inquiry, priority,
                    price, price_fetched_at, enabled, active, updated_at)
SELECT code, provider, provider_product_code, item_code, inquiry, 100,
       price, price_fetched_at, enabled, true, updated_at
FROM products;

ALTER TABLE products
    DROP CONSTRAINT price_with_time,
    DROP COLUMN provider,
    DROP COLUMN inquiry,
    DROP COLUMN provider_product_code,
    DROP COLUMN item_code,
    DROP COLUMN price,
    DROP COLUMN price_fetched_at,
    DROP COLUMN enabled;

ALTER TABLE purchases
    ADD COLUMN route text[],
    ADD COLUMN attempt integer NOT NULL DEFAULT 1 CHECK (attempt > 0),
    ADD COLUMN attempt_started_at timestamptz,
    ADD COLUMN provider_product_code text;

-- The backfill touches terminal purchases too, which the state machine's
-- trigger refuses to change: it is held for these two statements.
ALTER TABLE purchases DISABLE TRIGGER purchase_transition;
UPDATE purchases p SET route = ARRAY[p.provider], attempt_started_at = p.created_at,
    provider_product_code = o.provider_product_code
FROM offers o WHERE o.product_code = p.product_code AND o.provider = p.provider;
UPDATE purchases SET route = ARRAY[provider], attempt_started_at = created_at,
    provider_product_code = product_code
WHERE route IS NULL;
ALTER TABLE purchases ENABLE TRIGGER purchase_transition;

ALTER TABLE purchases
    ALTER COLUMN route SET NOT NULL,
    ALTER COLUMN attempt_started_at SET NOT NULL,
    ALTER COLUMN provider_product_code SET NOT NULL,
    ADD CONSTRAINT route_holds_provider CHECK (provider = ANY (route)),
    DROP CONSTRAINT canceled_never_paid,
    ADD CONSTRAINT canceled_never_uncertain CHECK (status <> 'canceled' OR NOT payment_uncertain);

-- The attempts a purchase moved on from (failed over), append-only.
CREATE TABLE purchase_attempts (
    purchase_id             uuid NOT NULL REFERENCES purchases (id),
    number                  integer NOT NULL CHECK (number > 0),
    provider                text NOT NULL,
    provider_product_code   text NOT NULL,
    provider_reference      text,
    provider_request_id     text,
    provider_transaction_id text,
    payment_attempts        integer NOT NULL CHECK (payment_attempts >= 0),
    failure_code            text NOT NULL,
    failure_message         text NOT NULL,
    started_at              timestamptz NOT NULL,
    ended_at                timestamptz NOT NULL,
    PRIMARY KEY (purchase_id, number),
    CONSTRAINT purchase_attempts_provider_reference UNIQUE (provider, provider_reference)
);

CREATE INDEX purchase_attempts_ended ON purchase_attempts (ended_at);

CREATE TRIGGER purchase_attempts_append_only BEFORE UPDATE OR DELETE ON purchase_attempts
    FOR EACH ROW EXECUTE FUNCTION reject_audit_change();

-- Every attempt of every purchase: the ended ones, and the current one
-- (ended too when the purchase is).
CREATE VIEW purchase_attempt_list AS
SELECT a.purchase_id, a.number, a.provider, a.provider_product_code, a.provider_reference,
       a.provider_request_id, a.provider_transaction_id, a.started_at, a.ended_at,
       'failed_over'::text AS outcome, a.failure_code, a.failure_message
FROM purchase_attempts a
UNION ALL
SELECT p.id, p.attempt, p.provider, p.provider_product_code, p.provider_reference,
       p.provider_request_id, p.provider_transaction_id, p.attempt_started_at, p.completed_at,
       p.status::text, p.failure_code, p.failure_message
FROM purchases p;

CREATE TABLE providers (
    name       text PRIMARY KEY CHECK (name ~ '^[a-z][a-z0-9_]{0,31}$'),
    paused     boolean NOT NULL DEFAULT false,
    updated_at timestamptz NOT NULL
);

CREATE TABLE admin_events (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    actor      text NOT NULL CHECK (length(actor) BETWEEN 1 AND 100),
    action     text NOT NULL,
    subject    text NOT NULL,
    before     jsonb,
    after      jsonb,
    created_at timestamptz NOT NULL
);

CREATE INDEX admin_events_subject ON admin_events (subject, id);

CREATE TRIGGER admin_events_append_only BEFORE UPDATE OR DELETE ON admin_events
    FOR EACH ROW EXECUTE FUNCTION reject_audit_change();

INSERT INTO purchase_transitions (from_status, to_status) VALUES
    ('inquiring', 'received'), ('paying', 'received'),
    ('received', 'needs_review'), ('inquiring', 'needs_review'), ('awaiting_confirmation', 'needs_review');

DROP INDEX alerts_once_per_purchase;
CREATE UNIQUE INDEX alerts_once_per_purchase ON alerts (kind, purchase_id, (coalesce(provider, '')))
    WHERE purchase_id IS NOT NULL;

-- Reconciliation (docs/routing.md): a purchase that more than one
-- provider reported successful must never exist; each row is a SUCCESS for
-- an attempt the purchase moved on from, heard after the current attempt
-- paid (the late_success_after_failover alert).
CREATE VIEW recon_multiple_successes AS
SELECT p.id AS purchase_id, p.client_id, p.reference_id, p.product_code, p.status,
       p.provider AS current_provider, a.number AS earlier_attempt, a.provider AS earlier_provider,
       a.provider_reference AS earlier_reference, al.created_at AS reported_at
FROM alerts al
JOIN purchases p ON p.id = al.purchase_id
JOIN purchase_attempts a ON a.purchase_id = p.id AND a.provider = al.provider
WHERE al.kind = 'late_success_after_failover';

-- Failovers per Asia/Jakarta day, provider left and reason.
CREATE VIEW recon_failovers AS
SELECT (a.ended_at AT TIME ZONE 'Asia/Jakarta')::date AS day, a.provider, a.failure_code AS reason,
       count(*)::bigint AS failovers
FROM purchase_attempts a
GROUP BY 1, 2, 3;

-- +goose Down

DROP VIEW recon_failovers;
DROP VIEW recon_multiple_successes;

DROP INDEX alerts_once_per_purchase;
DELETE FROM alerts a USING alerts b
WHERE a.purchase_id IS NOT NULL AND a.kind = b.kind AND a.purchase_id = b.purchase_id AND a.id > b.id;
CREATE UNIQUE INDEX alerts_once_per_purchase ON alerts (kind, purchase_id) WHERE purchase_id IS NOT NULL;

DELETE FROM purchase_transitions WHERE (from_status, to_status) IN (
    ('inquiring', 'received'), ('paying', 'received'),
    ('received', 'needs_review'), ('inquiring', 'needs_review'), ('awaiting_confirmation', 'needs_review'));

DROP TABLE admin_events;
DROP TABLE providers;
DROP VIEW purchase_attempt_list;
DROP TABLE purchase_attempts;

ALTER TABLE purchases
    DROP CONSTRAINT canceled_never_uncertain,
    ADD CONSTRAINT canceled_never_paid CHECK (status <> 'canceled' OR payment_attempts = 0),
    DROP CONSTRAINT route_holds_provider,
    DROP COLUMN provider_product_code,
    DROP COLUMN attempt_started_at,
    DROP COLUMN attempt,
    DROP COLUMN route;

ALTER TABLE products
    ADD COLUMN provider text,
    ADD COLUMN inquiry text,
    ADD COLUMN provider_product_code text,
    ADD COLUMN item_code text,
    ADD COLUMN price bigint CHECK (price > 0),
    ADD COLUMN price_fetched_at timestamptz,
    ADD COLUMN enabled boolean NOT NULL DEFAULT true;

-- Each product takes its first offer (priority, then price, then provider).
UPDATE products p SET provider = o.provider, inquiry = o.inquiry,
    provider_product_code = o.provider_product_code, item_code = o.item_code,
    price = o.price, price_fetched_at = o.price_fetched_at, enabled = o.enabled AND o.active
FROM (SELECT DISTINCT ON (product_code) * FROM offers
      ORDER BY product_code, priority, price NULLS LAST, provider) o
WHERE o.product_code = p.code;
-- A product without an offer cannot be put back (before routing, a product
-- was its provider's): the down migration refuses rather than guess.

ALTER TABLE products
    ALTER COLUMN provider SET NOT NULL,
    ALTER COLUMN inquiry SET NOT NULL,
    ALTER COLUMN provider_product_code SET NOT NULL,
    ADD CONSTRAINT price_with_time CHECK ((price IS NULL) = (price_fetched_at IS NULL)),
    ADD CONSTRAINT products_inquiry_check CHECK (inquiry IN ('required', 'optional', 'none')),
    ADD CONSTRAINT products_provider_name CHECK (provider ~ '^[a-z][a-z0-9_]{0,31}$');

DROP TABLE offers;
