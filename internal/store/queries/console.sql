-- The operator console's reads and its sessions (docs/console.md). Every
-- search and list here is served by an index of
-- migrations/00007_console.sql; internal/console/bigtable_test.go holds them
-- to it with EXPLAIN on a big table.

-- name: ConsoleSessionInsert :exec
INSERT INTO console_sessions (id_hash, operator, credential, remote_addr, created_at, last_seen_at, expires_at)
VALUES (@id_hash, @operator, @credential, @remote_addr, @created_at, @created_at, @expires_at);

-- name: ConsoleSessionGet :one
SELECT * FROM console_sessions WHERE id_hash = @id_hash;

-- name: ConsoleSessionTouch :exec
UPDATE console_sessions SET last_seen_at = @last_seen_at WHERE id_hash = @id_hash;

-- name: ConsoleSessionDelete :exec
DELETE FROM console_sessions WHERE id_hash = @id_hash;

-- name: ConsoleSessionDeleteStale :execrows
-- Ends every session past its absolute expiry or idle too long.
DELETE FROM console_sessions WHERE expires_at <= @now OR last_seen_at <= @idle_before;

-- name: ConsoleSigninInsert :exec
INSERT INTO console_signins (operator, remote_addr, outcome, reason, created_at)
VALUES (@operator, @remote_addr, @outcome, @reason, @created_at);

-- name: ConsoleSigninListRecent :many
SELECT * FROM console_signins WHERE created_at >= @since ORDER BY id DESC LIMIT @row_limit;

-- name: ClientList :many
SELECT id, name FROM clients ORDER BY name, id;

-- name: PurchaseSearchMatches :many
-- The purchases one pasted term names, and by which field: its
-- reference_id, our purchase id, its customer number (normalized as
-- stored), our provider reference, the provider's transaction id, its
-- serial number or its token; the references and transaction ids of the
-- attempts it moved on from too (migrations/00010_console_routing.sql);
-- and the webhook-id (msg_…) of one of its webhook deliveries.
-- Each branch is one index scan, or a few: a reference_id is looked up
-- under each client in purchases_client_reference, a provider reference
-- under each provider in purchases_provider_reference (the providers found
-- by skipping through that index, one probe each), so neither needs an
-- index of its own (migrations/00013_storage.sql).
WITH RECURSIVE providers AS (
    (SELECT provider FROM purchases ORDER BY provider LIMIT 1)
    UNION ALL
    SELECT (SELECT p.provider FROM purchases p WHERE p.provider > providers.provider ORDER BY p.provider LIMIT 1)
    FROM providers WHERE providers.provider IS NOT NULL
)
SELECT m.id, m.field FROM (
    SELECT id, 'reference_id'::text AS field FROM purchases
    WHERE client_id IN (SELECT c.id FROM clients c) AND reference_id = @term::text
    UNION ALL
    SELECT id, 'purchase_id'::text FROM purchases WHERE id = sqlc.narg('id')::uuid
    UNION ALL
    SELECT id, 'customer_number'::text FROM purchases WHERE customer_number = @customer_number::text
    UNION ALL
    SELECT id, 'provider_reference'::text FROM purchases
    WHERE provider IN (SELECT pr.provider FROM providers pr WHERE pr.provider IS NOT NULL) AND provider_reference = @term::text
    UNION ALL
    SELECT id, 'provider_transaction_id'::text FROM purchases WHERE provider_transaction_id = @term::text
    UNION ALL
    SELECT purchase_id, 'provider_reference of an ended attempt'::text FROM purchase_attempts WHERE provider_reference = @term::text
    UNION ALL
    SELECT purchase_id, 'provider_transaction_id of an ended attempt'::text FROM purchase_attempts WHERE provider_transaction_id = @term::text
    UNION ALL
    SELECT purchase_id, 'webhook_id'::text FROM webhook_messages WHERE id = sqlc.narg('message_id')::uuid
    UNION ALL
    SELECT id, 'serial_number'::text FROM purchases WHERE result ->> 'serial_number' = @term::text
    UNION ALL
    SELECT id, 'token'::text FROM purchases WHERE result ->> 'token' = @term::text
) m
LIMIT @row_limit;

-- name: PurchaseListNewest :many
-- Every purchase, newest first, with optional filters. The keyset bound
-- (before_created_at, before_id) is always set — the end of the date
-- range, or the last row of the previous page — so the scan of
-- purchases_created starts right there.
SELECT p.id, p.reference_id, p.status, p.product_code, p.provider, p.customer_number, p.user_id,
       p.amount, p.price, p.selling_price, p.created_at, p.updated_at, c.name AS client_name
FROM purchases p
JOIN clients c ON c.id = p.client_id
WHERE (p.created_at, p.id) < (@before_created_at::timestamptz, @before_id::uuid)
  AND p.created_at >= @after::timestamptz
  AND (sqlc.narg('status')::purchase_status IS NULL OR p.status = sqlc.narg('status'))
  AND (sqlc.narg('provider')::text IS NULL OR p.provider = sqlc.narg('provider'))
  AND (sqlc.narg('product_code')::text IS NULL OR p.product_code = sqlc.narg('product_code'))
  AND (sqlc.narg('client_id')::uuid IS NULL OR p.client_id = sqlc.narg('client_id'))
ORDER BY p.created_at DESC, p.id DESC
LIMIT @row_limit;

-- name: PurchaseListByIDs :many
-- PurchaseListNewest over the purchases a search matched.
SELECT p.id, p.reference_id, p.status, p.product_code, p.provider, p.customer_number, p.user_id,
       p.amount, p.price, p.selling_price, p.created_at, p.updated_at, c.name AS client_name
FROM purchases p
JOIN clients c ON c.id = p.client_id
WHERE p.id = ANY(@ids::uuid[])
  AND (p.created_at, p.id) < (@before_created_at::timestamptz, @before_id::uuid)
  AND p.created_at >= @after::timestamptz
  AND (sqlc.narg('status')::purchase_status IS NULL OR p.status = sqlc.narg('status'))
  AND (sqlc.narg('provider')::text IS NULL OR p.provider = sqlc.narg('provider'))
  AND (sqlc.narg('product_code')::text IS NULL OR p.product_code = sqlc.narg('product_code'))
  AND (sqlc.narg('client_id')::uuid IS NULL OR p.client_id = sqlc.narg('client_id'))
ORDER BY p.created_at DESC, p.id DESC
LIMIT @row_limit;

-- name: PurchaseGetWithClient :one
SELECT sqlc.embed(p), c.name AS client_name
FROM purchases p
JOIN clients c ON c.id = p.client_id
WHERE p.id = @id;

-- name: PurchaseCountByStatusSince :many
-- Purchases created since a moment (the start of today in Asia/Jakarta), by status.
SELECT status, count(*)::bigint AS count
FROM purchases WHERE created_at >= @since
GROUP BY status ORDER BY status;

-- name: PurchasePerMinuteSince :many
-- Purchases created per minute since a moment (the overview's chart).
SELECT date_trunc('minute', created_at)::timestamptz AS minute, count(*)::bigint AS count
FROM purchases WHERE created_at >= @since
GROUP BY 1 ORDER BY 1;

-- name: PurchaseAttentionCounts :one
-- How many purchases wait in needs_review, and how many are stuck
-- (recon_stuck, measured against now()).
SELECT (SELECT count(*) FROM purchases WHERE status = 'needs_review')::bigint AS needs_review,
       (SELECT count(*) FROM recon_stuck)::bigint AS stuck;

-- name: PurchaseReviewQueue :many
-- The needs_review queue, longest waiting first (recon_needs_review).
SELECT r.purchase_id, r.reference_id, r.provider, r.product_code, r.amount, r.provider_reference,
       r.provider_transaction_id, r.payment_attempts, r.lookups, r.created_at,
       r.review_since::timestamptz AS review_since, p.family, p.customer_number, p.user_id,
       c.name AS client_name
FROM recon_needs_review r
JOIN purchases p ON p.id = r.purchase_id
JOIN clients c ON c.id = r.client_id
ORDER BY r.review_since, r.purchase_id
LIMIT @row_limit;

-- name: ProviderCallLastAnswers :many
-- The last per_purchase provider calls of each of the given purchases,
-- newest first.
SELECT x.purchase_id::uuid AS purchase_id, x.id, x.operation, x.http_status, x.code, x.message, x.outcome, x.created_at
FROM (
    SELECT c.purchase_id, c.id, c.operation, c.http_status, c.code, c.message, c.outcome, c.created_at,
           row_number() OVER (PARTITION BY c.purchase_id ORDER BY c.id DESC) AS n
    FROM provider_calls c
    WHERE c.purchase_id = ANY(@ids::uuid[])
      AND c.created_at >= (SELECT min(p.created_at) - interval '1 day' FROM purchases p WHERE p.id = ANY(@ids::uuid[]))
) x
WHERE x.n <= @per_purchase::bigint
ORDER BY x.purchase_id, x.id DESC;

-- name: EventTimeline :many
-- A purchase's audit timeline in order, each provider call and callback
-- with what was exchanged (stored redacted: no secret is ever stored).
-- A purchase's events, calls and callbacks are all its own and never older
-- than the purchase (a day of margin for clocks; audit_since as in
-- EventInsert): each of the three is read in the months since the purchase
-- only, once, and the calls and callbacks are joined to their events by id.
SELECT e.id, e.seq, e.kind, e.name, e.from_status, e.to_status, e.actor, e.data, e.created_at,
       c.operation AS call_operation, c.reference AS call_reference, c.http_status AS call_http_status,
       c.code AS call_code, c.message AS call_message, c.outcome AS call_outcome,
       c.latency_ms AS call_latency_ms, c.request AS call_request, c.response AS call_response,
       c.error AS call_error,
       cb.authenticated AS callback_authenticated, cb.action AS callback_action,
       cb.outcome AS callback_outcome, cb.body AS callback_body
FROM purchase_events e
LEFT JOIN provider_calls c ON c.id = e.provider_call_id AND c.purchase_id = @purchase_id::uuid
    AND c.created_at >= sqlc.arg(audit_since)::timestamptz
LEFT JOIN callbacks cb ON cb.id = e.callback_id AND cb.purchase_id = @purchase_id
    AND cb.received_at >= sqlc.arg(audit_since)::timestamptz
WHERE e.purchase_id = @purchase_id
  AND e.created_at >= sqlc.arg(audit_since)::timestamptz
ORDER BY e.seq;

-- name: AlertListRecent :many
-- Alerts since a moment, newest first, with the purchase they concern;
-- provider narrows them to one provider's.
SELECT a.id, a.kind, a.provider, a.purchase_id, a.message, a.created_at, p.reference_id
FROM alerts a
LEFT JOIN purchases p ON p.id = a.purchase_id
WHERE a.created_at >= @since
  AND (sqlc.narg('provider')::text IS NULL OR a.provider = sqlc.narg('provider') OR p.provider = sqlc.narg('provider'))
ORDER BY a.created_at DESC, a.id DESC
LIMIT @row_limit;
