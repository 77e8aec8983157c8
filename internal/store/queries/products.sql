-- name: ProductUpsert :one
-- Creates or renames a product (ours: the code clients send).
INSERT INTO products (code, name, family, updated_at)
VALUES (@code, @name, @family, @updated_at)
ON CONFLICT (code) DO UPDATE SET name = excluded.name, family = excluded.family, updated_at = excluded.updated_at
RETURNING *;

-- name: ProductGet :one
SELECT * FROM products WHERE code = @code;

-- name: ProductList :many
SELECT * FROM products ORDER BY family, code;

-- name: OfferUpsert :one
-- Creates or replaces one provider's offer of a product.
INSERT INTO offers (product_code, provider, provider_product_code, item_code, inquiry, priority,
                    price, price_fetched_at, enabled, active, updated_at)
VALUES (@product_code, @provider, @provider_product_code, @item_code, @inquiry, @priority,
        @price, @price_fetched_at, @enabled, @active, @updated_at)
ON CONFLICT (product_code, provider) DO UPDATE SET
    provider_product_code = excluded.provider_product_code, item_code = excluded.item_code,
    inquiry = excluded.inquiry, priority = excluded.priority, price = excluded.price,
    price_fetched_at = excluded.price_fetched_at, enabled = excluded.enabled,
    active = excluded.active, updated_at = excluded.updated_at
RETURNING *;

-- name: OfferDeleteOthers :exec
-- Deletes a product's offers of providers not in the list (a replaced set).
DELETE FROM offers WHERE product_code = @product_code AND NOT (provider = ANY(@providers::text[]));

-- name: OfferGet :one
-- One provider's offer of a product, with the product's family.
SELECT sqlc.embed(o), p.family FROM offers o JOIN products p ON p.code = o.product_code
WHERE o.product_code = @product_code AND o.provider = @provider;

-- name: OfferListByProduct :many
-- A product's offers in route order: priority, then price (cheapest first;
-- unknown last), then provider.
SELECT * FROM offers WHERE product_code = @product_code
ORDER BY priority, price NULLS LAST, provider;

-- name: OfferList :many
-- Every offer, in each product's route order.
SELECT * FROM offers ORDER BY product_code, priority, price NULLS LAST, provider;

-- name: OfferSetPrice :execrows
-- Refreshes the provider price of every offer the provider sells under
-- provider_product_code (and item_code, when given).
UPDATE offers
SET price = @price, price_fetched_at = @fetched_at, enabled = @enabled, updated_at = @fetched_at
WHERE provider = @provider AND provider_product_code = @provider_product_code
  AND (sqlc.narg('item_code')::text IS NULL OR item_code = sqlc.narg('item_code'));

-- name: ProviderList :many
-- Every provider whose state was ever set (a provider without a row is
-- not paused).
SELECT * FROM providers ORDER BY name;

-- name: ProviderSetPaused :one
-- Pauses or resumes a provider; returns the state it had before (false for
-- a provider never set).
WITH before AS (SELECT paused FROM providers WHERE name = @name)
INSERT INTO providers (name, paused, updated_at) VALUES (@name, @paused, @updated_at)
ON CONFLICT (name) DO UPDATE SET paused = excluded.paused, updated_at = excluded.updated_at
RETURNING coalesce((SELECT paused FROM before), false)::boolean AS was_paused;

-- name: AdminEventInsert :exec
INSERT INTO admin_events (actor, action, subject, before, after, created_at)
VALUES (@actor, @action, @subject, @before, @after, @created_at);

-- name: AdminEventList :many
SELECT * FROM admin_events WHERE (sqlc.narg('subject')::text IS NULL OR subject = sqlc.narg('subject'))
ORDER BY id DESC LIMIT @row_limit;
