-- What the purchase's pure core (internal/flow/decide*.go) needs of the
-- schema:
--  * retry_since: when the purchase's current step started failing to
--    proceed (an inquiry without an answer or refused, a stale price under
--    max_price). The step retries for a window of time from then
--    (INQUIRY_RETRY_WINDOW, PRICE_REFRESH_WINDOW), not for a count that a
--    crash would also spend; a new status starts afresh.
--  * providers are data: the flow reads each provider's policy and never
--    names one, so adding an aggregator must not need a migration. The
--    CHECKs listing klikoo and snapcart go.
--  * callbacks.action gains 'held' (a signed FAILED received during the
--    payment call, applied once the call's answer is known); the column has
--    no CHECK, the index below finds them.

-- +goose Up

ALTER TABLE purchases ADD COLUMN retry_since timestamptz;

ALTER TABLE products DROP CONSTRAINT products_provider_check,
    ADD CONSTRAINT products_provider_name CHECK (provider ~ '^[a-z][a-z0-9_]{0,31}$');
ALTER TABLE purchases DROP CONSTRAINT purchases_provider_check,
    ADD CONSTRAINT purchases_provider_name CHECK (provider ~ '^[a-z][a-z0-9_]{0,31}$');
ALTER TABLE callbacks DROP CONSTRAINT callbacks_provider_check,
    ADD CONSTRAINT callbacks_provider_name CHECK (provider ~ '^[a-z][a-z0-9_]{0,31}$');

CREATE INDEX callbacks_held ON callbacks (purchase_id) WHERE action = 'held';

-- +goose Down

DROP INDEX callbacks_held;
ALTER TABLE callbacks DROP CONSTRAINT callbacks_provider_name,
    ADD CONSTRAINT callbacks_provider_check CHECK (provider IN ('klikoo', 'snapcart'));
ALTER TABLE purchases DROP CONSTRAINT purchases_provider_name,
    ADD CONSTRAINT purchases_provider_check CHECK (provider IN ('klikoo', 'snapcart'));
ALTER TABLE products DROP CONSTRAINT products_provider_name,
    ADD CONSTRAINT products_provider_check CHECK (provider IN ('klikoo', 'snapcart'));
ALTER TABLE purchases DROP COLUMN retry_since;
