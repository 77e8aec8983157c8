package snapcart

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/ppob-orchestrator/orchestrator/internal/providers"
)

// saysSuccess is an independent reading of a body: does it really report a
// final success (status_code 200, biller_code 200, no "process")?
func saysSuccess(body []byte, top bool) bool {
	var m map[string]any
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	if d.Decode(&m) != nil {
		return false
	}
	str := func(v any) string {
		switch x := v.(type) {
		case string:
			return x
		case json.Number:
			return x.String()
		}
		return ""
	}
	data := m
	if !top {
		data, _ = m["data"].(map[string]any)
	}
	msg := strings.ToLower(str(m["status_message"]) + str(data["biller_message"]))
	return strings.TrimSpace(str(m["status_code"])) == "200" && strings.TrimSpace(str(data["biller_code"])) == "200" && !strings.Contains(msg, "process")
}

func seedCorpus(f *testing.F) {
	for _, s := range []string{
		seedInquiryAnswer, seedGameAnswer, seedThirdParty, seedValidation, seedIncorrect, seedNoProduct, seedInsufficient, seedPaymentAck,
		`{"data":{"order_id":"ORD1","amount":5500,"biller_code":"200","biller_message":"Transaction successful","serial_number":"1"},"status_code":"200","status_message":"Transaction successful"}`,
		`{"data":{"amount":"5.500.0"},"status_code":"200"}`, `{"status_code":200}`, `<html>`, `null`, ``,
	} {
		f.Add(200, []byte(s))
	}
	f.Add(500, []byte(seedPaymentAck))
	f.Add(404, []byte(`{"data":null,"status_code":"404","status_message":"Transaction not found"}`))
}

func answerCall(status int) providers.Call {
	return providers.Call{HTTPStatus: status}
}

func FuzzParseInquiry(f *testing.F) {
	seedCorpus(f)
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		for _, fam := range []providers.Family{providers.FamilyPostpaid, providers.FamilyGameVoucher, ""} {
			inq := interpretInquiry(answerCall(status), body, fam)
			if !inq.Outcome.Valid() {
				t.Fatalf("invalid outcome %q", inq.Outcome)
			}
			if inq.Outcome == providers.Succeeded {
				env, err := decodeEnvelope(body)
				if err != nil || env.StatusCode != "200" || status >= 500 || status == 401 {
					t.Fatalf("inquiry succeeded on HTTP %d %q", status, body)
				}
				if inq.Amount < 0 || (fam == providers.FamilyPostpaid && inq.RequestID == "") {
					t.Fatalf("succeeded billing inquiry without request_id or with amount %d: %q", inq.Amount, body)
				}
			}
		}
	})
}

func FuzzParsePayment(f *testing.F) {
	seedCorpus(f)
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		p := interpretPayment(answerCall(status), body, "")
		if !p.Outcome.Valid() || p.Outcome == providers.Succeeded {
			t.Fatalf("payment answer classified %q: %q", p.Outcome, body)
		}
		if status >= 500 && p.Outcome != providers.Unknown {
			t.Fatalf("HTTP %d classified %s", status, p.Outcome)
		}
	})
}

func FuzzParseStatus(f *testing.F) {
	seedCorpus(f)
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		st := interpretStatus(answerCall(status), body)
		if !st.Outcome.Valid() {
			t.Fatalf("invalid outcome %q", st.Outcome)
		}
		if st.Outcome == providers.Succeeded && (!saysSuccess(body, false) || status >= 500 || status == 401 || st.Amount < 0) {
			t.Fatalf("status succeeded on HTTP %d %q", status, body)
		}
	})
}

func FuzzParseCallback(f *testing.F) {
	f.Add([]byte(`{"request_id":"01KAGRHEMR0341YR52FFQ4SX1S","reference_id":"pur-1","product_code":"TSEL10","bill_amount":10150,"bill_number":"081234567890","status_code":"200","status_message":"Transaction successful","biller_code":"200","biller_message":"Transaction successful","serial_number":"0041"}`))
	f.Add([]byte(`{"status_code":"200","biller_code":"200","biller_message":"Transaction is being processed"}`))
	f.Add([]byte(`{"status_code":"400","status_message":"Transaction failed"}`))
	f.Add([]byte(`{"status_code":200,"biller_code":200,"bill_amount":"1.000"}`))
	f.Add([]byte(`garbage`))
	f.Fuzz(func(t *testing.T, body []byte) {
		st, err := ParseCallback(body)
		if !st.Outcome.Valid() || (err != nil && st.Outcome != providers.Unknown) {
			t.Fatalf("ParseCallback = %q, %v", st.Outcome, err)
		}
		if st.Outcome == providers.Succeeded && (!saysSuccess(body, true) || st.Amount < 0) {
			t.Fatalf("callback succeeded on %q", body)
		}
	})
}

func FuzzParseCatalog(f *testing.F) {
	f.Add([]byte(`[{"id":1,"item_code":"TSEL10","name":"x","price":10150}]`))
	f.Add([]byte(`[{"price":"1.000"},{"price":1e3}]`))
	f.Add([]byte(`{"price":1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var items []catalogItem
		if err := decodeList(data, &items); err != nil {
			return
		}
		for _, it := range items {
			if it.Price.Set && it.Price.Value < 0 {
				t.Fatalf("negative price from %q", data)
			}
		}
	})
}
