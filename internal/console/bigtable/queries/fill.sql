-- name: PurchaseFill :execrows
-- Inserts n synthetic purchases of one client and product, one every
-- step_seconds back from newest: nine in ten succeeded (with a provider
-- reference and transaction id, a serial number and a token), one in ten
-- failed at the inquiry. Values are unique per prefix and i, so a search
-- for one of them names one purchase.
INSERT INTO purchases (id, client_id, reference_id, fingerprint, status, product_code, provider, family,
                       customer_number, customer_key, confirmation, amount, provider_reference,
                       payment_attempts, provider_transaction_id, price, result, failure_code,
                       failure_message, created_at, updated_at, completed_at,
                       route, attempt_started_at, provider_product_code)
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
       ARRAY[@provider::text],
       sqlc.arg(newest)::timestamptz - i * sqlc.arg(step_seconds)::float8 * interval '1 second',
       @product_code::text
FROM generate_series(1, @n::int) AS i;

-- name: PurchasesAnalyze :exec
-- Refreshes the planner's statistics of purchases after a fill.
ANALYZE purchases;
