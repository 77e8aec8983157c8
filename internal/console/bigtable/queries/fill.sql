-- name: PurchaseFill :execrows
-- Inserts n synthetic purchases of one client and product, one every
-- step_seconds back from newest: nine in ten succeeded (with a provider
-- reference and transaction id, a serial number and a token), one in ten
-- failed at the inquiry. When failed_over_from is not empty, one in five
-- is at its second attempt, having failed over from that provider
-- (PurchaseAttemptFill records the first). Values are unique per prefix
-- and i, so a search for one of them names one purchase.
INSERT INTO purchases (id, client_id, reference_id, fingerprint, status, product_code, provider, family,
                       customer_number, customer_key, confirmation, amount, provider_reference,
                       payment_attempts, provider_transaction_id, price, result, failure_code,
                       failure_message, created_at, updated_at, completed_at,
                       route, attempt, attempt_started_at, provider_product_code)
SELECT gen_random_uuid(), @client_id::uuid, @prefix::text || '-' || i, '{}',
       (CASE WHEN i % 10 = 9 THEN 'failed' ELSE 'succeeded' END)::purchase_status,
       @product_code::text, @provider::text, @family::text,
       '08' || lpad(i::text, 10, '0'), '08' || lpad(i::text, 10, '0'), 'automatic',
       CASE WHEN i % 10 = 9 THEN NULL ELSE 20000 END,
       CASE WHEN i % 10 = 9 THEN NULL ELSE @prefix::text || '-ref-' || i END,
       CASE WHEN i % 10 = 9 THEN 0 ELSE 1 END,
       CASE WHEN i % 10 = 9 THEN NULL ELSE @prefix::text || '-tx-' || i END,
       CASE WHEN i % 10 = 9 THEN NULL ELSE 20000 END,
       CASE WHEN i % 10 = 9 THEN NULL
            ELSE jsonb_build_object('serial_number', @prefix::text || '-sn-' || i, 'token', lpad(i::text, 20, '7')) END,
       CASE WHEN i % 10 = 9 THEN 'customer_not_found' END,
       CASE WHEN i % 10 = 9 THEN 'synthetic failure' END,
       sqlc.arg(newest)::timestamptz - i * sqlc.arg(step_seconds)::float8 * interval '1 second',
       sqlc.arg(newest)::timestamptz - i * sqlc.arg(step_seconds)::float8 * interval '1 second',
       sqlc.arg(newest)::timestamptz - i * sqlc.arg(step_seconds)::float8 * interval '1 second',
       CASE WHEN @failed_over_from::text <> '' AND i % 5 = 0 THEN ARRAY[@failed_over_from::text, @provider::text]
            ELSE ARRAY[@provider::text] END,
       CASE WHEN @failed_over_from::text <> '' AND i % 5 = 0 THEN 2 ELSE 1 END,
       sqlc.arg(newest)::timestamptz - i * sqlc.arg(step_seconds)::float8 * interval '1 second',
       @product_code::text
FROM generate_series(1, @n::int) AS i;

-- name: PurchaseAttemptFill :execrows
-- Records the first attempt of every purchase of a fill (one prefix) that
-- is at its second: at the first provider of its route, with our
-- reference P-aref-i and the provider's transaction id P-atx-i.
INSERT INTO purchase_attempts (purchase_id, number, provider, provider_product_code, provider_reference,
                               provider_transaction_id, payment_attempts, failure_code, failure_message,
                               started_at, ended_at)
SELECT p.id, 1, p.route[1], p.provider_product_code,
       @prefix::text || '-aref-' || substring(p.reference_id FROM '[0-9]+$'),
       @prefix::text || '-atx-' || substring(p.reference_id FROM '[0-9]+$'),
       1, 'insufficient_balance', 'synthetic failover', p.created_at, p.created_at
FROM purchases p
WHERE p.client_id = @client_id::uuid AND p.attempt = 2 AND p.reference_id LIKE @prefix::text || '-%';

-- name: WebhookMessageFill :execrows
-- Records one purchase.succeeded delivery to an endpoint per purchase of a
-- fill (one prefix): one in fifty failed, the others delivered.
INSERT INTO webhook_messages (id, endpoint_id, client_id, purchase_id, event_type, seq, body, status,
                              attempts, round_attempts, created_at, updated_at, finished_at)
SELECT gen_random_uuid(), @endpoint_id::uuid, p.client_id, p.id, 'purchase.succeeded', 5, convert_to('{}', 'UTF8'),
       (CASE WHEN substring(p.reference_id FROM '[0-9]+$')::int % 50 = 0 THEN 'failed' ELSE 'delivered' END)::webhook_message_status,
       1, 1, p.created_at, p.created_at, p.created_at + interval '1 second'
FROM purchases p
WHERE p.client_id = @client_id::uuid AND p.reference_id LIKE @prefix::text || '-%';

-- name: PurchasesAnalyze :exec
-- Refreshes the planner's statistics of the filled tables.
ANALYZE purchases, purchase_attempts, webhook_messages;
