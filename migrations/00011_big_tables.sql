-- What a year of history showed some everyday statements reading all of
-- (`orchestrator bench --preload`, docs/performance.md#big-tables): each
-- index below lets its statement read the rows it needs, not the history.
--  * callbacks_purchase: a purchase's callbacks. Every step that ends a
--    purchase reads the outcomes of its earlier callbacks
--    (CallbackOutcomesByPurchase) inside its transaction; without it that
--    read scanned every callback ever received.
--  * provider_calls_payment_created: the payment calls of a period. The
--    double payments the reconciliation reports since a moment
--    (ReconDoublePaymentList) start from the references accepted since then.
--  * purchases_succeeded_day, provider_balances_day: the Asia/Jakarta day
--    the daily reconciliation views group by (recon_daily_totals,
--    recon_daily_balance), so "from this day" reads those days only.
--  * purchase_events_needs_review: when each purchase went to
--    needs_review (recon_needs_review's "since", read by the report, the
--    console's review queue and every metrics scrape). The events of a
--    purchase left in needs_review are hundreds of hourly lookups; the
--    view read them all to find that one event.
--  * provider_balance_latest: each provider's last observed deposit, read
--    by every create (the deposit check) and every metrics scrape.
--    provider_balances keeps every observation (one per answer that
--    carried a deposit); DISTINCT ON (provider) sorted all of them. The
--    view skips through provider_balances_provider instead: one probe per
--    provider to find it, one to read its newest row.

-- +goose Up

CREATE INDEX callbacks_purchase ON callbacks (purchase_id, id) WHERE purchase_id IS NOT NULL;
CREATE INDEX provider_calls_payment_created ON provider_calls (created_at) WHERE operation = 'payment';
CREATE INDEX purchases_succeeded_day ON purchases (((completed_at AT TIME ZONE 'Asia/Jakarta')::date))
    WHERE status = 'succeeded';
CREATE INDEX provider_balances_day ON provider_balances (((observed_at AT TIME ZONE 'Asia/Jakarta')::date));
CREATE INDEX purchase_events_needs_review ON purchase_events (purchase_id, created_at)
    WHERE kind = 'status' AND to_status = 'needs_review';

CREATE VIEW provider_balance_latest AS
WITH RECURSIVE providers AS (
    (SELECT provider FROM provider_balances ORDER BY provider LIMIT 1)
    UNION ALL
    SELECT (SELECT b.provider FROM provider_balances b WHERE b.provider > p.provider ORDER BY b.provider LIMIT 1)
    FROM providers p
    WHERE p.provider IS NOT NULL
)
SELECT l.provider, l.balance, l.observed_at
FROM providers p
CROSS JOIN LATERAL (
    SELECT b.provider, b.balance, b.observed_at FROM provider_balances b
    WHERE b.provider = p.provider
    ORDER BY b.observed_at DESC, b.id DESC
    LIMIT 1
) l;

COMMENT ON VIEW provider_balance_latest IS 'Each provider''s last observed deposit (the newest row of provider_balances per provider)';

-- +goose Down

DROP VIEW provider_balance_latest;
DROP INDEX purchase_events_needs_review;
DROP INDEX provider_balances_day;
DROP INDEX purchases_succeeded_day;
DROP INDEX provider_calls_payment_created;
DROP INDEX callbacks_purchase;
