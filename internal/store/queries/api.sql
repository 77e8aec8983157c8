-- name: PurchaseCountForClient :one
-- How many purchases a client has (tests prove a rejected request stored nothing).
SELECT count(*) AS count FROM purchases WHERE client_id = @client_id;
