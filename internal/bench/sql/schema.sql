-- The engine floor's table: one row per chain, advanced by each of the
-- chain's three jobs. The benchmark creates it at start (it is not part of
-- the product's schema) and empties it before each floor run.
CREATE TABLE IF NOT EXISTS bench_chain (
    id         bigint      PRIMARY KEY,
    step       integer     NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now()
);
