package klikoo

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/ppob-orchestrator/orchestrator/internal/providers"
	"github.com/ppob-orchestrator/orchestrator/internal/providers/klikoo/klikoosim"
	"github.com/ppob-orchestrator/orchestrator/internal/providers/simkit"
)

func TestControlRoutes(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ref := uuid.NewString()
	if p := e.pay(t, ref, s10, "081234567800", s10.price); p.Outcome != providers.Pending {
		t.Fatalf("pay: %v", p.Result)
	}
	get := func(path string) simkit.LedgerView {
		t.Helper()
		resp, err := http.Get(e.srv.URL + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		var v simkit.LedgerView
		if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
			t.Fatalf("ledger view: %v", err)
		}
		return v
	}
	v := get("/_sim/ledger")
	if len(v.Charges) != 1 || v.Charges[0].Reference != ref || v.Charges[0].Count != 1 || v.DoubleCharges != 0 || v.Balance != klikoosim.DefaultBalance-s10.price {
		t.Fatalf("ledger %+v", v)
	}
	resp, err := http.Post(e.srv.URL+klikoosim.DefaultPrefix+"/_sim/ledger", "application/json", nil)
	if err != nil {
		t.Fatalf("post under prefix: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		t.Fatalf("control routes must live at the root only")
	}
	resp, err = http.Post(e.srv.URL+"/_sim/reset", "application/json", nil)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("reset: %v %v", resp, err)
	}
	resp.Body.Close()
	if v := get("/_sim/ledger"); len(v.Charges) != 0 || v.Balance != klikoosim.DefaultBalance {
		t.Fatalf("ledger after reset %+v", v)
	}
	// The reset forgot the transaction; the token survived.
	if st := e.lookup(ref, ""); st.Outcome != providers.NotFound || len(st.Calls) != 1 {
		t.Fatalf("lookup after reset: %v calls %v", st.Result, ops(st.Result))
	}
	// Faults: every call reset before or after processing.
	resp, err = http.Post(e.srv.URL+"/_sim/faults", "application/json", strings.NewReader(`{"reset_rate":1}`))
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("faults: %v %v", resp, err)
	}
	resp.Body.Close()
	if _, res := e.client.Balance(context.Background()); res.Outcome != providers.Unknown || res.Reason != providers.ReasonConnection {
		t.Fatalf("balance under reset faults: %v", res)
	}
}

func TestSimulatorWithoutPrefix(t *testing.T) {
	t.Parallel()
	e := setup(t, withSim(func(c *klikoosim.Config) { c.Prefix = "/" }))
	c, err := New(Config{BaseURL: e.srv.URL, ClientID: testVectors(t).ClientID, ClientSecret: testVectors(t).ClientSecret, PrivateKey: testKey(t), Now: e.clock.Now})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if _, res := c.Balance(context.Background()); res.Outcome != providers.Succeeded {
		t.Fatalf("balance without prefix: %v", res)
	}
	if _, res := e.client.Balance(context.Background()); res.Outcome == providers.Succeeded {
		t.Fatalf("the prefixed client reached a prefix-less simulator")
	}
}

// rawCall sends a signed call built by hand, to probe the simulator's wire
// checks the client never violates.
func rawCall(t *testing.T, e *env, method, path, body string, edit func(*http.Request)) (int, string) {
	t.Helper()
	var res providers.Result
	tok, ok := e.client.accessToken(context.Background(), "", &res)
	if !ok {
		t.Fatalf("token: %v", res)
	}
	u, _ := url.Parse(path)
	ts := timestamp(e.clock.Now())
	var b []byte
	if body != "" {
		b = []byte(body)
	}
	req, _ := http.NewRequest(method, e.srv.URL+klikoosim.DefaultPrefix+path, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Open-Api-Timestamp", ts)
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Open-Api-Signature", requestSignature(testVectors(t).ClientSecret, method, u.Path, tok, b, ts))
	if edit != nil {
		edit(req)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var env struct {
		Code string `json:"response_code"`
	}
	_ = json.Unmarshal(raw, &env)
	return resp.StatusCode, env.Code
}

func TestSimulatorWireChecks(t *testing.T) {
	t.Parallel()
	e := setup(t)
	buy := `{"msidn":"081234567800","amount":"10150","product_code":"S10","selling_price":"10150","value":"081234567800","partner_reference_id":"r-1"}`
	cases := []struct {
		name   string
		method string
		path   string
		body   string
		edit   func(*http.Request)
		code   string
	}{
		{"no bearer", "GET", balancePath, "", func(r *http.Request) { r.Header.Del("Authorization") }, "401036500"},
		{"unknown token", "GET", balancePath, "", func(r *http.Request) { r.Header.Set("Authorization", "Bearer nope") }, "401036535"},
		{"UTC timestamp", "GET", balancePath, "", func(r *http.Request) {
			r.Header.Set("Open-Api-Timestamp", e.clock.Now().UTC().Format("2006-01-02T15:04:05.000Z07:00"))
		}, "400036505"},
		{"query is not signed", "GET", transactionsPath + "?page=1&limit=5&q=zzz", "", nil, "200022000"},
		{"history from in UTC", "GET", transactionsPath + "?from=2024-01-01T00:00:00Z", "", nil, "400026510"},
		{"history limit too big", "GET", transactionsPath + "?limit=1000", "", nil, "400026510"},
		{"buy with a number", "POST", buyPath, strings.Replace(buy, `"10150",`, `10150,`, 1), nil, "400026510"},
		{"buy with an empty field", "POST", buyPath, strings.Replace(buy, `"r-1"`, `""`, 1), nil, "400026512"},
		{"buy without a field", "POST", buyPath, `{"msidn":"1"}`, nil, "400026512"},
		{"buy not JSON", "POST", buyPath, `nope`, nil, "400026510"},
		{"buy as text/plain", "POST", buyPath, buy, func(r *http.Request) { r.Header.Set("Content-Type", "text/plain") }, "400026510"},
		{"products limit 0", "POST", productsPath, `{"limit":0,"page":1,"search":[],"sort":{"field":"code","value":"asc"}}`, nil, "400046510"},
		{"products search", "POST", productsPath, `{"limit":10,"page":1,"search":[{"field":"category","value":"pln"}],"sort":{"field":"agent_price","value":"desc"}}`, nil, "200042000"},
		{"prepaid inquiry of pulsa", "POST", prepaidInquiryPath, strings.Replace(buy, "r-1", "r-2", 1), nil, "400026525"},
		{"postpaid inquiry of PLN", "POST", postpaidInquiryPath, `{"account_number":"1","product_code":"PLN20"}`, nil, "400026525"},
		{"bpjs inquiry without period", "POST", postpaidInquiryPath, `{"account_number":"1","product_code":"BPJSKS"}`, nil, "400026512"},
	}
	for _, c := range cases {
		if _, code := rawCall(t, e, c.method, c.path, c.body, c.edit); code != c.code {
			t.Fatalf("%s: code %s, want %s", c.name, code, c.code)
		}
	}
	if e.sim.Ledger().Balance() != klikoosim.DefaultBalance {
		t.Fatalf("a refused call charged")
	}
}

func TestSimulatorTimestampSkewWindow(t *testing.T) {
	t.Parallel()
	e := setup(t, withSim(func(c *klikoosim.Config) { c.MaxSkew = time.Minute }))
	for _, c := range []struct {
		offset time.Duration
		code   string
	}{
		{59 * time.Second, "200032000"},
		{-59 * time.Second, "200032000"},
		{61 * time.Second, "400036505"},
		{-61 * time.Second, "400036505"},
	} {
		_, code := rawCall(t, e, "GET", balancePath, "", func(r *http.Request) {
			ts := timestamp(e.clock.Now().Add(c.offset))
			r.Header.Set("Open-Api-Timestamp", ts)
			tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
			r.Header.Set("Open-Api-Signature", requestSignature(testVectors(t).ClientSecret, "GET", balancePath, tok, nil, ts))
		})
		if code != c.code {
			t.Fatalf("offset %v: code %s, want %s", c.offset, code, c.code)
		}
	}
}
