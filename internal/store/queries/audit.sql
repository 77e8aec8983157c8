-- name: EventInsert :one
-- Appends an event to a purchase's timeline with the next seq of that
-- purchase. The caller holds the purchase's row lock (PurchaseLock), which
-- makes max(seq) + 1 safe; the unique index catches a caller that does not.
INSERT INTO purchase_events (purchase_id, seq, kind, name, from_status, to_status, actor,
                             provider_call_id, callback_id, data, created_at)
SELECT @purchase_id, coalesce(max(e.seq), 0) + 1, @kind, @name, @from_status, @to_status, @actor,
       @provider_call_id, @callback_id, @data, @created_at
FROM purchase_events e WHERE e.purchase_id = @purchase_id
RETURNING *;

-- name: EventListByPurchase :many
SELECT * FROM purchase_events WHERE purchase_id = @purchase_id ORDER BY seq;

-- name: EventListByPurchaseShown :many
-- A purchase's events in seq order as the API shows them. A provider
-- call's event stores no data of its own: its data is its call's code, HTTP
-- status, latency and reason, read from the call's row (events stored
-- before that hold the same in data; docs/audit.md#the-audit-tables).
SELECT e.id, e.purchase_id, e.kind, e.name, e.from_status, e.to_status, e.actor,
       e.provider_call_id, e.callback_id,
       (CASE WHEN c.id IS NULL THEN e.data
             ELSE e.data || jsonb_build_object('code', c.code, 'http_status', c.http_status,
                                               'latency_ms', c.latency_ms, 'reason', c.reason)
        END)::jsonb AS data,
       e.created_at, e.seq
FROM purchase_events e
LEFT JOIN provider_calls c ON c.id = e.provider_call_id
WHERE e.purchase_id = @purchase_id
ORDER BY e.seq;

-- name: ProviderCallInsert :one
INSERT INTO provider_calls (purchase_id, provider, operation, reference, http_status, code, message,
                            outcome, reason, latency_ms, request, response, error, created_at)
VALUES (@purchase_id, @provider, @operation, @reference, @http_status, @code, @message,
        @outcome, @reason, @latency_ms, @request, @response, @error, @created_at)
RETURNING id;

-- name: ProviderCallListByPurchase :many
SELECT * FROM provider_calls WHERE purchase_id = @purchase_id ORDER BY id;

-- name: CallbackInsert :one
-- Stores a callback once per provider and body hash, with what was done
-- with it; no row for a duplicate.
INSERT INTO callbacks (provider, body_sha256, body, authenticated, reference, purchase_id, outcome, action, received_at)
VALUES (@provider, @body_sha256, @body, @authenticated, @reference, @purchase_id, @outcome, @action, @received_at)
ON CONFLICT (provider, body_sha256) DO NOTHING
RETURNING *;

-- name: AlertInsert :execrows
-- Raises an alert; a purchase raises each kind once per provider (0 rows:
-- already raised).
INSERT INTO alerts (kind, provider, purchase_id, message, data, created_at)
VALUES (@kind, @provider, @purchase_id, @message, @data, @created_at)
ON CONFLICT (kind, purchase_id, (coalesce(provider, ''))) WHERE purchase_id IS NOT NULL DO NOTHING;

-- name: ProviderBalanceInsert :exec
INSERT INTO provider_balances (provider, balance, source, observed_at)
VALUES (@provider, @balance, @source, @observed_at);

-- name: ProviderBalanceLatest :one
SELECT * FROM provider_balances WHERE provider = @provider ORDER BY observed_at DESC, id DESC LIMIT 1;

-- name: CallbackHeldFailure :one
-- Whether a signed FAILED callback for the purchase was held during its
-- payment call (applied once the call's answer is known).
SELECT EXISTS (
    SELECT 1 FROM callbacks
    WHERE purchase_id = @purchase_id AND action = 'held' AND authenticated AND outcome = 'failed'
) AS held;

-- name: CallbackOutcomesByPurchase :many
-- The outcomes provider callbacks reported for a purchase, oldest first.
SELECT id, outcome, authenticated FROM callbacks
WHERE purchase_id = @purchase_id AND outcome IS NOT NULL ORDER BY id;
