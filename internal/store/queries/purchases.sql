-- name: PurchaseInsert :one
-- Inserts a new purchase and its first event (the "received" note, naming
-- the client's reference_id) in one statement; returns no row, and inserts
-- nothing, when the client already used the reference_id (the caller then
-- reads the existing one).
WITH p AS (
    INSERT INTO purchases (id, client_id, reference_id, fingerprint, status, product_code, provider, family,
                           customer_number, phone, user_id, zone_id, period, customer_key,
                           max_price, selling_price, confirmation, allow_repeat, created_at, updated_at,
                           route, attempt, attempt_started_at, provider_product_code)
    VALUES (@id, @client_id, @reference_id, @fingerprint, 'received', @product_code, @provider, @family,
            @customer_number, @phone, @user_id, @zone_id, @period, @customer_key,
            @max_price, @selling_price, @confirmation, @allow_repeat, @created_at, @created_at,
            @route::text[], 1, @created_at, @provider_product_code)
    ON CONFLICT (client_id, reference_id) DO NOTHING
    RETURNING *
), received AS (
    INSERT INTO purchase_events (purchase_id, seq, kind, name, actor, data, created_at)
    SELECT p.id, 1, 'note', 'received', 'client', jsonb_build_object('reference_id', p.reference_id), p.created_at
    FROM p
)
SELECT * FROM p;

-- name: PurchaseGetByID :one
SELECT * FROM purchases WHERE id = @id;

-- name: PurchaseLock :one
-- Reads a purchase and locks its row until the transaction ends.
SELECT * FROM purchases WHERE id = @id FOR UPDATE;

-- name: PurchaseGetForClient :one
SELECT * FROM purchases WHERE id = @id AND client_id = @client_id;

-- name: PurchaseGetByClientReference :one
SELECT * FROM purchases WHERE client_id = @client_id AND reference_id = @reference_id;

-- name: PurchaseGetByProviderReference :one
SELECT * FROM purchases WHERE provider = @provider AND provider_reference = @provider_reference;

-- name: PurchaseRecentDuplicate :one
-- The newest purchase of the same product for the same customer by the same
-- client since a moment (the duplicate guard of docs/api.md).
SELECT * FROM purchases
WHERE client_id = @client_id AND product_code = @product_code AND customer_key = @customer_key
  AND created_at >= @since
ORDER BY created_at DESC LIMIT 1;

-- name: PurchaseUpdate :one
-- Writes every mutable column of a purchase as a compare-and-set on its
-- status: no row means someone else moved it first.
UPDATE purchases SET
    status = @to_status,
    provider = @provider,
    provider_product_code = @provider_product_code,
    attempt = @attempt,
    attempt_started_at = @attempt_started_at,
    confirmed_at = @confirmed_at,
    expires_at = @expires_at,
    inquiry = @inquiry,
    inquiry_amount = @inquiry_amount,
    inquiry_total = @inquiry_total,
    inquiry_attempts = @inquiry_attempts,
    provider_request_id = @provider_request_id,
    amount = @amount,
    provider_reference = @provider_reference,
    payment_attempts = @payment_attempts,
    payment_last_sent_at = @payment_last_sent_at,
    payment_in_flight = @payment_in_flight,
    payment_uncertain = @payment_uncertain,
    not_found_streak = @not_found_streak,
    lookups = @lookups,
    deadline_at = @deadline_at,
    retry_since = @retry_since,
    provider_transaction_id = @provider_transaction_id,
    price = @price,
    result = @result,
    failure_code = @failure_code,
    failure_message = @failure_message,
    updated_at = @updated_at,
    completed_at = @completed_at
WHERE id = @id AND status = @from_status
RETURNING *;

-- name: PurchaseListForClient :many
-- Keyset pagination, newest first: the cursor is the (created_at, id) of the
-- last row of the previous page.
SELECT * FROM purchases
WHERE client_id = @client_id
  AND (sqlc.narg('status')::purchase_status IS NULL OR status = sqlc.narg('status'))
  AND (sqlc.narg('reference_id')::text IS NULL OR reference_id = sqlc.narg('reference_id'))
  AND (sqlc.narg('created_after')::timestamptz IS NULL OR created_at > sqlc.narg('created_after'))
  AND (sqlc.narg('cursor_created_at')::timestamptz IS NULL
       OR (created_at, id) < (sqlc.narg('cursor_created_at')::timestamptz, sqlc.narg('cursor_id')::uuid))
ORDER BY created_at DESC, id DESC
LIMIT @row_limit;

-- name: PurchaseListStale :many
-- Open purchases in the given statuses not touched since a moment, with
-- their product's inquiry mode: the sweeper re-drives them. The statuses
-- are open ones; saying so lets the planner read purchases_open, which
-- holds the open purchases only, and not the whole history. They are
-- listed (IN), not written as "not terminal" (NOT IN): PostgreSQL estimates
-- NOT IN as if its values were independent, and on a year of history
-- guessed 435,781 open purchases where there were 100, which made the
-- plan parallel and JIT-compiled (docs/performance.md#big-tables).
-- internal/store's TestOpenStatusListsInQueries keeps the list whole.
-- A needs_review purchase whose lookups are over (it paid nothing in its
-- current attempt, or its review window, from deadline_at, ended before
-- review_from) is left out, as flow's redrive would skip it: such
-- purchases wait for an operator for as long as they like, and listed they
-- took the LIMIT's places ahead of the ones whose lookup job went missing
-- (and cost every sweep a read of each, on a year of history).
SELECT sqlc.embed(p), coalesce(o.inquiry, 'required')::text AS inquiry FROM purchases p
LEFT JOIN offers o ON o.product_code = p.product_code AND o.provider = p.provider
WHERE p.status IN ('received', 'inquiring', 'awaiting_confirmation', 'paying', 'processing', 'needs_review')
  AND p.status::text = ANY(@statuses::text[]) AND p.updated_at < @before
  AND (p.status <> 'needs_review'
       OR (p.payment_attempts > 0 AND (p.deadline_at IS NULL OR p.deadline_at >= @review_from::timestamptz)))
ORDER BY p.updated_at
LIMIT @row_limit;

-- name: PurchaseCountByStatus :many
SELECT status, count(*) AS count FROM purchases GROUP BY status ORDER BY status;

-- name: PurchaseTransitionList :many
SELECT from_status, to_status FROM purchase_transitions ORDER BY from_status, to_status;

-- name: LockKey :exec
-- Takes a transaction-scoped advisory lock on key.
SELECT pg_advisory_xact_lock(@key::bigint);

-- name: PurchaseListAll :many
-- Every purchase, oldest first (verification after a chaos run).
SELECT * FROM purchases ORDER BY created_at, id;
