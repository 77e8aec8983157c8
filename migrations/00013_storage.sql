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

-- +goose Up

DROP INDEX river_job_args_index;
DROP INDEX river_job_metadata_index;
CREATE INDEX river_job_lookup_waiting ON river_job ((args ->> 'purchase_id'))
    WHERE kind = 'purchase_lookup' AND state IN ('available', 'pending', 'retryable', 'scheduled', 'running');
CREATE INDEX river_job_webhook_waiting ON river_job ((args ->> 'message_id'))
    WHERE kind = 'webhook_deliver' AND state IN ('available', 'pending', 'retryable', 'scheduled', 'running');

-- +goose Down

DROP INDEX river_job_webhook_waiting;
DROP INDEX river_job_lookup_waiting;
CREATE INDEX river_job_metadata_index ON river_job USING GIN (metadata);
CREATE INDEX river_job_args_index ON river_job USING GIN (args);
