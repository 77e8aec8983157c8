package klikoo

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/ppob-orchestrator/orchestrator/internal/providers"
)

// The fuzz targets hold one property beyond "no panic": an answer is
// Succeeded only if it is JSON with a success code on a 2xx status (and,
// for transactions, a SUCCESS status word). Garbage never succeeds.

// successEnvelope reports whether body is a JSON answer whose response_code
// is a success code, on a 2xx HTTP status.
func successEnvelope(status int, body []byte) bool {
	if status < 200 || status > 299 || !json.Valid(body) {
		return false
	}
	env, err := decodeEnvelope(body)
	if err != nil || !validCode(env.Code) {
		return false
	}
	return env.Code[:3] == "200" || env.Code[:3] == "201"
}

func addAnswerSeeds(f *testing.F) {
	seeds := []string{
		seedSuccessAnswer, seedFailureAnswer,
		`{"response_code":"201022001","response_message":"Sukses","data":{"transaction_id":14430374,"partner_reference_id":"r"}}`,
		`{"response_code":"200022000","data":{"transaction_id":"1","partner_reference_id":"r","status":"SUCCESS","amount":"20500","sn":"x","current_balance":5}}`,
		`{"response_code":"200022000","data":{"items":[{"partner_reference_id":"r","status":"PENDING","amount":1}],"total":1}}`,
		`{"response_code":"200032000","data":{"balance":1000}}`,
		`{"response_code":"200042000","data":{"items":[{"code":"S10","name":"x","category":"Pulsa","enable":true,"agent_price":10150}]}}`,
		`{"response_code":"200012000","data":{"access_token":"t","token_type":"Bearer","expires_in":900}}`,
		`{"response_code":"409026563","response_message":"used"}`,
		`{"response_code":2000200,"data":{"amount":"1"}}`,
		`<html>ok</html>`, ``, `null`, `{"response_code":"200022000","data":{"amount":"1e3"}}`,
	}
	for _, s := range seeds {
		for _, status := range []int{200, 201, 404, 500, 503} {
			f.Add(status, []byte(s))
		}
	}
}

func FuzzParseInquiry(f *testing.F) {
	addAnswerSeeds(f)
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		var out providers.Inquiry
		readInquiry(answerFrom(status, body), &out)
		if !out.Outcome.Valid() {
			t.Fatalf("invalid outcome %q", out.Outcome)
		}
		if out.Outcome == providers.Succeeded {
			if !successEnvelope(status, body) {
				t.Fatalf("garbage succeeded: %d %q", status, body)
			}
			if out.Amount < 0 || out.Total < 0 {
				t.Fatalf("negative money from %q", body)
			}
		}
		if out.Outcome != providers.Succeeded && (out.Amount != 0 || out.CustomerName != "") {
			t.Fatalf("a %s inquiry carries a price or a name: %+v", out.Outcome, out)
		}
	})
}

func FuzzParsePayment(f *testing.F) {
	addAnswerSeeds(f)
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		var out providers.Payment
		readPayment(answerFrom(status, body), &out)
		if !out.Outcome.Valid() {
			t.Fatalf("invalid outcome %q", out.Outcome)
		}
		switch out.Outcome {
		case providers.Succeeded, providers.NotFound, providers.Refunded:
			t.Fatalf("a buy answer is never %s: %d %q", out.Outcome, status, body)
		case providers.Pending:
			env, err := decodeEnvelope(body)
			accepted := successEnvelope(status, body)
			repeat := err == nil && validCode(env.Code) && wildcard(env.Code) == "409xx6563" && status < 500
			if !accepted && !repeat {
				t.Fatalf("pending from garbage: %d %q", status, body)
			}
		case providers.Failed:
			if status >= 500 {
				t.Fatalf("a buy answered %d failed: %q", status, body)
			}
		}
	})
}

func FuzzParseLookup(f *testing.F) {
	addAnswerSeeds(f)
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		a := answerFrom(status, body)
		check := func(kind string, st providers.Status) {
			if !st.Outcome.Valid() {
				t.Fatalf("%s: invalid outcome %q", kind, st.Outcome)
			}
			if st.Outcome == providers.Succeeded {
				if !successEnvelope(status, body) || strings.ToUpper(strings.TrimSpace(st.RawStatus)) != "SUCCESS" {
					t.Fatalf("%s: garbage succeeded: %d %q", kind, status, body)
				}
				if st.Reference != "r" && st.Reference != "" {
					t.Fatalf("%s: succeeded for another reference %q", kind, st.Reference)
				}
			}
			if st.Outcome == providers.Failed && st.Reason != providers.ReasonTransactionFailed {
				t.Fatalf("%s: failed without a FAILED status: %+v", kind, st)
			}
		}
		check("detail", readDetail(a, "r"))
		st, _ := readHistoryPage(a, "r", 1, 50)
		check("history", st)
		if st.Outcome == providers.Succeeded && st.Reference != "r" {
			t.Fatalf("history matched %q for r", st.Reference)
		}
	})
}

func FuzzParseCallback(f *testing.F) {
	f.Add([]byte(`{"response_code":"200022000","partner_reference_id":"r","transaction_id":1,"amount":"20500","transaction_status":"SUCCESS","sn":"1","current_balance":1,"beginning_balance":2}`))
	f.Add([]byte(`{"partner_reference_id":"r","transaction_status":"REFUND","amount":"1"}`))
	f.Add([]byte(`{"partner_reference_id":"r","transaction_status":"SUCCESS","amount":"1.5"}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(``))
	f.Fuzz(func(t *testing.T, body []byte) {
		st, err := ParseCallback(body)
		if err != nil {
			if st.Outcome != "" {
				t.Fatalf("error with an outcome: %+v", st)
			}
			return
		}
		if !st.Outcome.Valid() || st.Reference == "" || !json.Valid(body) {
			t.Fatalf("accepted %q as %+v", body, st)
		}
		if st.Outcome == providers.Succeeded && strings.ToUpper(strings.TrimSpace(st.RawStatus)) != "SUCCESS" {
			t.Fatalf("succeeded without SUCCESS: %q", body)
		}
	})
}

func FuzzParseAccount(f *testing.F) {
	addAnswerSeeds(f)
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		a := answerFrom(status, body)
		if _, res := readBalance(a); res.Outcome == providers.Succeeded && !successEnvelope(status, body) {
			t.Fatalf("balance: garbage succeeded: %q", body)
		}
		items, _, res := readProducts(a)
		if res.Outcome == providers.Succeeded && !successEnvelope(status, body) {
			t.Fatalf("products: garbage succeeded: %q", body)
		}
		if res.Outcome != providers.Succeeded && len(items) != 0 {
			t.Fatalf("products: items from a failed page")
		}
		for _, p := range items {
			if p.Code == "" || p.Price < 0 {
				t.Fatalf("products: bad item %+v", p)
			}
		}
		tok, ttl, v := readToken(a)
		if v.OK && (tok == "" || ttl <= 0 || !successEnvelope(status, body)) {
			t.Fatalf("token from garbage: %q", body)
		}
		if !v.OK && v.Outcome == providers.Succeeded {
			t.Fatalf("token verdict succeeded without OK")
		}
	})
}
