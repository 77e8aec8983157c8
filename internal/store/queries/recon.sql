-- name: ReconNowSet :exec
-- Sets recon_now() for the rest of the transaction: the reconciliation views
-- (migrations/00003_reconciliation.sql) measure "stuck" and "waiting"
-- against it instead of now(). The Recon…List reads below give ages in
-- whole seconds.
SELECT set_config('recon.now', @now::text, true);

-- name: ReconStuckList :many
SELECT purchase_id, client_id, reference_id, provider, product_code, status,
       created_at, updated_at, due_at::timestamptz AS due_at, extract(epoch FROM overdue)::bigint AS overdue_seconds,
       payment_attempts, payment_in_flight, provider_reference
FROM recon_stuck
ORDER BY due_at, purchase_id;

-- name: ReconNeedsReviewList :many
SELECT purchase_id, client_id, reference_id, provider, product_code, amount,
       provider_reference, provider_request_id, provider_transaction_id,
       payment_attempts, lookups, created_at, deadline_at,
       review_since::timestamptz AS review_since, extract(epoch FROM waiting)::bigint AS waiting_seconds
FROM recon_needs_review
ORDER BY review_since, purchase_id;

-- name: ReconContradictionList :many
SELECT purchase_id, client_id, reference_id, provider, product_code, provider_reference,
       status, price, completed_at, reports::bigint AS reports, reported::text AS reported,
       first_reported_at::timestamptz AS first_reported_at, last_reported_at::timestamptz AS last_reported_at, alert_message::text AS alert_message
FROM recon_contradictions
WHERE last_reported_at >= @since::timestamptz
ORDER BY last_reported_at, purchase_id;

-- name: ReconDoublePaymentList :many
-- recon_double_payments for the references that had an accepted payment
-- call since the moment (found through provider_calls_payment_created),
-- each one read through provider_calls_reference. The view's definition
-- (migrations/00012_audit_partitions.sql) is spelled out here with one
-- bound more: a reference's payment calls are its purchase's, never older
-- than the purchase (a day of margin for clocks), so each lookup reads the
-- months of provider_calls since the purchase, not every month.
WITH recent AS (
    SELECT c.provider, c.reference, min(o.created_at) - interval '1 day' AS calls_since
    FROM provider_calls c
    LEFT JOIN purchases o ON o.id = c.purchase_id
    WHERE c.operation = 'payment' AND c.created_at >= @since::timestamptz AND c.reference IS NOT NULL
      AND c.outcome IN ('pending', 'succeeded') AND c.http_status BETWEEN 200 AND 299
    GROUP BY c.provider, c.reference
)
SELECT d.provider, d.provider_reference::text AS provider_reference, d.purchase_id, d.client_id, d.reference_id,
       d.product_code, d.status, d.accepted_calls::bigint AS accepted_calls, d.codes::text AS codes,
       d.first_accepted_at::timestamptz AS first_accepted_at, d.last_accepted_at::timestamptz AS last_accepted_at
FROM recent r
CROSS JOIN LATERAL (
    SELECT c.provider, c.reference AS provider_reference, p.id AS purchase_id, p.client_id,
           p.reference_id, p.product_code, p.status,
           count(*) AS accepted_calls,
           string_agg(c.code, ', ' ORDER BY c.id) AS codes,
           min(c.created_at) AS first_accepted_at,
           max(c.created_at) AS last_accepted_at
    FROM provider_calls c
    LEFT JOIN purchases p ON p.provider = c.provider AND p.provider_reference = c.reference
    WHERE c.provider = r.provider AND c.reference = r.reference
      AND c.created_at >= coalesce(r.calls_since, '-infinity')
      AND c.operation = 'payment'
      AND c.outcome IN ('pending', 'succeeded') AND c.http_status BETWEEN 200 AND 299
      AND c.code NOT LIKE '409%6563'
    GROUP BY c.provider, c.reference, p.id
    HAVING count(*) > 1
) d
WHERE d.last_accepted_at >= @since::timestamptz
ORDER BY d.last_accepted_at, d.provider, d.provider_reference;

-- name: ReconPriceAboveMaxList :many
SELECT purchase_id, client_id, reference_id, provider, product_code, max_price, amount, price,
       excess::bigint AS excess, completed_at
FROM recon_price_above_max
WHERE completed_at >= @since::timestamptz
ORDER BY completed_at, purchase_id;

-- name: ReconPriceMismatchList :many
SELECT purchase_id, client_id, reference_id, provider, product_code, amount, price,
       difference::bigint AS difference, completed_at
FROM recon_price_mismatch
WHERE completed_at >= @since::timestamptz
ORDER BY completed_at, purchase_id;

-- name: ReconDailyTotalList :many
-- Whole Asia/Jakarta days, from the day that holds since.
SELECT day::text AS day, provider, product_code, succeeded::bigint AS succeeded, price_total, with_selling_price::bigint AS with_selling_price,
       selling_total, margin
FROM recon_daily_totals
WHERE day >= (sqlc.arg(since)::timestamptz AT TIME ZONE 'Asia/Jakarta')::date
ORDER BY day, provider, product_code;

-- name: ReconDailyBalanceList :many
-- Whole Asia/Jakarta days, from the day that holds since.
SELECT day::text AS day, provider, observations::bigint AS observations,
       first_observed_at::timestamptz AS first_observed_at, last_observed_at::timestamptz AS last_observed_at,
       first_balance, last_balance, movement::bigint AS movement
FROM recon_daily_balance
WHERE day >= (sqlc.arg(since)::timestamptz AT TIME ZONE 'Asia/Jakarta')::date
ORDER BY day, provider;

-- name: ReconUnmatchedCallbackList :many
SELECT callback_id, provider, reference, action, authenticated, received_at, body
FROM recon_unmatched_callbacks
WHERE received_at >= @since::timestamptz
ORDER BY received_at, callback_id;

-- name: ReconAlertList :many
SELECT alert_id, kind, provider, purchase_id, reference_id, purchase_status, message, created_at
FROM recon_alerts
WHERE created_at >= @since::timestamptz
ORDER BY created_at, alert_id;

-- name: ReconOpenByStatusList :many
-- The open purchases by status, for the metrics read at each scrape
-- (internal/recon/collector.go): how many, how many of them are stuck
-- (recon_stuck), the oldest one's age and, for needs_review, the longest
-- wait (recon_needs_review's, in whole seconds: since its last status
-- event into needs_review, else since it was last updated). Only statuses
-- that have a purchase have a row. purchases_open indexes exactly these
-- rows. The wait is read per needs_review purchase from its own events
-- (OFFSET 0 keeps it so), for the purchase already in hand: read through
-- the view, the planner found the view's purchase again by status, not by
-- id, once per needs_review purchase (100 of them read 10,000 index
-- entries on a year of history). The open statuses are listed (IN), not
-- "not terminal": see PurchaseListStale; with NOT IN the planner expected
-- 435,781 open purchases of 5,000,000 (there were 100) and scanned them
-- all. internal/recon's tests keep the wait equal to the view's.
SELECT p.status, count(*)::bigint AS open, count(s.purchase_id)::bigint AS stuck,
       extract(epoch FROM recon_now() - min(p.created_at))::bigint AS oldest_seconds,
       coalesce(extract(epoch FROM max(recon_now() - coalesce(r.since, p.updated_at))
                                  FILTER (WHERE p.status = 'needs_review')), 0)::bigint AS longest_review_seconds
FROM purchases p
LEFT JOIN recon_stuck s ON s.purchase_id = p.id
LEFT JOIN LATERAL (
    SELECT e.created_at AS since FROM purchase_events e
    WHERE p.status = 'needs_review' AND e.purchase_id = p.id
      AND e.created_at >= p.created_at - interval '1 day'
      AND e.kind = 'status' AND e.to_status = 'needs_review'
    ORDER BY e.created_at DESC
    LIMIT 1 OFFSET 0
) r ON true
WHERE p.status IN ('received', 'inquiring', 'awaiting_confirmation', 'paying', 'processing', 'needs_review')
GROUP BY p.status
ORDER BY p.status;

-- name: ProviderBalanceLatestList :many
-- Each provider's deposit as last observed by any process (the balance
-- endpoint or an answer that carried it), for the metrics: every process
-- reports the same value, unlike its own provider_balance_rupiah.
SELECT provider, balance FROM provider_balance_latest ORDER BY provider;

-- name: ReconWebhookFailureList :many
SELECT message_id, endpoint_id, client_id, purchase_id, reference_id, event_type, seq, attempts,
       created_at, failed_at::timestamptz AS failed_at, last_http_status AS last_status, last_error::text AS last_error
FROM recon_webhook_failures
WHERE failed_at >= @since::timestamptz
ORDER BY failed_at, message_id;

-- name: ReconMultipleSuccessList :many
SELECT purchase_id, client_id, reference_id, product_code, status::text AS status, current_provider,
       earlier_attempt, earlier_provider, earlier_reference, reported_at
FROM recon_multiple_successes
WHERE reported_at >= @since::timestamptz
ORDER BY reported_at, purchase_id;

-- name: ReconFailoverList :many
SELECT day::text AS day, provider, reason, failovers FROM recon_failovers
WHERE day >= (sqlc.arg(since)::timestamptz AT TIME ZONE 'Asia/Jakarta')::date
ORDER BY day, provider, reason;
