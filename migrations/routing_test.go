package migrations_test

import (
	"context"
	"fmt"
	"testing"
)

// statuses are every purchase status, each with the columns its CHECKs
// require (paid ones with our reference and amount, terminal ones
// completed, a failure its code, a success its result and price).
var statuses = []struct{ status, extra string }{
	{"received", ""},
	{"inquiring", ", inquiry_attempts = 1"},
	{"awaiting_confirmation", ", expires_at = now() + interval '10 minutes'"},
	{"paying", ", amount = 10150, provider_reference = 'ref-' || id, payment_attempts = 1, payment_in_flight = true"},
	{"processing", ", amount = 10150, provider_reference = 'ref-' || id, payment_attempts = 1, payment_uncertain = true"},
	{"succeeded", ", amount = 10150, provider_reference = 'ref-' || id, payment_attempts = 1, price = 10150, result = '{\"serial_number\":\"SN\"}', completed_at = now()"},
	{"failed", ", failure_code = 'customer_not_found', failure_message = 'no', completed_at = now()"},
	{"canceled", ", completed_at = now()"},
	{"needs_review", ", amount = 10150, provider_reference = 'ref-' || id, payment_attempts = 2, payment_uncertain = true"},
}

// The routing migration turns each product into a product with one offer
// and keeps every purchase — of every status — readable with its single
// attempt; down restores the previous shape with the same values.
func TestRoutingMigratesExistingData(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, p := emptyDatabase(t)
	if _, err := p.UpTo(ctx, 8); err != nil {
		t.Fatalf("up to 8: %v", err)
	}
	exec := sqlRunner{t, db}.exec
	exec(`INSERT INTO clients (id, name, key_hash, key_prefix) VALUES ('00000000-0000-0000-0000-000000000001', 'shop', decode(repeat('ab', 32), 'hex'), 'k')`)
	exec(`INSERT INTO products (code, name, provider, family, inquiry, provider_product_code, item_code, price, price_fetched_at, enabled)
		VALUES ('S10', 'Telkomsel 10.000', 'klikoo', 'pulsa', 'none', 'S10-K', NULL, 10150, now(), true),
		       ('ML86', 'Mobile Legends 86', 'snapcart', 'game_voucher', 'required', 'MLBB', 'ML-86', NULL, NULL, false)`)
	for i, s := range statuses {
		exec(fmt.Sprintf(`INSERT INTO purchases (id, client_id, reference_id, fingerprint, status, product_code, provider, family,
			customer_number, customer_key, confirmation, created_at, updated_at)
			VALUES ('00000000-0000-0000-0000-%012d', '00000000-0000-0000-0000-000000000001', 'ref-%d', '{}', 'received',
			        'S10', 'klikoo', 'pulsa', '08121111%04d', '08121111%04d', 'automatic', now(), now())`, i+1, i, i, i))
		exec(fmt.Sprintf(`ALTER TABLE purchases DISABLE TRIGGER purchase_transition;
			UPDATE purchases SET status = '%s'%s WHERE reference_id = 'ref-%d';
			ALTER TABLE purchases ENABLE TRIGGER purchase_transition`, s.status, s.extra, i))
	}

	if _, err := p.UpTo(ctx, 9); err != nil {
		t.Fatalf("up to 9: %v", err)
	}
	var offers, badPurchases, attempts int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM offers o JOIN products p ON p.code = o.product_code
		WHERE (o.product_code, o.provider, o.provider_product_code, coalesce(o.item_code, ''), o.inquiry, coalesce(o.price, 0), o.enabled, o.active) IN
		      (('S10', 'klikoo', 'S10-K', '', 'none', 10150, true, true), ('ML86', 'snapcart', 'MLBB', 'ML-86', 'required', 0, false, true))`).Scan(&offers); err != nil || offers != 2 {
		t.Fatalf("%d offers kept the products' values (%v), want 2", offers, err)
	}
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM purchases
		WHERE route <> ARRAY['klikoo'] OR attempt <> 1 OR provider_product_code <> 'S10-K' OR attempt_started_at <> created_at`).Scan(&badPurchases); err != nil || badPurchases != 0 {
		t.Fatalf("%d purchases without their single attempt's route (%v)", badPurchases, err)
	}
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM purchase_attempt_list l JOIN purchases p ON p.id = l.purchase_id
		WHERE l.number = 1 AND l.provider = 'klikoo' AND l.outcome = p.status::text`).Scan(&attempts); err != nil || attempts != len(statuses) {
		t.Fatalf("%d purchases listed with their one attempt (%v), want %d", attempts, err, len(statuses))
	}
	// Every status still moves as the new machine says: a received one can
	// now fail over without its CHECKs breaking.
	exec(`UPDATE purchases SET status = 'inquiring' WHERE reference_id = 'ref-0'`)
	exec(`UPDATE purchases SET status = 'received', attempt = 2, provider = 'klikoo' WHERE reference_id = 'ref-0'`)

	if _, err := p.DownTo(ctx, 8); err != nil {
		t.Fatalf("down to 8: %v", err)
	}
	var restored int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM products
		WHERE (code, provider, provider_product_code, inquiry, enabled) IN (('S10', 'klikoo', 'S10-K', 'none', true), ('ML86', 'snapcart', 'MLBB', 'required', false))`).Scan(&restored); err != nil || restored != 2 {
		t.Fatalf("%d products restored (%v), want 2", restored, err)
	}
	var kept int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM purchases`).Scan(&kept); err != nil || kept != len(statuses) {
		t.Fatalf("%d purchases after down (%v), want %d", kept, err, len(statuses))
	}
	var column int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM information_schema.columns WHERE table_name = 'purchases' AND column_name IN ('route', 'attempt')`).Scan(&column); err != nil || column != 0 {
		t.Fatalf("purchases still has routing columns after down (%d, %v)", column, err)
	}
	if _, err := p.Up(ctx); err != nil {
		t.Fatalf("up again: %v", err)
	}
}
