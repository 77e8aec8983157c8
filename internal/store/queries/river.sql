-- name: LookupJobsCancel :execrows
-- Cancels a purchase's lookup jobs as River's own cancel does, but without
-- its control notification (which exists to interrupt a running job, which
-- we never want, and which every listening connection takes in a
-- transaction of its own): a job that has not started is cancelled (state,
-- finalized_at, cancel_attempted_at); a running one is only marked
-- (cancel_attempted_at), so it finishes, records its call and finds the
-- purchase ended — and if it was snoozing when the mark came (River
-- records a snooze after the job's own transaction), River cancels it
-- instead of scheduling it again. river_job_lookup_waiting
-- (migrations/00013_storage.sql) finds them.
UPDATE river_job
SET state = CASE WHEN state = 'running' THEN state ELSE 'cancelled'::river_job_state END,
    finalized_at = CASE WHEN state = 'running' THEN finalized_at ELSE @now::timestamptz END,
    metadata = jsonb_set(metadata, '{cancel_attempted_at}', to_jsonb(@now::timestamptz), true)
WHERE kind = 'purchase_lookup'
  AND state IN ('available', 'pending', 'retryable', 'scheduled', 'running')
  AND args ->> 'purchase_id' = @purchase_id::text;
