-- For sqlc only, never executed: River's job table as far as the
-- benchmark's queries read it. River's own migrations create the real one.
CREATE TABLE river_job (
    id    bigint PRIMARY KEY,
    state text   NOT NULL,
    queue text   NOT NULL
);
