package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/ppob-orchestrator/orchestrator/internal/flowtest"
)

// Rejected create requests: each answers its problem, names each bad field,
// and stores nothing.
func TestCreateRejections(t *testing.T) {
	t.Parallel()
	e := setup(t, flowtest.Options{NoStart: true}, nil)
	valid := `{"reference_id":"r1","product_code":"S10","customer_number":"081211110000"}`
	for _, tc := range []struct {
		name        string
		body        string
		contentType string
		status      int
		code        string
		fields      []string // named in errors, for validation_failed
	}{
		{"too large", `{"reference_id":"` + strings.Repeat("a", 64<<10) + `"}`, "", 413, "payload_too_large", nil},
		{"text/plain", valid, "text/plain", 415, "unsupported_media_type", nil},
		{"form", "reference_id=r1", "application/x-www-form-urlencoded", 415, "unsupported_media_type", nil},
		{"no content type", valid, "-", 415, "unsupported_media_type", nil},
		{"empty", "", "", 422, "validation_failed", []string{"body"}},
		{"not JSON", "{reference_id:", "", 422, "validation_failed", []string{"body"}},
		{"array", `[` + valid + `]`, "", 422, "validation_failed", []string{"body"}},
		{"trailing garbage", valid + `x`, "", 422, "validation_failed", []string{"body"}},
		{"two objects", valid + valid, "", 422, "validation_failed", []string{"body"}},
		{"unknown fields", `{"reference_id":"r1","product_code":"S10","customer_number":"081211110000","amount":5,"coupon":"x"}`, "", 422, "validation_failed", []string{"amount", "coupon"}},
		{"wrong types", `{"reference_id":7,"product_code":"S10","customer_number":"081211110000","max_price":"21000","allow_repeat":"yes"}`, "", 422, "validation_failed", []string{"reference_id", "max_price", "allow_repeat"}},
		{"fraction", `{"reference_id":"r1","product_code":"S10","customer_number":"081211110000","max_price":21000.5}`, "", 422, "validation_failed", []string{"max_price"}},
		{"repeated member", `{"reference_id":"r1","reference_id":"r2","product_code":"S10","customer_number":"081211110000"}`, "", 422, "validation_failed", []string{"reference_id"}},
		{"NUL", `{"reference_id":"r1","product_code":"S1\u00000","customer_number":"081211110000"}`, "", 422, "validation_failed", []string{"product_code"}},
		{"type error and missing fields together", `{"max_price":"x"}`, "", 422, "validation_failed", []string{"max_price", "reference_id", "product_code"}},
		{"missing fields", `{}`, "", 422, "validation_failed", []string{"reference_id", "product_code"}},
		{"bad reference and confirmation", `{"reference_id":"a b","product_code":"S10","customer_number":"081211110000","confirmation":"later"}`, "", 422, "validation_failed", []string{"reference_id", "confirmation"}},
		{"customer number for the product", `{"reference_id":"r1","product_code":"PLN20"}`, "", 422, "validation_failed", []string{"customer_number"}},
		{"game voucher without user", `{"reference_id":"r1","product_code":"ML-DIAMONDS-86","customer_number":"081211110000"}`, "", 422, "validation_failed", []string{"user_id", "zone_id", "customer_number"}},
		{"negative max_price", `{"reference_id":"r1","product_code":"S10","customer_number":"081211110000","max_price":-1}`, "", 422, "validation_failed", []string{"max_price"}},
		{"unknown product", `{"reference_id":"r1","product_code":"NOPE","customer_number":"081211110000"}`, "", 422, "unknown_product", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var header []string
			switch tc.contentType {
			case "":
			case "-":
				header = []string{"Content-Type", ""}
			default:
				header = []string{"Content-Type", tc.contentType}
			}
			r := e.call(t, http.MethodPost, "/v1/purchases", e.KeyA, tc.body, header...)
			p := wantProblem(t, r, tc.status, tc.code)
			named := map[string]bool{}
			if errs, ok := p["errors"].([]any); ok {
				for _, x := range errs {
					named[x.(map[string]any)["field"].(string)] = true
				}
			}
			for _, f := range tc.fields {
				if !named[f] {
					t.Fatalf("errors do not name %s: %s", f, r)
				}
			}
		})
	}
	if n := e.count(t, e.A); n != 0 {
		t.Fatalf("rejected requests stored %d purchases", n)
	}
	// The valid body, with a JSON media type carrying parameters, is accepted.
	want(t, e.call(t, http.MethodPost, "/v1/purchases", e.KeyA, valid, "Content-Type", "application/json; charset=utf-8"), http.StatusCreated)
}
