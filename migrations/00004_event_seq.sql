-- Each purchase event carries seq, its number within the purchase (1, 2, 3,
-- …), assigned under the purchase's row lock by the statement that inserts
-- it. GET /v1/purchases/{id}/events and the webhook messages show the same
-- seq (docs/invariants.md#5-one-event-per-change, docs/webhooks.md), so a
-- client can order what it receives. The unique index proves no two events
-- of a purchase share a number, even if a writer forgot the lock.

-- +goose Up

ALTER TABLE purchase_events ADD COLUMN seq integer;

-- Number the events already there (the table is append-only: the backfill
-- is the one change allowed, with its trigger held for this statement).
ALTER TABLE purchase_events DISABLE TRIGGER purchase_events_append_only;
UPDATE purchase_events e SET seq = n.seq
FROM (SELECT id, row_number() OVER (PARTITION BY purchase_id ORDER BY id) AS seq FROM purchase_events) n
WHERE e.id = n.id;
ALTER TABLE purchase_events ENABLE TRIGGER purchase_events_append_only;

ALTER TABLE purchase_events ALTER COLUMN seq SET NOT NULL,
    ADD CONSTRAINT purchase_events_seq_positive CHECK (seq > 0);

CREATE UNIQUE INDEX purchase_events_purchase_seq ON purchase_events (purchase_id, seq);
DROP INDEX purchase_events_purchase;

-- +goose Down

CREATE INDEX purchase_events_purchase ON purchase_events (purchase_id, id);
DROP INDEX purchase_events_purchase_seq;
ALTER TABLE purchase_events DROP COLUMN seq;
