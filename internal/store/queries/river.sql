-- name: LookupJobsCancel :execrows
-- Cancels a purchase's lookup jobs that have not started, as River's own
-- cancel does for a job that is not running (state, finalized_at and
-- cancel_attempted_at), but without River's control notification: that
-- notification exists to interrupt a running job, which we never want, and
-- every listening connection takes it in a transaction of its own. A
-- running lookup finishes, records its call and finds the purchase ended.
UPDATE river_job
SET state = 'cancelled',
    finalized_at = @now::timestamptz,
    metadata = jsonb_set(metadata, '{cancel_attempted_at}', to_jsonb(@now::timestamptz), true)
WHERE kind = 'purchase_lookup'
  AND args @> @filter::jsonb
  AND state IN ('available', 'pending', 'retryable', 'scheduled');
