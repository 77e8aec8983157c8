-- The operator console's reads of webhooks and of operators' actions
-- (docs/console.md: the Webhooks, Providers and Purchase pages). Unlike the
-- client API's queries (webhooks.sql), these read across clients: operators
-- see every client's deliveries. None reads a secret: the webhook_secrets
-- table is never joined, and a message's body is never read.

-- name: WebhookMessageListFailed :many
-- Deliveries that ran out of retries, across clients (or of one client),
-- newest failure first, keyset-paginated on (finished_at, id)
-- (webhook_messages_failed_newest), with the purchase, the endpoint and the
-- last attempt's answer.
SELECT m.id, m.endpoint_id, m.client_id, m.purchase_id, m.event_type, m.seq, m.attempts,
       m.created_at, m.finished_at::timestamptz AS finished_at,
       e.url AS endpoint_url, e.disabled_reason AS endpoint_disabled_reason,
       e.deleted_at AS endpoint_deleted_at, c.name AS client_name, p.reference_id,
       a.http_status AS last_http_status, coalesce(a.error, '')::text AS last_error,
       coalesce(a.attempted_at, m.finished_at)::timestamptz AS last_attempted_at
FROM webhook_messages m
JOIN webhook_endpoints e ON e.id = m.endpoint_id
JOIN clients c ON c.id = m.client_id
JOIN purchases p ON p.id = m.purchase_id
LEFT JOIN LATERAL (
    SELECT x.http_status, x.error, x.attempted_at FROM webhook_attempts x
    WHERE x.message_id = m.id ORDER BY x.id DESC LIMIT 1
) a ON true
WHERE m.status = 'failed'
  AND (m.finished_at, m.id) < (@before_finished_at::timestamptz, @before_id::uuid)
  AND (sqlc.narg('client_id')::uuid IS NULL OR m.client_id = sqlc.narg('client_id'))
ORDER BY m.finished_at DESC, m.id DESC
LIMIT @row_limit;

-- name: WebhookMessageListForPurchase :many
-- A purchase's deliveries (webhook_messages_purchase), in the order of the
-- status changes that made them, with their endpoints.
SELECT m.id, m.endpoint_id, m.client_id, m.event_type, m.seq, m.status, m.attempts,
       m.next_attempt_at, m.created_at, m.finished_at,
       e.url AS endpoint_url, e.deleted_at AS endpoint_deleted_at
FROM webhook_messages m
JOIN webhook_endpoints e ON e.id = m.endpoint_id
WHERE m.purchase_id = @purchase_id
ORDER BY m.seq, m.created_at, m.id;

-- name: WebhookMessageListForEndpoint :many
-- An endpoint's deliveries, newest first, keyset-paginated on
-- (created_at, id). An endpoint belongs to one client, so the scan is of
-- its client's messages (webhook_messages_client_created).
SELECT m.id, m.purchase_id, m.event_type, m.seq, m.status, m.attempts, m.next_attempt_at,
       m.created_at, m.finished_at, p.reference_id
FROM webhook_messages m
JOIN purchases p ON p.id = m.purchase_id
WHERE m.client_id = @client_id AND m.endpoint_id = @endpoint_id
  AND (m.created_at, m.id) < (@before_created_at::timestamptz, @before_id::uuid)
ORDER BY m.created_at DESC, m.id DESC
LIMIT @row_limit;

-- name: WebhookMessageGetAny :one
-- One message of any client: where it stands, and whose it is.
SELECT id, endpoint_id, client_id, purchase_id, event_type, seq, status, attempts
FROM webhook_messages WHERE id = @id;

-- name: WebhookEndpointGetWithClient :one
-- One endpoint of any client (deleted ones too: their deliveries stay
-- readable), with its client's name.
SELECT e.id, e.client_id, e.url, e.description, e.events, e.disabled_at, e.disabled_reason,
       e.failing_since, e.throttled_until, e.created_at, e.deleted_at, c.name AS client_name
FROM webhook_endpoints e
JOIN clients c ON c.id = e.client_id
WHERE e.id = @id;

-- name: WebhookEndpointListForConsole :many
-- Endpoints that need an operator's eye — disabled, or failing since some
-- time — across clients; or every endpoint of one client when client_id
-- is given. Never deleted ones.
SELECT e.id, e.client_id, e.url, e.description, e.disabled_at, e.disabled_reason, e.failing_since,
       e.throttled_until, e.created_at, c.name AS client_name,
       (SELECT count(*) FROM webhook_messages f WHERE f.endpoint_id = e.id AND f.status = 'failed')::bigint AS failed
FROM webhook_endpoints e
JOIN clients c ON c.id = e.client_id
WHERE e.deleted_at IS NULL
  AND CASE WHEN sqlc.narg('client_id')::uuid IS NULL
           THEN e.disabled_at IS NOT NULL OR e.failing_since IS NOT NULL
           ELSE e.client_id = sqlc.narg('client_id') END
ORDER BY c.name, e.created_at, e.id
LIMIT @row_limit;

-- name: AdminEventListForSubjects :many
-- Operators' actions on any of the subjects, oldest first
-- (admin_events_subject).
SELECT * FROM admin_events WHERE subject = ANY(@subjects::text[]) ORDER BY id;

-- name: AdminEventListByAction :many
-- Operators' recent actions of the given kinds, newest first
-- (admin_events_action).
SELECT * FROM admin_events
WHERE action = ANY(@actions::text[]) AND created_at >= @since
ORDER BY id DESC
LIMIT @row_limit;
