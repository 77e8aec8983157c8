-- name: ProductUpsert :one
INSERT INTO products (code, name, provider, family, inquiry, provider_product_code, item_code,
                      price, price_fetched_at, enabled, updated_at)
VALUES (@code, @name, @provider, @family, @inquiry, @provider_product_code, @item_code,
        @price, @price_fetched_at, @enabled, @updated_at)
ON CONFLICT (code) DO UPDATE SET
    name = excluded.name, provider = excluded.provider, family = excluded.family,
    inquiry = excluded.inquiry, provider_product_code = excluded.provider_product_code,
    item_code = excluded.item_code, price = excluded.price,
    price_fetched_at = excluded.price_fetched_at, enabled = excluded.enabled,
    updated_at = excluded.updated_at
RETURNING *;

-- name: ProductGet :one
SELECT * FROM products WHERE code = @code;

-- name: ProductList :many
SELECT * FROM products ORDER BY provider, family, code;

-- name: ProductSetPrice :execrows
-- Refreshes the provider price of every product the provider sells under
-- provider_product_code (and item_code, when given).
UPDATE products
SET price = @price, price_fetched_at = @fetched_at, enabled = @enabled, updated_at = @fetched_at
WHERE provider = @provider AND provider_product_code = @provider_product_code
  AND (sqlc.narg('item_code')::text IS NULL OR item_code = sqlc.narg('item_code'));
