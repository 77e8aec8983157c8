-- The operator console (docs/console.md): server-side sessions, the audit of
-- sign-ins, and the indexes its searches and lists need on a big table.

-- +goose Up

-- A signed-in operator. The session id lives only in the browser's cookie;
-- the database keeps its SHA-256, so a copy of this table opens nothing.
-- credential is a digest of the credential the operator signed in with (its
-- CONSOLE_OPERATORS hash, or ADMIN_TOKEN's digest): when the configuration
-- no longer holds it, the session ends.
CREATE TABLE console_sessions (
    id_hash      bytea PRIMARY KEY CHECK (length(id_hash) = 32),
    operator     text NOT NULL CHECK (length(operator) BETWEEN 1 AND 64),
    credential   bytea NOT NULL CHECK (length(credential) = 32),
    remote_addr  text NOT NULL,
    created_at   timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    CONSTRAINT console_session_times CHECK (created_at <= last_seen_at AND created_at < expires_at)
);

CREATE INDEX console_sessions_expires ON console_sessions (expires_at);

-- Every sign-in, failed sign-in and sign-out: who (the name as typed, never
-- a token), from where, and why it failed. Append-only, like the other
-- audit tables.
CREATE TABLE console_signins (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    operator    text NOT NULL CHECK (length(operator) <= 64),
    remote_addr text NOT NULL,
    outcome     text NOT NULL CHECK (outcome IN ('signed_in', 'failed', 'rate_limited', 'signed_out')),
    reason      text NOT NULL,
    created_at  timestamptz NOT NULL
);

CREATE INDEX console_signins_created ON console_signins (created_at);

CREATE TRIGGER console_signins_append_only BEFORE UPDATE OR DELETE ON console_signins
    FOR EACH ROW EXECUTE FUNCTION reject_audit_change();

-- The console's purchase search: one index per field an operator can paste
-- (the purchase id is the primary key). Fields that stay NULL until a
-- payment or a success are indexed only where set.
CREATE INDEX purchases_reference_id ON purchases (reference_id);
CREATE INDEX purchases_customer_number ON purchases (customer_number) WHERE customer_number IS NOT NULL;
CREATE INDEX purchases_provider_reference_any ON purchases (provider_reference) WHERE provider_reference IS NOT NULL;
CREATE INDEX purchases_provider_transaction ON purchases (provider_transaction_id) WHERE provider_transaction_id IS NOT NULL;
CREATE INDEX purchases_serial_number ON purchases ((result ->> 'serial_number')) WHERE (result ->> 'serial_number') IS NOT NULL;
CREATE INDEX purchases_token ON purchases ((result ->> 'token')) WHERE (result ->> 'token') IS NOT NULL;
-- Every purchase, newest first (the list, the overview's today and last hour).
CREATE INDEX purchases_created ON purchases (created_at DESC, id DESC);
-- The alerts of the last 24 hours.
CREATE INDEX alerts_created ON alerts (created_at);

-- +goose Down

DROP INDEX alerts_created;
DROP INDEX purchases_created;
DROP INDEX purchases_token;
DROP INDEX purchases_serial_number;
DROP INDEX purchases_provider_transaction;
DROP INDEX purchases_provider_reference_any;
DROP INDEX purchases_customer_number;
DROP INDEX purchases_reference_id;
DROP TABLE console_signins;
DROP TABLE console_sessions;
