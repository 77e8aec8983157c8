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

-- name: JobCompleteRunning :execrows
-- Completes a running job in the caller's transaction: what River's
-- JobCompleteTx writes for a job whose work recorded no metadata (state
-- 'completed' and finalized_at; attempt, errors, metadata and scheduled_at
-- unchanged), as one update by primary key. River's own statement for it
-- (JobSetStateIfRunningMany, built for batches of any state) joins arrays
-- of inputs to the table twice, and PostgreSQL plans it again on most calls
-- (its generic plan costs more than a custom one for one job): it was the
-- most expensive statement of a purchase. A job no longer running (rescued
-- by River, say) is left alone, as River leaves it; River's completer still
-- reports the job after the worker returns and finds it completed.
UPDATE river_job
SET state = 'completed', finalized_at = @now::timestamptz
WHERE id = @id AND state = 'running';
