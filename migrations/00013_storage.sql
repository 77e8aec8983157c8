-- What the bench's storage split showed each purchase writing and nobody
-- reading (docs/performance.md#storage):
--  * River's two GIN indexes on river_job (args, metadata) were half the
--    job table's bytes: every job version (insert, running, completed, each
--    snooze) puts every key and value of its args into the index again, and
--    no update of river_job is HOT. River itself never reads them (River UI
--    neither); our two statements that looked into args
--    (LookupJobsCancel, WebhookMessageOrphans) look for a waiting job of one
--    purchase or one webhook message, which the two partial indexes below
--    serve: they hold the versions of waiting and running jobs only, so they
--    stay as small as the queue whatever the retention of finished jobs
--    (JOB_RETENTION). The service leaves the dropped indexes out of River's
--    reindexer (flow.RiverConfig). A River upgrade whose migration touches
--    river_job_args_index or river_job_metadata_index must create them
--    again first.
--  * No update of a purchase is HOT (its status is indexed), so each of its
--    four or so updates writes a new entry into every index of purchases.
--    Three indexes held what others hold:
--    - purchases_reference_id: the console's search by reference_id looks
--      it up under each client in purchases_client_reference
--      (PurchaseSearchMatches; the clients are few);
--    - purchases_provider_reference_any: the search by provider reference
--      looks it up under each provider in purchases_provider_reference,
--      finding the providers by skipping through that index;
--    - purchases_succeeded_completed held every success by its completion
--      time, for the two reconciliation views of price anomalies
--      (recon_price_above_max, recon_price_mismatch) read since a moment;
--      purchases_price_anomaly holds only the anomalies, which stay few.

-- +goose Up

DROP INDEX river_job_args_index;
DROP INDEX river_job_metadata_index;
CREATE INDEX river_job_lookup_waiting ON river_job ((args ->> 'purchase_id'))
    WHERE kind = 'purchase_lookup' AND state IN ('available', 'pending', 'retryable', 'scheduled', 'running');
CREATE INDEX river_job_webhook_waiting ON river_job ((args ->> 'message_id'))
    WHERE kind = 'webhook_deliver' AND state IN ('available', 'pending', 'retryable', 'scheduled', 'running');

DROP INDEX purchases_reference_id;
DROP INDEX purchases_provider_reference_any;
CREATE INDEX purchases_price_anomaly ON purchases (completed_at)
    WHERE status = 'succeeded' AND (price > max_price OR price IS DISTINCT FROM amount);
DROP INDEX purchases_succeeded_completed;

-- +goose Down

CREATE INDEX purchases_succeeded_completed ON purchases (completed_at) WHERE status = 'succeeded';
DROP INDEX purchases_price_anomaly;
CREATE INDEX purchases_provider_reference_any ON purchases (provider_reference) WHERE provider_reference IS NOT NULL;
CREATE INDEX purchases_reference_id ON purchases (reference_id);

DROP INDEX river_job_webhook_waiting;
DROP INDEX river_job_lookup_waiting;
CREATE INDEX river_job_metadata_index ON river_job USING GIN (metadata);
CREATE INDEX river_job_args_index ON river_job USING GIN (args);
