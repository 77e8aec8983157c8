-- name: ClientInsert :one
INSERT INTO clients (id, name, key_hash, key_prefix, created_at)
VALUES (@id, @name, @key_hash, @key_prefix, @created_at)
RETURNING *;

-- name: ClientGetByKeyHash :one
SELECT * FROM clients WHERE key_hash = @key_hash AND disabled_at IS NULL;
