-- What the operator console (docs/console.md) needs of routing and webhooks
-- on a big database:
--  * the purchase search also looks in purchase_attempts: an ended
--    attempt's provider reference, or the provider's transaction id of it,
--    finds its purchase. purchase_attempts_provider_reference is keyed by
--    (provider, provider_reference): a search by the reference alone cannot
--    seek in it, so each field gets an index of its own.
--  * the Webhooks page lists failed deliveries across clients, newest
--    failure first (webhook_messages_failed is keyed by endpoint first).
--  * operators' actions are found again by what they did (the Webhooks
--    page's recent retries, the Providers page's recent pauses).

-- +goose Up

CREATE INDEX purchase_attempts_reference ON purchase_attempts (provider_reference)
    WHERE provider_reference IS NOT NULL;
CREATE INDEX purchase_attempts_transaction ON purchase_attempts (provider_transaction_id)
    WHERE provider_transaction_id IS NOT NULL;
CREATE INDEX webhook_messages_failed_newest ON webhook_messages (finished_at DESC, id DESC)
    WHERE status = 'failed';
CREATE INDEX admin_events_action ON admin_events (action, id);

-- +goose Down

DROP INDEX admin_events_action;
DROP INDEX webhook_messages_failed_newest;
DROP INDEX purchase_attempts_transaction;
DROP INDEX purchase_attempts_reference;
