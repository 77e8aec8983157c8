package klikoo

import "testing"

func BenchmarkRequestSignature(b *testing.B) {
	body := []byte(`{"msidn":"081234567800","amount":"10150","product_code":"S10","selling_price":"11000","value":"081234567800","partner_reference_id":"9d37f9ad-3b1c-4c5e-8f0a-1b2c3d4e5f60"}`)
	b.ReportAllocs()
	for b.Loop() {
		_ = requestSignature("sim-client-secret-0123456789abcdef", "POST", "/v1/open-api/products/buy", "eyJhbGciOiJIUzI1NiJ9.test-access-token", body, "2024-02-07T10:28:35.000+07:00")
	}
}

func BenchmarkClassifyPayment(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = paymentCodes.classify(201, "201022001", "Created")
		_ = paymentCodes.classify(409, "409026563", "reference already used")
		_ = paymentCodes.classify(503, "503029998", "amount below minimum")
	}
}
