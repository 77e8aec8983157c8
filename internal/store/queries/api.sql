-- name: ProductListEnabled :many
-- The catalog as partners see it: enabled products only.
SELECT * FROM products WHERE enabled ORDER BY provider, family, code;

-- name: PurchaseCountForClient :one
-- How many purchases a client has (tests prove a rejected request stored nothing).
SELECT count(*) AS count FROM purchases WHERE client_id = @client_id;
