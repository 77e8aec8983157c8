-- Webhooks (migrations/00005_webhooks.sql, docs/webhooks.md).

-- name: WebhookEndpointClientLock :exec
-- Serializes the endpoint changes of one client for the rest of the
-- transaction (the limit of endpoints per client).
SELECT pg_advisory_xact_lock(hashtextextended('webhook_endpoints/' || sqlc.arg(client_id)::text, 0));

-- name: WebhookEndpointCountForClient :one
SELECT count(*) FROM webhook_endpoints WHERE client_id = @client_id AND deleted_at IS NULL;

-- name: WebhookEndpointInsert :one
INSERT INTO webhook_endpoints (id, client_id, url, description, events, created_at, updated_at)
VALUES (@id, @client_id, @url, @description, @events, @now, @now)
RETURNING *;

-- name: WebhookEndpointGetForClient :one
SELECT * FROM webhook_endpoints WHERE id = @id AND client_id = @client_id AND deleted_at IS NULL;

-- name: WebhookEndpointLockForClient :one
SELECT * FROM webhook_endpoints WHERE id = @id AND client_id = @client_id AND deleted_at IS NULL
FOR NO KEY UPDATE;

-- name: WebhookEndpointListForClient :many
SELECT * FROM webhook_endpoints WHERE client_id = @client_id AND deleted_at IS NULL
ORDER BY created_at, id;

-- name: WebhookEndpointUpdate :one
UPDATE webhook_endpoints
SET url = @url, description = @description, events = @events,
    disabled_at = @disabled_at, disabled_reason = @disabled_reason,
    failing_since = @failing_since, updated_at = @now
WHERE id = @id
RETURNING *;

-- name: WebhookEndpointDelete :exec
UPDATE webhook_endpoints SET deleted_at = @now, updated_at = @now WHERE id = @id;

-- name: WebhookEndpointRecordAttempt :one
-- What an attempt taught about its endpoint; the caller holds its row lock.
UPDATE webhook_endpoints
SET failing_since = @failing_since, throttled_until = @throttled_until,
    last_latency_ms = @last_latency_ms,
    disabled_at = coalesce(disabled_at, @disabled_at), disabled_reason = coalesce(disabled_reason, @disabled_reason),
    updated_at = @now
WHERE id = @id
RETURNING *;

-- name: WebhookSecretInsert :exec
INSERT INTO webhook_secrets (endpoint_id, sealed, created_at) VALUES (@endpoint_id, @sealed, @now);

-- name: WebhookSecretSupersede :exec
UPDATE webhook_secrets SET superseded_at = @now WHERE endpoint_id = @endpoint_id AND superseded_at IS NULL;

-- name: WebhookSecretPrune :exec
-- Erases an endpoint's secrets superseded before cutoff, and all but the
-- newest three.
DELETE FROM webhook_secrets s
WHERE s.endpoint_id = @endpoint_id
  AND (s.superseded_at < @cutoff
       OR s.id NOT IN (SELECT x.id FROM webhook_secrets x WHERE x.endpoint_id = @endpoint_id ORDER BY x.id DESC LIMIT 3));

-- name: WebhookSecretDeleteForEndpoint :exec
DELETE FROM webhook_secrets WHERE endpoint_id = @endpoint_id;

-- name: WebhookSecretListSigning :many
-- The secrets a message is signed with: the current one and those
-- superseded after cutoff, newest first, at most three.
SELECT * FROM webhook_secrets
WHERE endpoint_id = @endpoint_id AND (superseded_at IS NULL OR superseded_at > @cutoff)
ORDER BY id DESC
LIMIT 3;

-- name: WebhookSecretPruneExpired :execrows
DELETE FROM webhook_secrets WHERE superseded_at < @cutoff;

-- name: WebhookMessageInsertForChange :many
-- The outbox: one message per enabled endpoint of an enabled client that is
-- subscribed to the event type, in the transaction of the status change.
INSERT INTO webhook_messages (id, endpoint_id, client_id, purchase_id, event_type, seq, body,
                              next_attempt_at, created_at, updated_at)
SELECT gen_random_uuid(), e.id, e.client_id, @purchase_id, @event_type, @seq, @body, @now, @now, @now
FROM webhook_endpoints e
JOIN clients c ON c.id = e.client_id
WHERE e.client_id = @client_id AND e.deleted_at IS NULL AND e.disabled_at IS NULL
  AND c.disabled_at IS NULL AND @event_type::text = ANY (e.events)
ON CONFLICT (endpoint_id, purchase_id, seq) DO NOTHING
RETURNING id;

-- name: WebhookSendStateLock :one
-- A message and its endpoint, the endpoint's row locked: attempts to one
-- endpoint take their slots one after the other.
SELECT sqlc.embed(m), sqlc.embed(e)
FROM webhook_messages m
JOIN webhook_endpoints e ON e.id = m.endpoint_id
WHERE m.id = @id
FOR NO KEY UPDATE OF e;

-- name: WebhookEndpointLoad :one
-- An endpoint's attempts in flight and its messages due now.
SELECT
    (SELECT count(*) FROM webhook_messages l WHERE l.endpoint_id = @endpoint_id AND l.lease_until > @now)::bigint AS in_flight,
    (SELECT count(*) FROM webhook_messages d WHERE d.endpoint_id = @endpoint_id AND d.status = 'pending' AND d.next_attempt_at <= @now)::bigint AS due;

-- name: WebhookMessageLease :execrows
UPDATE webhook_messages SET lease_id = @lease_id, lease_until = @lease_until
WHERE id = @id AND status = 'pending' AND (lease_id IS NULL OR lease_until <= @now);

-- name: WebhookMessageReleaseLease :exec
UPDATE webhook_messages SET lease_id = NULL, lease_until = NULL WHERE id = @id AND lease_id = @lease_id;

-- name: WebhookMessageRecord :one
-- Records an attempt's end on a pending message whose lease the caller holds.
UPDATE webhook_messages
SET status = @status, attempts = attempts + 1, round_attempts = round_attempts + 1,
    next_attempt_at = @next_attempt_at, finished_at = @finished_at,
    lease_id = NULL, lease_until = NULL, updated_at = @now
WHERE id = @id AND lease_id = @lease_id AND status = 'pending'
RETURNING *;

-- name: WebhookMessageCancel :execrows
UPDATE webhook_messages
SET status = 'canceled', next_attempt_at = NULL, finished_at = @now, updated_at = @now
WHERE id = @id AND status = 'pending';

-- name: WebhookMessageCancelForEndpoint :execrows
UPDATE webhook_messages
SET status = 'canceled', next_attempt_at = NULL, finished_at = @now, updated_at = @now
WHERE endpoint_id = @endpoint_id AND status = 'pending';

-- name: WebhookAttemptInsert :exec
INSERT INTO webhook_attempts (message_id, endpoint_id, http_status, error, latency_ms, response_body, attempted_at)
VALUES (@message_id, @endpoint_id, @http_status, @error, @latency_ms, @response_body, @attempted_at);

-- name: WebhookMessageListForClient :many
-- A client's deliveries, newest first, keyset-paginated on (created_at, id).
SELECT id, endpoint_id, client_id, purchase_id, event_type, seq, status, attempts, round_attempts,
       next_attempt_at, created_at, updated_at, finished_at
FROM webhook_messages
WHERE client_id = @client_id
  AND (sqlc.narg(endpoint_id)::uuid IS NULL OR endpoint_id = sqlc.narg(endpoint_id))
  AND (sqlc.narg(status)::webhook_message_status IS NULL OR status = sqlc.narg(status))
  AND (sqlc.narg(purchase_id)::uuid IS NULL OR purchase_id = sqlc.narg(purchase_id))
  AND (sqlc.narg(cursor_created_at)::timestamptz IS NULL
       OR (created_at, id) < (sqlc.narg(cursor_created_at), sqlc.narg(cursor_id)::uuid))
ORDER BY created_at DESC, id DESC
LIMIT @row_limit;

-- name: WebhookMessageGetForClient :one
SELECT id, endpoint_id, client_id, purchase_id, event_type, seq, status, attempts, round_attempts,
       next_attempt_at, created_at, updated_at, finished_at
FROM webhook_messages
WHERE id = @id AND client_id = @client_id;

-- name: WebhookAttemptListForMessages :many
SELECT * FROM webhook_attempts WHERE message_id = ANY (@message_ids::uuid[]) ORDER BY message_id, id;

-- name: WebhookMessageRequeue :execrows
-- Queues a delivered or failed message again (a manual retry): a new round
-- of the retry schedule, starting now.
UPDATE webhook_messages
SET status = 'pending', round_attempts = 0, next_attempt_at = @now, finished_at = NULL, updated_at = @now
WHERE id = @id AND client_id = @client_id AND status IN ('delivered', 'failed');

-- name: WebhookMessageRecover :many
-- Queues again every message of an endpoint that failed since then.
UPDATE webhook_messages
SET status = 'pending', round_attempts = 0, next_attempt_at = @now, finished_at = NULL, updated_at = @now
WHERE endpoint_id = @endpoint_id AND status = 'failed' AND finished_at >= @since
RETURNING id;

-- name: WebhookMessageDeleteExpired :execrows
-- Removes up to row_limit finished messages (and their attempts) that ended
-- before cutoff.
DELETE FROM webhook_messages
WHERE id IN (SELECT x.id FROM webhook_messages x
             WHERE x.status <> 'pending' AND x.finished_at < @cutoff
             LIMIT @row_limit);

-- name: WebhookEndpointDeleteExpired :execrows
-- Removes endpoints deleted before cutoff that no message refers to any more.
DELETE FROM webhook_endpoints e
WHERE e.deleted_at < @cutoff
  AND NOT EXISTS (SELECT 1 FROM webhook_messages m WHERE m.endpoint_id = e.id)
  AND NOT EXISTS (SELECT 1 FROM webhook_attempts a WHERE a.endpoint_id = e.id);

-- name: WebhookMessageOrphans :many
-- Pending messages due before cutoff that no live River job delivers (a job
-- lost or discarded): the cleanup queues them again. river_job_webhook_waiting
-- (migrations/00013_storage.sql) finds a message's job.
SELECT m.id FROM webhook_messages m
WHERE m.status = 'pending' AND m.next_attempt_at < @cutoff
  AND NOT EXISTS (
      SELECT 1 FROM river_job j
      WHERE j.kind = 'webhook_deliver'
        AND j.state IN ('available', 'pending', 'retryable', 'scheduled', 'running')
        AND j.args ->> 'message_id' = m.id::text)
ORDER BY m.next_attempt_at
LIMIT @row_limit;

-- name: WebhookMessageOldestPendingAge :one
-- How long ago the oldest pending message was created, in seconds (0: none).
SELECT coalesce(extract(epoch FROM sqlc.arg(now)::timestamptz - min(created_at)), 0)::float8 AS age_seconds
FROM webhook_messages WHERE status = 'pending';

-- name: WebhookEndpointLock :one
SELECT * FROM webhook_endpoints WHERE id = @id FOR NO KEY UPDATE;

-- name: WebhookMessageListAll :many
-- Every message, without its body (the chaos run's checks).
SELECT id, endpoint_id, client_id, purchase_id, event_type, seq, status, attempts
FROM webhook_messages ORDER BY created_at, id;
