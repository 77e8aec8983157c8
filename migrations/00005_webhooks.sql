-- Webhooks to clients (docs/webhooks.md): each client's endpoints with their
-- sealed signing secrets, one message per status change and subscribed
-- endpoint (written in the transaction of the change: a transactional
-- outbox), and every delivery attempt.

-- +goose Up

-- A client's webhook endpoint. Deleting one keeps the row (deleted_at) so
-- its deliveries stay readable until retention removes them; its secrets are
-- erased at once.
CREATE TABLE webhook_endpoints (
    id              uuid PRIMARY KEY,
    client_id       uuid NOT NULL REFERENCES clients (id),
    url             text NOT NULL CHECK (length(url) BETWEEN 1 AND 2000),
    description     text NOT NULL DEFAULT '' CHECK (length(description) <= 500),
    events          text[] NOT NULL CHECK (
        cardinality(events) >= 1 AND events <@ ARRAY[
            'purchase.awaiting_confirmation', 'purchase.processing', 'purchase.succeeded',
            'purchase.failed', 'purchase.canceled', 'purchase.needs_review']::text[]),
    -- Why the endpoint is disabled: the client said so, it answered 410
    -- Gone, or every attempt failed for 5 days in a row.
    disabled_at     timestamptz,
    disabled_reason text CHECK (disabled_reason IN ('client', 'gone', 'failing')),
    -- The first failed attempt since the last delivered one.
    failing_since   timestamptz,
    -- No attempt starts before this (a 429, 502, 503 or 504 slowed it down).
    throttled_until timestamptz,
    -- The latency of the last attempt, to estimate how long a message waits
    -- for a free slot of the endpoint.
    last_latency_ms integer NOT NULL DEFAULT 0 CHECK (last_latency_ms >= 0),
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    deleted_at      timestamptz,
    CONSTRAINT webhook_endpoint_disabled_has_reason CHECK ((disabled_at IS NULL) = (disabled_reason IS NULL))
);

CREATE INDEX webhook_endpoints_client ON webhook_endpoints (client_id, created_at, id) WHERE deleted_at IS NULL;

-- An endpoint's signing secrets, sealed with AES-256-GCM under
-- WEBHOOK_SECRET_KEY (nonce || ciphertext, the endpoint id as additional
-- data). The current one has no superseded_at; a rotated one signs beside it
-- for 24 hours and is then erased.
CREATE TABLE webhook_secrets (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    endpoint_id   uuid NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    sealed        bytea NOT NULL CHECK (length(sealed) BETWEEN 28 AND 200),
    created_at    timestamptz NOT NULL,
    superseded_at timestamptz
);

CREATE UNIQUE INDEX webhook_secrets_current ON webhook_secrets (endpoint_id) WHERE superseded_at IS NULL;
CREATE INDEX webhook_secrets_endpoint ON webhook_secrets (endpoint_id, id);

CREATE TYPE webhook_message_status AS ENUM ('pending', 'delivered', 'failed', 'canceled');

-- One message per status change of a purchase and subscribed endpoint (its
-- webhook-id is msg_ + id), with the exact body every attempt sends, and
-- its delivery: pending until an attempt is answered 2xx (delivered), the
-- retry schedule runs out (failed) or the endpoint goes away (canceled).
CREATE TABLE webhook_messages (
    id              uuid PRIMARY KEY,
    endpoint_id     uuid NOT NULL REFERENCES webhook_endpoints (id),
    client_id       uuid NOT NULL REFERENCES clients (id),
    purchase_id     uuid NOT NULL REFERENCES purchases (id),
    event_type      text NOT NULL,
    seq             integer NOT NULL CHECK (seq > 0),
    body            bytea NOT NULL CHECK (length(body) <= 20000),
    status          webhook_message_status NOT NULL DEFAULT 'pending',
    -- attempts counts every attempt; round_attempts those since the message
    -- was last queued (created, retried or recovered): its place in the
    -- retry schedule.
    attempts        integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    round_attempts  integer NOT NULL DEFAULT 0 CHECK (round_attempts >= 0),
    next_attempt_at timestamptz,
    -- An attempt in flight holds a lease; the endpoint's leases bound its
    -- attempts in flight. A lease outlives a killed process by at most
    -- lease_until.
    lease_id        uuid,
    lease_until     timestamptz,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    finished_at     timestamptz,
    CONSTRAINT webhook_messages_once UNIQUE (endpoint_id, purchase_id, seq),
    CONSTRAINT webhook_message_pending_is_scheduled CHECK ((status = 'pending') = (next_attempt_at IS NOT NULL)),
    CONSTRAINT webhook_message_finished CHECK ((status = 'pending') = (finished_at IS NULL)),
    CONSTRAINT webhook_message_lease CHECK ((lease_id IS NULL) = (lease_until IS NULL))
);

CREATE INDEX webhook_messages_client_created ON webhook_messages (client_id, created_at DESC, id DESC);
CREATE INDEX webhook_messages_purchase ON webhook_messages (purchase_id);
CREATE INDEX webhook_messages_due ON webhook_messages (endpoint_id, next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_messages_leased ON webhook_messages (endpoint_id) WHERE lease_id IS NOT NULL;
CREATE INDEX webhook_messages_pending_created ON webhook_messages (created_at) WHERE status = 'pending';
CREATE INDEX webhook_messages_finished ON webhook_messages (finished_at) WHERE status <> 'pending';
CREATE INDEX webhook_messages_failed ON webhook_messages (endpoint_id, finished_at) WHERE status = 'failed';

-- Every attempt: when, the HTTP status or the error, the latency and the
-- start of the answer (sanitized). Never a secret or a signature.
CREATE TABLE webhook_attempts (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    message_id    uuid NOT NULL REFERENCES webhook_messages (id) ON DELETE CASCADE,
    endpoint_id   uuid NOT NULL REFERENCES webhook_endpoints (id),
    http_status   integer CHECK (http_status BETWEEN 100 AND 599),
    error         text NOT NULL DEFAULT '' CHECK (length(error) <= 1000),
    latency_ms    integer NOT NULL CHECK (latency_ms >= 0),
    response_body text NOT NULL DEFAULT '' CHECK (length(response_body) <= 4096),
    attempted_at  timestamptz NOT NULL,
    CONSTRAINT webhook_attempt_answered_or_error CHECK (http_status IS NOT NULL OR error <> '')
);

CREATE INDEX webhook_attempts_message ON webhook_attempts (message_id, id);

-- Deliveries that ran out of retries: the client was never told. One row per
-- message, with the purchase's reference and the last attempt's answer.
CREATE VIEW recon_webhook_failures AS
SELECT m.id AS message_id, m.endpoint_id, m.client_id, m.purchase_id, p.reference_id,
       m.event_type, m.seq, m.attempts, m.created_at, m.finished_at AS failed_at,
       a.http_status AS last_http_status, coalesce(a.error, '') AS last_error
FROM webhook_messages m
JOIN purchases p ON p.id = m.purchase_id
LEFT JOIN LATERAL (
    SELECT x.http_status, x.error FROM webhook_attempts x
    WHERE x.message_id = m.id ORDER BY x.id DESC LIMIT 1
) a ON true
WHERE m.status = 'failed';

COMMENT ON VIEW recon_webhook_failures IS 'Webhook deliveries that ran out of retries (status failed), with the last attempt''s answer';

-- +goose Down

DROP VIEW recon_webhook_failures;
DROP TABLE webhook_attempts;
DROP TABLE webhook_messages;
DROP TYPE webhook_message_status;
DROP TABLE webhook_secrets;
DROP TABLE webhook_endpoints;
