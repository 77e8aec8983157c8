-- For sqlc only, never executed: River's job table, as far as our queries
-- read or write it. River's own migrations (goose step 00002, River
-- version 8) create the real one; these columns are unchanged since River's
-- version 1 table.
CREATE TABLE river_job (
    id           bigint      PRIMARY KEY,
    state        text        NOT NULL,
    queue        text        NOT NULL,
    kind         text        NOT NULL,
    args         jsonb       NOT NULL,
    metadata     jsonb       NOT NULL,
    finalized_at timestamptz
);
