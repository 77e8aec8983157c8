package httpapi_test

import (
	"net/http"
	"testing"

	"github.com/ppob-orchestrator/orchestrator/internal/flowtest"
)

// FuzzCreatePurchaseBody posts arbitrary bodies to POST /v1/purchases: the
// answer is never a 500, and a purchase row appears only with a 201.
// Run it with: go test -run '^$' -fuzz FuzzCreatePurchaseBody ./internal/httpapi/
func FuzzCreatePurchaseBody(f *testing.F) {
	for _, seed := range []string{
		`{"reference_id":"f1","product_code":"S10","customer_number":"081211110000"}`,
		`{"reference_id":"f2","product_code":"PLN20","customer_number":"01105691111","max_price":21000,"selling_price":22000,"confirmation":"manual","allow_repeat":true}`,
		`{"reference_id":"f3","product_code":"ML-DIAMONDS-86","user_id":"PLAYER1","zone_id":"SEA"}`,
		`{"reference_id":"f4","product_code":"BPJS","customer_number":"8888801234567890","phone":"081234567890","period":"2025-11"}`,
		`{"reference_id":"f5","product_code":"S10\u0000","customer_number":"\ud800"}`,
		`{"reference_id":"f6","product_code":"S10","customer_number":"081211110000","max_price":1e400}`,
		`{"reference_id":null,"product_code":["S10"],"customer_number":{}}`,
		`{"reference_id":"f7"} {}`,
		`[]`, `null`, `"x"`, ``, `{`, "\xff\xfe{}",
	} {
		f.Add([]byte(seed))
	}
	e := setup(f, flowtest.Options{NoStart: true}, nil)
	f.Fuzz(func(t *testing.T, body []byte) {
		before := e.count(t, e.A)
		r := e.call(t, http.MethodPost, "/v1/purchases", e.KeyA, body)
		if r.Status >= 500 {
			t.Fatalf("body %q: %s", body, r)
		}
		after := e.count(t, e.A)
		switch {
		case r.Status == http.StatusCreated && after != before+1:
			t.Fatalf("201 but %d→%d purchases", before, after)
		case r.Status != http.StatusCreated && after != before:
			t.Fatalf("answer %d but %d→%d purchases: %q", r.Status, before, after, body)
		}
	})
}
