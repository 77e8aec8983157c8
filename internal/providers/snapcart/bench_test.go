package snapcart

import "testing"

func BenchmarkClassify(b *testing.B) {
	ack := signal{Code: "200", Message: "Transaction successful", BillerCode: "200", BillerMessage: "Transaction is being processed"}
	done := signal{Code: "200", Message: "Transaction successful", BillerCode: "200", BillerMessage: "Success"}
	b.ReportAllocs()
	for b.Loop() {
		_, _, _ = classify(opPayment, ack)
		_, _, _ = classify(opLookup, done)
	}
}

func BenchmarkSignCallback(b *testing.B) {
	body := []byte(`{"request_id":"01K9Y5K0YP9B1MPKCEVJCACZ3B","reference_id":"0193a4f2-0000-7000-8000-000000000000","status_code":"200"}`)
	b.ReportAllocs()
	for b.Loop() {
		_ = SignCallback([]byte("secret"), body)
	}
}
