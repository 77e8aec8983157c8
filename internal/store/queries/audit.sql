-- name: EventInsert :one
-- Appends an event to a purchase's timeline with the next seq of that
-- purchase. The caller holds the purchase's row lock (PurchaseLock), which
-- makes max(seq) + 1 safe; the unique index of each month's partition
-- catches a caller that does not. An event naming a provider call or a
-- callback takes that row's timestamp (the same month's partition:
-- migrations/00012_audit_partitions.sql).
--
-- The reads of one purchase's audit rows here and in console.sql say
-- that no such row is older than the purchase (with a day of margin for
-- clocks of different processes), so PostgreSQL reads the partitions of
-- the purchase's months only. The caller, who holds the purchase, passes
-- that bound, store.AuditSince of its created_at (audit_since; the zero
-- time reads every month), as a value: PostgreSQL then leaves the other
-- months out as it plans the statement, without opening them. A bound
-- computed in the statement (created_at - interval '1 day') is not: the
-- subtraction of an interval from a timestamptz depends on the session's
-- time zone, so PostgreSQL prunes with it only as the statement starts,
-- after planning every month (0.4 ms against 0.15 a plan, 17 months); a
-- bound read from purchases by a subquery prunes only while it runs.
INSERT INTO purchase_events (purchase_id, seq, kind, name, from_status, to_status, actor,
                             provider_call_id, callback_id, data, created_at)
SELECT @purchase_id, coalesce(max(e.seq), 0) + 1, @kind, @name, @from_status, @to_status, @actor,
       @provider_call_id, @callback_id, @data, @created_at
FROM purchase_events e
WHERE e.purchase_id = @purchase_id
  AND e.created_at >= sqlc.arg(audit_since)::timestamptz
RETURNING *;

-- name: TimelineAppend :many
-- Appends what one transaction adds to a purchase's timeline, in one
-- statement: its provider calls (call_*, the columns of ProviderCallInsert,
-- one array element per call; an empty reference is NULL) and its events
-- (event_*, one element per event, in the order they happened). The events
-- take the next seqs of the purchase in that order, from one max(seq) read
-- (under the purchase's row lock, as EventInsert; the unique index of each
-- month's partition still catches a caller without it). An event's
-- event_call is the number (1, 2, …) of its provider call among call_*, 0
-- for none; the calls are inserted in their order, so their ids rise in it
-- and the call numbered n is the one with the nth id. An empty from or to
-- status is NULL, as a callback id 0. The caller passes the bound of the
-- purchase's months (audit_since), as to EventInsert. The events come back
-- in no particular order: the caller sorts them by seq.
WITH calls AS (
    INSERT INTO provider_calls (purchase_id, provider, operation, reference, http_status, code, message,
                                outcome, reason, latency_ms, request, response, error, created_at)
    SELECT @purchase_id, c.provider, c.operation, nullif(c.reference, ''), c.http_status, c.code, c.message,
           c.outcome, c.reason, c.latency_ms, c.request, c.response, c.error, c.created_at
    FROM ROWS FROM (unnest(@call_provider::text[]), unnest(@call_operation::text[]), unnest(@call_reference::text[]), unnest(@call_http_status::integer[]), unnest(@call_code::text[]), unnest(@call_message::text[]), unnest(@call_outcome::text[]), unnest(@call_reason::text[]), unnest(@call_latency_ms::integer[]), unnest(@call_request::text[]), unnest(@call_response::text[]), unnest(@call_error::text[]), unnest(@call_created_at::timestamptz[])) WITH ORDINALITY
         AS c(provider, operation, reference, http_status, code, message, outcome, reason, latency_ms,
              request, response, error, created_at, n)
    ORDER BY c.n
    RETURNING id
), numbered AS (
    SELECT id, row_number() OVER (ORDER BY id) AS n FROM calls
), last AS (
    SELECT coalesce(max(e.seq), 0) AS seq FROM purchase_events e
    WHERE e.purchase_id = @purchase_id
      AND e.created_at >= sqlc.arg(audit_since)::timestamptz
)
INSERT INTO purchase_events (purchase_id, seq, kind, name, from_status, to_status, actor,
                             provider_call_id, callback_id, data, created_at)
SELECT @purchase_id, last.seq + v.n, v.kind, v.name, nullif(v.from_status, '')::purchase_status,
       nullif(v.to_status, '')::purchase_status, v.actor, numbered.id, nullif(v.callback_id, 0),
       v.data::jsonb, v.created_at
FROM ROWS FROM (unnest(@event_kind::text[]), unnest(@event_name::text[]), unnest(@event_from::text[]), unnest(@event_to::text[]), unnest(@event_actor::text[]), unnest(@event_call::bigint[]), unnest(@event_callback_id::bigint[]), unnest(@event_data::text[]), unnest(@event_created_at::timestamptz[])) WITH ORDINALITY
     AS v(kind, name, from_status, to_status, actor, call, callback_id, data, created_at, n)
CROSS JOIN last
LEFT JOIN numbered ON numbered.n = v.call
ORDER BY v.n
RETURNING *;

-- name: EventListByPurchase :many
-- Reads the purchase's created_at itself (its callers, tests among them,
-- hold only its id).
SELECT * FROM purchase_events
WHERE purchase_id = @purchase_id
  AND created_at >= (SELECT p.created_at - interval '1 day' FROM purchases p WHERE p.id = @purchase_id)
ORDER BY seq;

-- name: EventListByPurchaseShown :many
-- A purchase's events in seq order as the API shows them. A provider
-- call's event stores no data of its own: its data is its call's code, HTTP
-- status, latency and reason, read from the call's row (events stored
-- before that hold the same in data; docs/audit.md#the-audit-tables). The
-- caller holds the purchase and passes the bound of its months
-- (audit_since, as to EventInsert).
SELECT e.id, e.purchase_id, e.kind, e.name, e.from_status, e.to_status, e.actor,
       e.provider_call_id, e.callback_id,
       (CASE WHEN c.id IS NULL THEN e.data
             ELSE e.data || jsonb_build_object('code', c.code, 'http_status', c.http_status,
                                               'latency_ms', c.latency_ms, 'reason', c.reason)
        END)::jsonb AS data,
       e.created_at, e.seq
FROM purchase_events e
LEFT JOIN provider_calls c ON c.id = e.provider_call_id AND c.created_at >= sqlc.arg(audit_since)::timestamptz
WHERE e.purchase_id = @purchase_id
  AND e.created_at >= sqlc.arg(audit_since)::timestamptz
ORDER BY e.seq;

-- name: ProviderCallInsert :one
INSERT INTO provider_calls (purchase_id, provider, operation, reference, http_status, code, message,
                            outcome, reason, latency_ms, request, response, error, created_at)
VALUES (@purchase_id, @provider, @operation, @reference, @http_status, @code, @message,
        @outcome, @reason, @latency_ms, @request, @response, @error, @created_at)
RETURNING id;

-- name: ProviderCallListByPurchase :many
-- Reads the purchase's created_at itself, like EventListByPurchase.
SELECT * FROM provider_calls
WHERE purchase_id = @purchase_id
  AND created_at >= (SELECT p.created_at - interval '1 day' FROM purchases p WHERE p.id = @purchase_id)
ORDER BY id;

-- name: CallbackInsert :one
-- Stores a callback once per provider and body hash, with what was done
-- with it; no row for a duplicate. The dedupe is callback_digests' primary
-- key (callbacks is partitioned by month, so no unique index of it spans
-- the months): the callback is stored only when its digest is new, in the
-- same statement.
WITH digest AS (
    INSERT INTO callback_digests (provider, body_sha256, received_at)
    VALUES (@provider, @body_sha256, @received_at)
    ON CONFLICT (provider, body_sha256) DO NOTHING
    RETURNING provider, body_sha256, received_at
)
INSERT INTO callbacks (provider, body_sha256, body, authenticated, reference, purchase_id, outcome, action, received_at)
SELECT d.provider, d.body_sha256, @body, @authenticated, @reference, @purchase_id, @outcome, @action, d.received_at
FROM digest d
RETURNING *;

-- name: AlertInsert :execrows
-- Raises an alert; a purchase raises each kind once per provider (0 rows:
-- already raised).
INSERT INTO alerts (kind, provider, purchase_id, message, data, created_at)
VALUES (@kind, @provider, @purchase_id, @message, @data, @created_at)
ON CONFLICT (kind, purchase_id, (coalesce(provider, ''))) WHERE purchase_id IS NOT NULL DO NOTHING;

-- name: ProviderBalanceInsert :exec
INSERT INTO provider_balances (provider, balance, source, observed_at)
VALUES (@provider, @balance, @source, @observed_at);

-- name: ProviderBalanceLatest :one
SELECT * FROM provider_balances WHERE provider = @provider ORDER BY observed_at DESC, id DESC LIMIT 1;

-- name: CallbackHeldFailure :one
-- Whether a signed FAILED callback for the purchase was held during its
-- payment call (applied once the call's answer is known).
SELECT EXISTS (
    SELECT 1 FROM callbacks
    WHERE purchase_id = @purchase_id::uuid AND action = 'held' AND authenticated AND outcome = 'failed'
      AND received_at >= sqlc.arg(audit_since)::timestamptz
) AS held;

-- name: CallbackOutcomesByPurchase :many
-- The outcomes provider callbacks reported for a purchase, oldest first.
SELECT id, outcome, authenticated FROM callbacks
WHERE purchase_id = @purchase_id::uuid AND outcome IS NOT NULL
  AND received_at >= sqlc.arg(audit_since)::timestamptz
ORDER BY id;
