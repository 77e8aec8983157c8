package flow

import "testing"

// The fingerprint is canonical: defaults applied, identifiers normalized,
// field order fixed — and every field of docs/api.md's list changes it.
func TestFingerprintCanonical(t *testing.T) {
	t.Parallel()
	base := CreateRequest{ReferenceID: "r", ProductCode: "PLN20", CustomerNumber: "0110-569 1111"}
	same := CreateRequest{ReferenceID: "other-ref", ProductCode: "PLN20", CustomerNumber: "01105691111", Confirmation: "automatic"}
	base.Normalize()
	same.Normalize()
	if base.Fingerprint() != same.Fingerprint() {
		t.Fatalf("equivalent requests differ:\n%s\n%s", base.canonical(), same.canonical())
	}
	want := `{"confirmation":"automatic","customer_number":"01105691111","max_price":null,"period":"","phone":"","product_code":"PLN20","selling_price":null,"user_id":"","zone_id":""}`
	if base.canonical() != want {
		t.Fatalf("canonical JSON changed:\n got %s\nwant %s", base.canonical(), want)
	}
	// What is stored is the digest of the canonical JSON (sha256 of want).
	if fp := base.Fingerprint(); fp != "CKkwzi/zSe9s6ZOI1mGNvR2xNKXZP4sd5t9jZ62Q9tQ" {
		t.Fatalf("fingerprint %q", fp)
	}
	one := int64(1)
	for name, mutate := range map[string]func(*CreateRequest){
		"product_code":    func(r *CreateRequest) { r.ProductCode = "PLN50" },
		"customer_number": func(r *CreateRequest) { r.CustomerNumber = "01105691112" },
		"phone":           func(r *CreateRequest) { r.Phone = "0812" },
		"user_id":         func(r *CreateRequest) { r.UserID = "u" },
		"zone_id":         func(r *CreateRequest) { r.ZoneID = "z" },
		"period":          func(r *CreateRequest) { r.Period = "2025-11" },
		"max_price":       func(r *CreateRequest) { r.MaxPrice = &one },
		"selling_price":   func(r *CreateRequest) { r.SellingPrice = &one },
		"confirmation":    func(r *CreateRequest) { r.Confirmation = "manual" },
	} {
		r := base
		mutate(&r)
		r.Normalize()
		if r.Fingerprint() == base.Fingerprint() {
			t.Errorf("changing %s does not change the fingerprint", name)
		}
	}
}

// A repeat is recognized by the stored digest, and by the canonical JSON
// that purchases created before the digest keep; anything else is another
// request.
func TestSameRequest(t *testing.T) {
	t.Parallel()
	r := CreateRequest{ReferenceID: "r", ProductCode: "PLN20", CustomerNumber: "01105691111"}
	r.Normalize()
	other := r
	other.CustomerNumber = "01105691112"
	for stored, want := range map[string]bool{
		r.Fingerprint():       true,
		r.canonical():         true,
		other.Fingerprint():   false,
		other.canonical():     false,
		"":                    false,
		r.Fingerprint() + "=": false,
	} {
		if got := r.sameRequest(stored); got != want {
			t.Errorf("sameRequest(%q) = %v, want %v", stored, got, want)
		}
	}
}

func BenchmarkFingerprint(b *testing.B) {
	mp := int64(21000)
	b.ReportAllocs()
	for b.Loop() {
		r := CreateRequest{ReferenceID: "order-2025-000123", ProductCode: "PLN20", CustomerNumber: "0110-569 1111", Phone: "0812-3456-7890", MaxPrice: &mp}
		r.Normalize()
		_ = r.Fingerprint()
	}
}
