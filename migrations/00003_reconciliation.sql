-- Reconciliation: views an operator can read in psql (and `orchestrator
-- reconcile` reads through sqlc) to audit the purchases against what the
-- providers reported and charged. docs/audit.md shows them, and
-- docs/runbook.md#reading-reconciliation says what to do about each.

-- +goose Up

-- recon_now() is the moment the views measure ages against: now(), unless
-- the transaction set `recon.now` (SELECT set_config('recon.now', '…', true)),
-- which is how the report runs with an injected clock.
-- +goose StatementBegin
CREATE FUNCTION recon_now() RETURNS timestamptz AS $$
    SELECT coalesce(nullif(current_setting('recon.now', true), '')::timestamptz, now())
$$ LANGUAGE sql STABLE;
-- +goose StatementEnd

-- Succeeded purchases by completion time (daily totals, price checks).
CREATE INDEX purchases_succeeded_completed ON purchases (completed_at) WHERE status = 'succeeded';
-- The few events and callbacks reconciliation looks for.
CREATE INDEX purchase_events_contradiction ON purchase_events (purchase_id) WHERE name = 'contradiction';
CREATE INDEX callbacks_unmatched ON callbacks (received_at) WHERE action IN ('unmatched', 'unreadable');

-- Open purchases that should have moved by now. A purchase is stuck when
--   received, inquiring, paying: untouched (updated_at) for more than 10
--     minutes — every step of these statuses runs at once or retries with a
--     backoff of at most 5 minutes (StepBackoffMax), each retry touching the
--     row, so 10 minutes untouched means its job is gone or failing;
--   awaiting_confirmation: more than 1 minute past expires_at (the expiry
--     job fails it at expires_at);
--   processing: more than 1 minute past deadline_at (the lookup at the
--     deadline moves it to needs_review).
-- due_at is when it became stuck; overdue is how long ago that was.
CREATE VIEW recon_stuck AS
SELECT p.id AS purchase_id, p.client_id, p.reference_id, p.provider, p.product_code, p.status,
       p.created_at, p.updated_at, d.due_at::timestamptz AS due_at,
       (recon_now() - d.due_at)::interval AS overdue,
       p.payment_attempts, p.payment_in_flight, p.provider_reference
FROM purchases p
CROSS JOIN LATERAL (
    SELECT CASE p.status
        WHEN 'awaiting_confirmation' THEN coalesce(p.expires_at, p.updated_at) + interval '1 minute'
        WHEN 'processing' THEN coalesce(p.deadline_at, p.updated_at) + interval '1 minute'
        ELSE p.updated_at + interval '10 minutes'
    END AS due_at
) d
WHERE p.status IN ('received', 'inquiring', 'paying', 'awaiting_confirmation', 'processing')
  AND d.due_at < recon_now();

-- Purchases waiting for an operator (or a late provider report) in
-- needs_review: since when (the status event that moved them there) and for
-- how long, with what identifies them at the provider.
CREATE VIEW recon_needs_review AS
SELECT p.id AS purchase_id, p.client_id, p.reference_id, p.provider, p.product_code,
       p.amount, p.provider_reference, p.provider_request_id, p.provider_transaction_id,
       p.payment_attempts, p.lookups, p.created_at, p.deadline_at,
       coalesce(r.since, p.updated_at)::timestamptz AS review_since,
       (recon_now() - coalesce(r.since, p.updated_at))::interval AS waiting
FROM purchases p
CROSS JOIN LATERAL (
    SELECT max(e.created_at) AS since FROM purchase_events e
    WHERE e.purchase_id = p.id AND e.kind = 'status' AND e.to_status = 'needs_review'
) r
WHERE p.status = 'needs_review';

-- Provider reports contradicting a terminal purchase (FAILED or REFUND after
-- SUCCESS, SUCCESS after FAILED; invariant 6): recorded, never
-- applied. One row per purchase: its 'contradiction' alert and how many
-- 'contradiction' events (one per contradicting lookup or callback) it has.
CREATE VIEW recon_contradictions AS
WITH contradicted AS (
    SELECT purchase_id FROM alerts WHERE kind = 'contradiction' AND purchase_id IS NOT NULL
    UNION
    SELECT purchase_id FROM purchase_events WHERE name = 'contradiction'
)
SELECT p.id AS purchase_id, p.client_id, p.reference_id, p.provider, p.product_code,
       p.provider_reference, p.status, p.price, p.completed_at,
       e.reports, e.reported::text AS reported,
       least(e.first_reported_at, a.created_at)::timestamptz AS first_reported_at,
       greatest(e.last_reported_at, a.created_at)::timestamptz AS last_reported_at,
       coalesce(a.message, '') AS alert_message
FROM contradicted c
JOIN purchases p ON p.id = c.purchase_id
LEFT JOIN alerts a ON a.purchase_id = p.id AND a.kind = 'contradiction'
CROSS JOIN LATERAL (
    SELECT count(*) AS reports,
           coalesce(string_agg(DISTINCT x.data ->> 'reported', ', '), '') AS reported,
           min(x.created_at) AS first_reported_at, max(x.created_at) AS last_reported_at
    FROM purchase_events x WHERE x.purchase_id = p.id AND x.name = 'contradiction'
) e;

-- More than one ACCEPTED payment call for one provider reference. Accepted:
-- a payment call (provider_calls.operation 'payment') with outcome 'pending'
-- or 'succeeded' and an HTTP 2xx answer, except Klikoo's 409xx6563
-- "reference already used", which acknowledges the existing transaction and
-- charges nothing. (The outcome column is the outcome of the whole operation,
-- so a call the client retried within it — a 401 expired token, then the
-- real call — carries the final outcome too: the 2xx test leaves it out.)
-- The sanctioned repeat of a payment whose answer was lost (invariant
-- 3) shows here only if the provider really accepted it twice. A
-- Snapcart two-step repeat answered with the first acknowledgement again
-- (Snapcart dedupes by request_id) would also count: check the provider's
-- statement before refunding anyone.
CREATE VIEW recon_double_payments AS
SELECT c.provider, c.reference AS provider_reference, p.id AS purchase_id, p.client_id,
       p.reference_id, p.product_code, p.status,
       count(*) AS accepted_calls,
       string_agg(c.code, ', ' ORDER BY c.id)::text AS codes,
       min(c.created_at)::timestamptz AS first_accepted_at,
       max(c.created_at)::timestamptz AS last_accepted_at
FROM provider_calls c
LEFT JOIN purchases p ON p.provider = c.provider AND p.provider_reference = c.reference
WHERE c.operation = 'payment' AND c.reference IS NOT NULL
  AND c.outcome IN ('pending', 'succeeded') AND c.http_status BETWEEN 200 AND 299
  AND c.code NOT LIKE '409%6563'
GROUP BY c.provider, c.reference, p.id
HAVING count(*) > 1;

-- Successes above the client's max_price (invariant 8: the price
-- guard holds max_price before paying; the provider deducted more).
CREATE VIEW recon_price_above_max AS
SELECT p.id AS purchase_id, p.client_id, p.reference_id, p.provider, p.product_code,
       p.max_price, p.amount, p.price, (p.price - p.max_price)::bigint AS excess, p.completed_at
FROM purchases p
WHERE p.status = 'succeeded' AND p.max_price IS NOT NULL AND p.price > p.max_price;

-- Successes whose price (what the provider reports it deducted) differs from
-- amount (what we agreed to pay and sent).
CREATE VIEW recon_price_mismatch AS
SELECT p.id AS purchase_id, p.client_id, p.reference_id, p.provider, p.product_code,
       p.amount, p.price, (p.price - p.amount)::bigint AS difference, p.completed_at
FROM purchases p
WHERE p.status = 'succeeded' AND p.price IS DISTINCT FROM p.amount;

-- Succeeded purchases per Asia/Jakarta calendar day of completion, provider
-- and product: how many, what they cost us (price), what the clients were
-- charged (selling_price) and the margin, both over the rows that carry a
-- selling price. Compare cost with the provider's deposit movement
-- (recon_daily_balance) and its own statement.
CREATE VIEW recon_daily_totals AS
SELECT (p.completed_at AT TIME ZONE 'Asia/Jakarta')::date AS day, p.provider, p.product_code,
       count(*) AS succeeded,
       coalesce(sum(p.price), 0)::bigint AS price_total,
       count(p.selling_price) AS with_selling_price,
       coalesce(sum(p.selling_price), 0)::bigint AS selling_total,
       coalesce(sum(p.selling_price - p.price), 0)::bigint AS margin
FROM purchases p
WHERE p.status = 'succeeded'
GROUP BY 1, 2, 3;

-- Our deposit at each provider per Asia/Jakarta day, as observed (balance
-- endpoint, answers that carried a balance): first and last observation and
-- the movement between them, to read beside recon_daily_totals.
CREATE VIEW recon_daily_balance AS
SELECT day, provider, observations, first_observed_at, last_observed_at,
       first_balance, last_balance, (last_balance - first_balance)::bigint AS movement
FROM (
    SELECT (b.observed_at AT TIME ZONE 'Asia/Jakarta')::date AS day, b.provider,
           count(*) AS observations,
           min(b.observed_at)::timestamptz AS first_observed_at,
           max(b.observed_at)::timestamptz AS last_observed_at,
           ((array_agg(b.balance ORDER BY b.observed_at, b.id))[1])::bigint AS first_balance,
           ((array_agg(b.balance ORDER BY b.observed_at DESC, b.id DESC))[1])::bigint AS last_balance
    FROM provider_balances b
    GROUP BY 1, 2
) d;

-- Callbacks that matched no purchase: no purchase has their provider
-- reference ('unmatched'), or they could not be parsed ('unreadable').
CREATE VIEW recon_unmatched_callbacks AS
SELECT c.id AS callback_id, c.provider, c.reference, c.action, c.authenticated, c.received_at,
       left(c.body, 1000) AS body
FROM callbacks c
WHERE c.action IN ('unmatched', 'unreadable');

-- Operator alerts other than those with a section of their own
-- (contradiction, price_above_max): missing tokens, refused calls, low or
-- insufficient deposit, refunds before success — with the purchase's
-- reference and current status when the alert concerns one.
CREATE VIEW recon_alerts AS
SELECT a.id AS alert_id, a.kind, a.provider, a.purchase_id, p.reference_id,
       p.status AS purchase_status, a.message, a.created_at
FROM alerts a
LEFT JOIN purchases p ON p.id = a.purchase_id
WHERE a.kind NOT IN ('contradiction', 'price_above_max');

-- What \dv+ shows in psql.
COMMENT ON FUNCTION recon_now() IS 'now(), or the transaction''s recon.now setting: the moment the recon_ views measure ages against';
COMMENT ON VIEW recon_stuck IS 'Open purchases that should have moved: received/inquiring/paying untouched (updated_at) > 10 min; awaiting_confirmation > 1 min past expires_at; processing > 1 min past deadline_at';
COMMENT ON VIEW recon_needs_review IS 'needs_review purchases, since when (status event) and for how long';
COMMENT ON VIEW recon_contradictions IS 'Terminal purchases a later provider report contradicted (alert and events named contradiction), one row per purchase';
COMMENT ON VIEW recon_double_payments IS 'Provider references with > 1 accepted payment call: outcome pending/succeeded, HTTP 2xx, not Klikoo 409xx6563 (reference already used)';
COMMENT ON VIEW recon_price_above_max IS 'Successes whose price (what the provider deducted) is above max_price';
COMMENT ON VIEW recon_price_mismatch IS 'Successes whose price (what the provider deducted) differs from amount (what we sent)';
COMMENT ON VIEW recon_daily_totals IS 'Succeeded purchases per Asia/Jakarta day of completed_at, provider and product: count, price, selling price, margin';
COMMENT ON VIEW recon_daily_balance IS 'Observed provider deposit per provider and Asia/Jakarta day: first, last, movement';
COMMENT ON VIEW recon_unmatched_callbacks IS 'Callbacks that matched no purchase (unmatched) or could not be parsed (unreadable)';
COMMENT ON VIEW recon_alerts IS 'Operator alerts other than contradiction and price_above_max, with the purchase reference and status';

-- +goose Down

DROP VIEW recon_alerts;
DROP VIEW recon_unmatched_callbacks;
DROP VIEW recon_daily_balance;
DROP VIEW recon_daily_totals;
DROP VIEW recon_price_mismatch;
DROP VIEW recon_price_above_max;
DROP VIEW recon_double_payments;
DROP VIEW recon_contradictions;
DROP VIEW recon_needs_review;
DROP VIEW recon_stuck;
DROP INDEX callbacks_unmatched;
DROP INDEX purchase_events_contradiction;
DROP INDEX purchases_succeeded_completed;
DROP FUNCTION recon_now();
