-- name: PurchaseAttemptInsert :exec
-- Records an attempt the purchase moved on from (a failover).
INSERT INTO purchase_attempts (purchase_id, number, provider, provider_product_code, provider_reference,
                               provider_request_id, provider_transaction_id, payment_attempts,
                               failure_code, failure_message, started_at, ended_at)
VALUES (@purchase_id, @number, @provider, @provider_product_code, @provider_reference,
        @provider_request_id, @provider_transaction_id, @payment_attempts,
        @failure_code, @failure_message, @started_at, @ended_at);

-- name: PurchaseAttemptList :many
-- The attempts a purchase moved on from, in order.
SELECT * FROM purchase_attempts WHERE purchase_id = @purchase_id ORDER BY number;

-- name: PurchaseAttemptGetByReference :one
-- The ended attempt that sent a provider reference.
SELECT * FROM purchase_attempts WHERE provider = @provider AND provider_reference = @provider_reference;

-- name: ProviderBalanceLatestAll :many
-- Each provider's last known deposit.
SELECT provider, balance, observed_at FROM provider_balance_latest ORDER BY provider;

-- name: PurchaseAttemptGet :one
SELECT * FROM purchase_attempts WHERE purchase_id = @purchase_id AND number = @number;

-- name: PurchaseAttemptListMany :many
-- The attempts the given purchases moved on from.
SELECT * FROM purchase_attempts WHERE purchase_id = ANY(@purchase_ids::uuid[]) ORDER BY purchase_id, number;

-- name: PurchaseAttemptListAll :many
-- Every ended attempt (verification after a chaos run).
SELECT * FROM purchase_attempts ORDER BY purchase_id, number;
