package snapcart

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ppob-orchestrator/orchestrator/internal/providers"
	"github.com/ppob-orchestrator/orchestrator/internal/providers/snapcart/snapcartsim"
)

// The vector was computed outside Go: printf '%s' "$body" | openssl dgst
// -sha256 -hmac 'snapcart-callback-secret' (and Python's hmac agrees).
const (
	vectorSecret = "snapcart-callback-secret"
	vectorBody   = `{"request_id":"01KAGRHEMR0341YR52FFQ4SX1S","status_code":"200"}`
	vectorSig    = "386327359247f75f1afdaed86cff42693d10f8d3825ad4a1139ccd2af0b51c00"
)

func TestCallbackSignature(t *testing.T) {
	t.Parallel()
	secret, body := []byte(vectorSecret), []byte(vectorBody)
	if got := SignCallback(secret, body); got != vectorSig {
		t.Fatalf("SignCallback = %s, want the openssl vector %s", got, vectorSig)
	}
	cases := []struct {
		name   string
		secret string
		body   string
		sig    string
		want   bool
	}{
		{"good", vectorSecret, vectorBody, vectorSig, true},
		{"upper-case hex", vectorSecret, vectorBody, strings.ToUpper(vectorSig), true},
		{"tampered body", vectorSecret, strings.Replace(vectorBody, "200", "400", 1), vectorSig, false},
		{"trailing newline", vectorSecret, vectorBody + "\n", vectorSig, false},
		{"wrong secret", "another-secret", vectorBody, vectorSig, false},
		{"missing signature", vectorSecret, vectorBody, "", false},
		{"no secret configured", "", vectorBody, SignCallback(nil, []byte(vectorBody)), false},
		{"truncated", vectorSecret, vectorBody, vectorSig[:62], false},
		{"not hex", vectorSecret, vectorBody, strings.Repeat("zz", 32), false},
	}
	for _, c := range cases {
		if got := VerifyCallback([]byte(c.secret), []byte(c.body), c.sig); got != c.want {
			t.Fatalf("%s: VerifyCallback = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestParseCallback(t *testing.T) {
	t.Parallel()
	body := `{"request_id":"01KAGRHEMR0341YR52FFQ4SX1S","reference_id":"pur-1","product_code":"TSEL10","bill_amount":10150.0,"bill_number":"081234567890","status_code":"200","status_message":"Transaction successful","biller_code":"200","biller_message":"Transaction successful","serial_number":"0041","extra":{"x":1}}`
	st, err := ParseCallback([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	want := providers.Status{Result: providers.Result{Outcome: providers.Succeeded, Detail: "Transaction successful: Transaction successful"},
		Reference: "pur-1", TransactionID: "01KAGRHEMR0341YR52FFQ4SX1S", ProductCode: "TSEL10", Amount: 10150, SerialNumber: "0041", RawStatus: "200/200"}
	if st.Outcome != want.Outcome || st.Reference != want.Reference || st.TransactionID != want.TransactionID || st.ProductCode != want.ProductCode ||
		st.Amount != want.Amount || st.SerialNumber != want.SerialNumber || st.RawStatus != want.RawStatus {
		t.Fatalf("ParseCallback = %+v, want %+v", st, want)
	}
	for _, bad := range []string{``, `null`, `[]`, `{}`, `{"status_code":"200","bill_amount":"abc"}`, `{"status_code":"200","bill_amount":1.5}`, `{"status_code":{}}`, `<xml/>`} {
		st, err := ParseCallback([]byte(bad))
		if err == nil || st.Outcome != providers.Unknown {
			t.Fatalf("ParseCallback(%q) = %s, %v; want an error and unknown", bad, st.Outcome, err)
		}
	}
}

// TestCallbackRetriesOnRefusal: a non-2xx answer is retried, boundedly.
func TestCallbackRetriesOnRefusal(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *snapcartsim.Config) { c.CallbackAttempts = 3 })
	b.rcv.refuse.Store(1)
	ref := newRef()
	b.client.Pay(ctx(t), providers.PaymentRequest{Reference: ref, ProductCode: "TSEL10", CustomerNumber: "081234567890"})
	got := b.rcv.waitCallbacks(t, ref, 2)
	if string(got[0].body) != string(got[1].body) {
		t.Fatalf("retry sent a different body: %s vs %s", got[0].body, got[1].body)
	}

	// A receiver that always refuses gets exactly CallbackAttempts tries.
	b2 := setup(t, func(c *snapcartsim.Config) { c.CallbackAttempts = 2 })
	b2.rcv.refuse.Store(1000)
	ref2 := newRef()
	b2.client.Pay(ctx(t), providers.PaymentRequest{Reference: ref2, ProductCode: "TSEL10", CustomerNumber: "081234567890"})
	b2.rcv.waitCallbacks(t, ref2, 2)
	b2.sim.Close() // waits for the sender: no third attempt can follow
	if n := len(b2.rcv.forReference(t, ref2)); n != 2 {
		t.Fatalf("%d deliveries, want CallbackAttempts = 2", n)
	}
}

// TestScenario01CallbackAtOnce: scenario 01's signed SUCCESS callback
// ignores the configured delay (an hour here, which holds back 00's), and
// its first lookup already says SUCCESS with the serial.
func TestScenario01CallbackAtOnce(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *snapcartsim.Config) { c.CallbackDelay = time.Hour })
	slow, fast := newRef(), newRef()
	b.client.Pay(ctx(t), providers.PaymentRequest{Reference: slow, ProductCode: "TSEL10", Family: providers.FamilyPulsa, CustomerNumber: "081234569900"})
	pay := b.client.Pay(ctx(t), providers.PaymentRequest{Reference: fast, ProductCode: "TSEL10", Family: providers.FamilyPulsa, CustomerNumber: "081234569901"})
	if pay.Outcome != providers.Pending {
		t.Fatalf("payment %s", oc(pay.Result))
	}
	got := b.rcv.waitCallbacks(t, fast, 1)
	if !VerifyCallback([]byte(testSecret), got[0].body, got[0].signature) {
		t.Fatalf("01 callback not signed: %s", got[0].body)
	}
	cb, err := ParseCallback(got[0].body)
	if err != nil || cb.Outcome != providers.Succeeded || cb.SerialNumber == "" || cb.TransactionID != pay.RequestID {
		t.Fatalf("01 callback %s: %+v %v", got[0].body, cb, err)
	}
	if n := len(b.rcv.forReference(t, slow)); n != 0 {
		t.Fatalf("00 called back before its delay (%d)", n)
	}
	st := b.client.Lookup(ctx(t), providers.LookupRequest{Reference: fast, RequestID: pay.RequestID})
	if st.Outcome != providers.Succeeded || st.SerialNumber != cb.SerialNumber {
		t.Fatalf("first lookup %s serial %q, want succeeded with %q", oc(st.Result), st.SerialNumber, cb.SerialNumber)
	}
}

// TestCloseStopsCallbacks: Close cancels callbacks not yet sent.
func TestCloseStopsCallbacks(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *snapcartsim.Config) { c.CallbackDelay = time.Hour })
	pay := b.client.Pay(ctx(t), providers.PaymentRequest{Reference: newRef(), ProductCode: "TSEL10", CustomerNumber: "081234567890"})
	if pay.Outcome != providers.Pending {
		t.Fatalf("payment %s", oc(pay.Result))
	}
	done := make(chan struct{})
	go func() { b.sim.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not stop a pending callback")
	}
	if n := len(b.rcv.all()); n != 0 {
		t.Fatalf("%d callbacks sent after Close", n)
	}
}

// TestUnsignedCallbacksWithoutSecret: no secret, no X-Signature.
func TestUnsignedCallbacksWithoutSecret(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *snapcartsim.Config) { c.CallbackSecret = "" })
	ref := newRef()
	b.client.Pay(ctx(t), providers.PaymentRequest{Reference: ref, ProductCode: "TSEL10", CustomerNumber: "081234567890"})
	got := b.rcv.waitCallbacks(t, ref, 1)
	if got[0].signature != "" || VerifyCallback([]byte(testSecret), got[0].body, got[0].signature) {
		t.Fatalf("unsigned callback carried %q or verified", got[0].signature)
	}
}

// TestControlRoutes covers /_sim/ledger, /_sim/faults and /_sim/reset.
func TestControlRoutes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ref := newRef()
	b.client.Pay(ctx(t), providers.PaymentRequest{Reference: ref, ProductCode: "XL25", CustomerNumber: "081734567890"})
	var view struct {
		Balance int64 `json:"balance"`
		Charges []struct {
			Reference string `json:"reference"`
			Amount    int64  `json:"amount"`
			Count     int    `json:"count"`
		} `json:"charges"`
	}
	getJSON(t, b.srv.URL+"/_sim/ledger", &view)
	if view.Balance != snapcartsim.DefaultBalance-24900 || len(view.Charges) != 1 || view.Charges[0].Reference != ref || view.Charges[0].Count != 1 {
		t.Fatalf("ledger view %+v", view)
	}
	post := func(path, body string) int {
		resp, err := http.Post(b.srv.URL+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := post("/_sim/faults", `{"server_error_rate":1}`); got != 200 {
		t.Fatalf("POST /_sim/faults: %d", got)
	}
	st := b.client.Lookup(ctx(t), providers.LookupRequest{RequestID: "01KAGRHEMR0341YR52FFQ4SX1S"})
	if oc(st.Result) != "unknown/server_error" {
		t.Fatalf("lookup under a 5xx fault: %s", oc(st.Result))
	}
	if got := post("/_sim/reset", ``); got != 200 {
		t.Fatalf("POST /_sim/reset: %d", got)
	}
	getJSON(t, b.srv.URL+"/_sim/ledger", &view)
	if view.Balance != snapcartsim.DefaultBalance || len(view.Charges) != 0 || b.sim.Faults().Get().ServerErrorRate != 0 {
		t.Fatalf("after reset: %+v", view)
	}
}
