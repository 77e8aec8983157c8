package klikoo

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/ppob-orchestrator/orchestrator/internal/providers"
	"github.com/ppob-orchestrator/orchestrator/internal/providers/klikoo/klikoosim"
)

func TestCallbacksByScenario(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		p      product
		value  string
		want   []providers.Outcome
		serial bool // the first callback carries a serial number
	}{
		{"00 PLN", pln20, "551234569900", []providers.Outcome{S}, true},
		{"01 PLN", pln20, "551234569901", []providers.Outcome{S}, true},
		{"default", s10, "081234567800", []providers.Outcome{S}, true},
		{"22", s10, "08123459922", []providers.Outcome{F}, false},
		{"24", pln20, "551234569924", []providers.Outcome{R}, false},
		{"52", s10, "08123459952", []providers.Outcome{S, S, P}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t, withCallbacks())
			ref := uuid.NewString()
			pay := e.pay(t, ref, c.p, c.value, c.p.price)
			if pay.Outcome != P {
				t.Fatalf("pay: %v", pay.Result)
			}
			bodies := e.callbacks.waitFor(t, ref, len(c.want))
			for i, b := range bodies {
				st, err := ParseCallback(b)
				if err != nil {
					t.Fatalf("callback %d %s: %v", i, b, err)
				}
				if st.Outcome != c.want[i] || st.Reference != ref || st.TransactionID != pay.TransactionID || st.Amount != c.p.price || st.ProductCode != c.p.code {
					t.Fatalf("callback %d: %+v", i, st)
				}
				if st.Balance == nil {
					t.Fatalf("callback %d without current_balance", i)
				}
			}
			first, _ := ParseCallback(bodies[0])
			if (first.SerialNumber != "") != c.serial {
				t.Fatalf("first callback serial %q, want present=%v", first.SerialNumber, c.serial)
			}
			if c.p.family == providers.FamilyPLNPrepaid && c.serial {
				if _, err := providers.ParsePLNSerial(first.SerialNumber); err != nil {
					t.Fatalf("PLN callback serial %q: %v", first.SerialNumber, err)
				}
			}
			if c.name == "52" && !bytes.Equal(bodies[0], bodies[1]) {
				t.Fatalf("52's duplicate differs:\n%s\n%s", bodies[0], bodies[1])
			}
		})
	}
}

// TestNoCallbackFor41: 41's callback would be due before 00's, which was
// scheduled after it with the same delay; once 00's has arrived, 41's would
// have too.
func TestNoCallbackFor41(t *testing.T) {
	t.Parallel()
	e := setup(t, withCallbacks())
	silent, loud := uuid.NewString(), uuid.NewString()
	e.pay(t, silent, s10, "08123459941", s10.price)
	e.pay(t, loud, s10, "081234567800", s10.price)
	e.callbacks.waitFor(t, loud, 1)
	if got := e.callbacks.forRef(t, silent); len(got) != 0 {
		t.Fatalf("41 sent callbacks: %q", got)
	}
}

// TestScenario01CallbackAtOnce: scenario 01's callback ignores the
// configured delay (an hour here, which holds back 00's), and its history
// lookup by our reference says SUCCESS with the token from the first one.
func TestScenario01CallbackAtOnce(t *testing.T) {
	t.Parallel()
	e := setup(t, withCallbacks(), withSim(func(c *klikoosim.Config) { c.CallbackDelay = time.Hour }))
	fast, slow := uuid.NewString(), uuid.NewString()
	if pay := e.pay(t, slow, pln20, "551234569900", pln20.price); pay.Outcome != P {
		t.Fatalf("pay 00: %v", pay.Result)
	}
	if pay := e.pay(t, fast, pln20, "551234569901", pln20.price); pay.Outcome != P {
		t.Fatalf("pay 01: %v", pay.Result)
	}
	body := e.callbacks.waitFor(t, fast, 1)[0]
	hint, err := ParseCallback(body)
	if err != nil || hint.Outcome != S || hint.SerialNumber == "" {
		t.Fatalf("01 callback %s: %+v %v", body, hint, err)
	}
	if got := e.callbacks.forRef(t, slow); len(got) != 0 {
		t.Fatalf("00 called back before its delay: %q", got)
	}
	st := e.lookup(fast, "")
	if st.Outcome != S || st.SerialNumber != hint.SerialNumber || len(st.Calls) != 1 {
		t.Fatalf("first history lookup: %v serial %q calls %v", st.Result, st.SerialNumber, ops(st.Result))
	}
	if _, err := providers.ParsePLNSerial(st.SerialNumber); err != nil {
		t.Fatalf("01 serial %q: %v", st.SerialNumber, err)
	}
}

func TestScenario51PendingUntilCallback(t *testing.T) {
	t.Parallel()
	e := setup(t, withCallbacks(), withSim(func(c *klikoosim.Config) { c.CallbackDelay = 500 * time.Millisecond }))
	ref := uuid.NewString()
	pay := e.pay(t, ref, s10, "08123459951", s10.price)
	if pay.Outcome != P {
		t.Fatalf("pay: %v", pay.Result)
	}
	if st := e.lookup(ref, pay.TransactionID); st.Outcome != P {
		t.Fatalf("lookup before the callback: %v", st.Result)
	}
	body := e.callbacks.waitFor(t, ref, 1)[0]
	hint, err := ParseCallback(body)
	if err != nil || hint.Outcome != S {
		t.Fatalf("callback %s: %+v %v", body, hint, err)
	}
	if st := e.lookup(ref, pay.TransactionID); st.Outcome != S || st.SerialNumber == "" {
		t.Fatalf("lookup the hint triggers: %v", st.Result)
	}
	if e.charge(ref).Count != 1 {
		t.Fatalf("charge count %d", e.charge(ref).Count)
	}
}

func TestCallbackRetriedOnRefusal(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) < 3 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	e := setup(t, withSim(func(c *klikoosim.Config) { c.CallbackURL = srv.URL; c.CallbackClient = srv.Client() }))
	e.pay(t, uuid.NewString(), s10, "081234567800", s10.price)
	deadline := time.Now().Add(5 * time.Second)
	for hits.Load() < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("callback delivered %d times, want 3 (two refusals, then accepted)", hits.Load())
		}
		time.Sleep(10 * time.Millisecond) // polling a condition
	}
	e.sim.Close() // waits for the sender: no further attempt after the 2xx
	if n := hits.Load(); n != 3 {
		t.Fatalf("%d deliveries, want 3", n)
	}
}

func TestCloseStopsPendingCallbacks(t *testing.T) {
	t.Parallel()
	e := setup(t, withCallbacks(), withSim(func(c *klikoosim.Config) { c.CallbackDelay = time.Hour }))
	ref := uuid.NewString()
	e.pay(t, ref, s10, "081234567800", s10.price)
	done := make(chan struct{})
	go func() { e.sim.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatalf("Close did not stop a callback due in an hour")
	}
	if got := e.callbacks.forRef(t, ref); len(got) != 0 {
		t.Fatalf("callback sent after Close")
	}
	// After Close the handler still answers but schedules nothing.
	if p := e.pay(t, uuid.NewString(), s10, "081234567800", s10.price); p.Outcome != P {
		t.Fatalf("pay after Close: %v", p.Result)
	}
}

func TestParseCallback(t *testing.T) {
	t.Parallel()
	good := `{"response_code":"200022000","response_message":"Sukses","partner_reference_id":"r","transaction_id":14430374,"amount":"20500","transaction_time":"2024-02-07 10:28:35","transaction_status":"SUCCESS","reason":"","product_name":"PLN 20.000","sn":"12345678901234567890/BAHARRUDIN1/R1/2200VA/13.8","value":"01105691111","customer_name":"BAHARRUDIN1","current_balance":979500,"beginning_balance":1000000,"product_code":"PLN20","extra":{"x":1}}`
	st, err := ParseCallback([]byte(good))
	if err != nil {
		t.Fatalf("ParseCallback: %v", err)
	}
	if st.Outcome != S || st.Reference != "r" || st.TransactionID != "14430374" || st.Amount != 20500 || *st.Balance != 979500 ||
		st.RawStatus != "SUCCESS" || st.CustomerName != "BAHARRUDIN1" || st.ProductCode != "PLN20" || len(st.Calls) != 0 {
		t.Fatalf("parsed %+v", st)
	}
	bad := []string{
		``, `null`, `[]`, `"x"`, `{}`,
		`{"partner_reference_id":"r"}`,
		`{"transaction_status":"SUCCESS"}`,
		`{"partner_reference_id":"r","transaction_status":""}`,
		`{"partner_reference_id":"r","transaction_status":"SUCCESS","amount":"20.500"}`,
		`{"partner_reference_id":"r","transaction_status":"SUCCESS","amount":"-1"}`,
		`{"partner_reference_id":"r","transaction_status":"SUCCESS","amount":1e3}`,
		`{"partner_reference_id":"r","transaction_status":"SUCCESS","current_balance":-1}`,
		`{"partner_reference_id":"r","transaction_status":"SUCCESS","current_balance":1.5}`,
		`{"partner_reference_id":"r","transaction_status":"SUCCESS","sn":{"a":1}}`,
		`{"partner_reference_id":{"a":1},"transaction_status":"SUCCESS"}`,
		`{"partner_reference_id":"r","transaction_status":"SUCCESS","response_code":[1]}`,
	}
	for _, b := range bad {
		if st, err := ParseCallback([]byte(b)); err == nil || !errors.Is(err, ErrBadCallback) {
			t.Fatalf("ParseCallback(%s) = %+v, %v; want ErrBadCallback", b, st, err)
		}
	}
}
