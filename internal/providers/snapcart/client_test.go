package snapcart

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ppob-orchestrator/orchestrator/internal/providers"
	"github.com/ppob-orchestrator/orchestrator/internal/providers/snapcart/snapcartsim"
)

func TestNewValidatesConfig(t *testing.T) {
	t.Parallel()
	ok := Config{BaseURL: "https://api.example", APIKey: "k"}
	cases := []struct {
		mod   func(*Config)
		field string
	}{
		{func(c *Config) { c.BaseURL = "" }, "BaseURL"},
		{func(c *Config) { c.BaseURL = "ftp://x" }, "BaseURL"},
		{func(c *Config) { c.BaseURL = "/relative" }, "BaseURL"},
		{func(c *Config) { c.BaseURL = "https://x?q=1" }, "BaseURL"},
		{func(c *Config) { c.APIKey = "" }, "APIKey"},
		{func(c *Config) { c.APIKey = "a\nb" }, "APIKey"},
		{func(c *Config) { c.PathPrefix = "api/v1/" }, "PathPrefix"},
		{func(c *Config) { c.PathPrefix = "/api/v1" }, "PathPrefix"},
		{func(c *Config) { c.CatalogPrefix = "/a b/" }, "CatalogPrefix"},
		{func(c *Config) { c.CatalogTypes = []string{"pulsa", "a/b"} }, "CatalogTypes"},
		{func(c *Config) { c.Timeout = -time.Second }, "Timeout"},
	}
	for _, tc := range cases {
		cfg := ok
		tc.mod(&cfg)
		_, err := New(cfg)
		if err == nil || !strings.Contains(err.Error(), tc.field) {
			t.Fatalf("New(%+v) = %v, want an error naming %s", cfg, err, tc.field)
		}
	}
	c, err := New(ok)
	if err != nil {
		t.Fatal(err)
	}
	if c.prefix != DefaultPathPrefix || c.catalogPrefix != DefaultCatalogPrefix || c.http.Timeout != DefaultTimeout {
		t.Fatalf("defaults not applied: %+v", c)
	}
	if _, err := New(Config{BaseURL: "https://user:pw@x/", APIKey: "k", PathPrefix: "bad"}); err == nil || strings.Contains(err.Error(), "pw") {
		t.Fatalf("error %v leaks or is missing", err)
	}
}

// TestOneStepRepeatIsChargedTwice proves the simulator charges a one-step
// payment every time it receives it (why the flow must never repeat one),
// while a repeated two-step payment answers the first acknowledgement and
// charges once.
func TestOneStepRepeatIsChargedTwice(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ref := newRef()
	req := providers.PaymentRequest{Reference: ref, ProductCode: "TSEL10", Family: providers.FamilyPulsa, CustomerNumber: "081298761234"}
	first, second := b.client.Pay(ctx(t), req), b.client.Pay(ctx(t), req)
	if first.Outcome != providers.Pending || second.Outcome != providers.Pending || first.RequestID == second.RequestID {
		t.Fatalf("one-step payments: %s %q, %s %q; want two pending with different request_ids", first.Outcome, first.RequestID, second.Outcome, second.RequestID)
	}
	if c, _ := b.sim.Ledger().Get(ref); c.Count != 2 || c.Amount != 2*10150 {
		t.Fatalf("ledger %+v, want the one-step payment charged twice", c)
	}

	ref2 := newRef()
	inq := b.client.Inquiry(ctx(t), providers.InquiryRequest{ProductCode: "PDAM_KOTA", Family: providers.FamilyPostpaid, CustomerNumber: "3201123456"})
	two := providers.PaymentRequest{Reference: ref2, ProductCode: "PDAM_KOTA", Family: providers.FamilyPostpaid, RequestID: inq.RequestID}
	p1, p2 := b.client.Pay(ctx(t), two), b.client.Pay(ctx(t), two)
	if p1.Outcome != providers.Pending || p2.Outcome != providers.Pending || p1.RequestID != p2.RequestID || p1.Calls[0].Response != p2.Calls[0].Response {
		t.Fatalf("two-step repeat: %+v then %+v; want the first acknowledgement again", p1.Calls, p2.Calls)
	}
	if c, _ := b.sim.Ledger().Get(ref2); c.Count != 1 || c.Amount != 87500 {
		t.Fatalf("ledger %+v, want one charge for the two-step payment", c)
	}
	var view struct {
		DoubleCharges int `json:"double_charges"`
	}
	getJSON(t, b.srv.URL+"/_sim/ledger", &view)
	if view.DoubleCharges != 1 {
		t.Fatalf("GET /_sim/ledger double_charges = %d, want 1", view.DoubleCharges)
	}
}

// TestConcurrentTwoStepRepeatsChargeOnce races repeats of one request_id.
func TestConcurrentTwoStepRepeatsChargeOnce(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ref := newRef()
	inq := b.client.Inquiry(ctx(t), providers.InquiryRequest{ProductCode: "BPJS_KES", Family: providers.FamilyBPJS, CustomerNumber: "0001234567890"})
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			b.client.Pay(ctx(t), providers.PaymentRequest{Reference: ref, ProductCode: "BPJS_KES", Family: providers.FamilyBPJS, RequestID: inq.RequestID})
		})
	}
	wg.Wait()
	if c, _ := b.sim.Ledger().Get(ref); c.Count != 1 {
		t.Fatalf("ledger %+v, want exactly one charge", c)
	}
}

func TestInquiryExpires(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	now := time.Date(2025, 11, 20, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	b := setup(t, func(c *snapcartsim.Config) { c.Now = clock; c.InquiryValidity = 10 * time.Minute })
	inq := b.client.Inquiry(ctx(t), seedInquiry)
	mu.Lock()
	now = now.Add(10*time.Minute + time.Second)
	mu.Unlock()
	pay := b.client.Pay(ctx(t), providers.PaymentRequest{Reference: newRef(), ProductCode: "TELKOM_POSTPAID", RequestID: inq.RequestID})
	if oc(pay.Result) != "failed/inquiry_expired" || pay.Calls[0].HTTPStatus != http.StatusGone {
		t.Fatalf("payment after validity = %s %+v, want failed/inquiry_expired from 410", oc(pay.Result), pay.Calls)
	}
	if got := b.sim.Ledger().Snapshot(); len(got) != 0 {
		t.Fatalf("expired payment charged: %+v", got)
	}
}

func TestBadAPIKeyIsRejected(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c, err := New(Config{BaseURL: b.srv.URL, APIKey: "wrong-key-123456", Timeout: clientTimeout})
	if err != nil {
		t.Fatal(err)
	}
	inq := c.Inquiry(ctx(t), seedInquiry)
	pay := c.Pay(ctx(t), providers.PaymentRequest{Reference: newRef(), ProductCode: "TSEL10", CustomerNumber: "081234567890"})
	st := c.Lookup(ctx(t), providers.LookupRequest{RequestID: "01KAGRHEMR0341YR52FFQ4SX1S"})
	_, pr := c.Products(ctx(t))
	for _, r := range []providers.Result{inq.Result, pay.Result, st.Result, pr} {
		if oc(r) != "rejected/bad_credentials" || r.Calls[len(r.Calls)-1].Code != "401" {
			t.Fatalf("bad key gave %s %+v, want rejected/bad_credentials with status_code 401", oc(r), r.Calls)
		}
		if strings.Contains(r.Calls[0].Request+r.Calls[0].Response+r.Detail, "wrong-key-123456") {
			t.Fatal("the API key leaked into the audit record")
		}
	}
}

// TestClientSendsOnlyTheFieldsTheProductNeeds checks the bodies the
// simulator receives.
func TestClientSendsOnlyTheFieldsTheProductNeeds(t *testing.T) {
	t.Parallel()
	b := setup(t)
	cases := []struct {
		name string
		do   func() providers.Result
		want string
	}{
		{"pulsa payment", func() providers.Result {
			return b.client.Pay(ctx(t), providers.PaymentRequest{Reference: "pur-1", ProductCode: "TSEL10", Family: providers.FamilyPulsa, CustomerNumber: "081234567890", UserID: "x", ZoneID: "y", Phone: "0811", Amount: 10150}).Result
		}, `{"product_code":"TSEL10","bill_number":"081234567890","reference_id":"pur-1"}`},
		{"game payment", func() providers.Result {
			return b.client.Pay(ctx(t), providers.PaymentRequest{Reference: "pur-2", ProductCode: "ML-DIAMONDS-86", Family: providers.FamilyGameVoucher, CustomerNumber: "0812", UserID: "55123456", ZoneID: "2001", ItemCode: "ML86"}).Result
		}, `{"product_code":"ML-DIAMONDS-86","user_id":"55123456","zone_id":"2001","item_code":"ML86","reference_id":"pur-2"}`},
		{"game inquiry", func() providers.Result {
			return b.client.Inquiry(ctx(t), providers.InquiryRequest{ProductCode: "FF-DIAMONDS-100", Family: providers.FamilyGameVoucher, UserID: "77001234", CustomerNumber: "0812"}).Result
		}, `{"product_code":"FF-DIAMONDS-100","user_id":"77001234"}`},
		{"bpjs inquiry", func() providers.Result {
			return b.client.Inquiry(ctx(t), providers.InquiryRequest{ProductCode: "BPJS_KES", Family: providers.FamilyBPJS, CustomerNumber: "0001234567890", Phone: "0811", Period: "202511", Reference: "inq-1"}).Result
		}, `{"product_code":"BPJS_KES","bill_number":"0001234567890","reference_id":"inq-1"}`},
	}
	for _, c := range cases {
		r := c.do()
		if r.Outcome != providers.Succeeded && r.Outcome != providers.Pending {
			t.Fatalf("%s: %s (%s)", c.name, oc(r), r.Detail)
		}
		if r.Calls[0].Request != c.want {
			t.Fatalf("%s sent %s, want %s", c.name, r.Calls[0].Request, c.want)
		}
	}
}

func TestInvalidRequestsMakeNoCall(t *testing.T) {
	t.Parallel()
	b := setup(t)
	cases := []providers.Result{
		b.client.Inquiry(ctx(t), providers.InquiryRequest{Family: providers.FamilyPostpaid, CustomerNumber: "081230000009"}).Result,
		b.client.Inquiry(ctx(t), providers.InquiryRequest{ProductCode: "ML-DIAMONDS-86", Family: providers.FamilyGameVoucher}).Result,
		b.client.Pay(ctx(t), providers.PaymentRequest{ProductCode: "TSEL10", CustomerNumber: "081234567890"}).Result,
		b.client.Pay(ctx(t), providers.PaymentRequest{Reference: "has space", ProductCode: "TSEL10", CustomerNumber: "081234567890"}).Result,
		b.client.Pay(ctx(t), providers.PaymentRequest{Reference: "pur-1", ProductCode: "TSEL10"}).Result,
	}
	for i, r := range cases {
		if oc(r) != "rejected/invalid_request" || len(r.Calls) != 0 {
			t.Fatalf("case %d: %s with %d calls, want rejected/invalid_request and no call", i, oc(r), len(r.Calls))
		}
	}
	st := b.client.Lookup(ctx(t), providers.LookupRequest{Reference: "pur-1"})
	if oc(st.Result) != "unknown/invalid_request" || len(st.Calls) != 0 {
		t.Fatalf("lookup without request_id: %s, %d calls", oc(st.Result), len(st.Calls))
	}
}

// TestSimulatorValidation drives the simulator's request validation through
// raw HTTP and through the client's classification.
func TestSimulatorValidation(t *testing.T) {
	t.Parallel()
	b := setup(t)
	inq := b.client.Inquiry(ctx(t), seedInquiry)
	cases := []struct {
		path, body   string
		status       int
		code, errTxt string
	}{
		{"inquiry", `{"bill_number":"081230000009"}`, 400, "400", "Required field (product_code)"},
		{"inquiry", `not json`, 400, "400", "Invalid JSON body"},
		{"inquiry", `{"product_code":"TELKOM_POSTPAID","bill_number":"0812345"}`, 400, "400", "Invalid field (bill_number): length must be 8-18"},
		{"inquiry", `{"product_code":"TELKOM_POSTPAID","bill_number":"0812345678901234567"}`, 400, "400", "Invalid field (bill_number): length must be 8-18"},
		{"inquiry", `{"product_code":"TELKOM_POSTPAID","bill_number":"081230000009","user_id":"p1"}`, 400, "400", "Provide only one identification set"},
		{"inquiry", `{"product_code":"ML-DIAMONDS-86","user_id":"p1","bill_number":"081230000009"}`, 400, "400", "Provide only one identification set"},
		{"inquiry", `{"product_code":"ML-DIAMONDS-86","user_id":"p1"}`, 400, "400", "Required field (zone_id)"},
		{"inquiry", `{"product_code":"TSEL10","bill_number":"081230000009"}`, 400, "400", "Inquiry is not available for this product_code"},
		{"inquiry", `{"product_code":"NOPE","bill_number":"081230000009"}`, 404, "404", "Inactive or invalid product_code"},
		{"inquiry", `{"product_code":"TELKOM_POSTPAID","bill_number":"081230000009","reference_id":"bad ref!"}`, 400, "400", "Invalid field (reference_id)"},
		{"payment", `{"product_code":"TSEL10","bill_number":"081234567890"}`, 400, "400", "Required field (reference_id)"},
		{"payment", `{"product_code":"TELKOM_POSTPAID","bill_number":"081230000009","reference_id":"r1"}`, 400, "400", "Required field (request_id)"},
		{"payment", `{"product_code":"TELKOM_POSTPAID","request_id":"01KAGRHEMR0341YR52FFQ4SX1S","reference_id":"r1"}`, 400, "400", "Invalid field (request_id): unknown request_id"},
		{"payment", `{"product_code":"PDAM_KOTA","request_id":"` + inq.RequestID + `","reference_id":"r1"}`, 400, "400", "Invalid field (request_id): issued for another product_code"},
		{"payment", `{"product_code":"TSEL10","bill_number":"081234567890","item_code":"XL25","reference_id":"r1"}`, 400, "400", "Invalid field (item_code)"},
	}
	for _, c := range cases {
		req, _ := http.NewRequest("POST", b.srv.URL+"/api/v1/pre-order/"+c.path, strings.NewReader(c.body))
		req.Header.Set("x-api-key", testAPIKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var got map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&got)
		resp.Body.Close()
		if resp.StatusCode != c.status || got["status_code"] != c.code || got["error"] != c.errTxt {
			t.Fatalf("%s %s: HTTP %d %v, want %d %s %q", c.path, c.body, resp.StatusCode, got, c.status, c.code, c.errTxt)
		}
	}
	if got := b.sim.Ledger().Snapshot(); len(got) != 0 {
		t.Fatalf("refused payments charged: %+v", got)
	}
	// Through the client: a refused first payment is a definitive failure.
	pay := b.client.Pay(ctx(t), providers.PaymentRequest{Reference: "r2", ProductCode: "TELKOM_POSTPAID", Family: providers.FamilyPostpaid, RequestID: "01KAGRHEMR0341YR52FFQ4SX1S"})
	if oc(pay.Result) != "failed/provider_rejected" {
		t.Fatalf("unknown request_id: %s, want failed/provider_rejected", oc(pay.Result))
	}
	nf := b.client.Pay(ctx(t), providers.PaymentRequest{Reference: "r3", ProductCode: "NOPE", CustomerNumber: "081234567890"})
	if oc(nf.Result) != "failed/product_unavailable" {
		t.Fatalf("unknown product: %s", oc(nf.Result))
	}
	st := b.client.Lookup(ctx(t), providers.LookupRequest{RequestID: "01KAGRHEMR0341YR52FFQ4SX1S"})
	if oc(st.Result) != "not_found" || st.Calls[0].HTTPStatus != 404 || st.Calls[0].Path != "/api/v1/pre-order/payment/status/01KAGRHEMR0341YR52FFQ4SX1S" {
		t.Fatalf("unknown request_id lookup: %s %+v", oc(st.Result), st.Calls)
	}
}

func TestInsufficientDepositIsRefusedWithoutCharge(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *snapcartsim.Config) { c.InitialBalance = 10000 })
	ref := newRef()
	pay := b.client.Pay(ctx(t), providers.PaymentRequest{Reference: ref, ProductCode: "TSEL10", CustomerNumber: "081234567890"})
	if oc(pay.Result) != "failed/insufficient_balance" || pay.Calls[0].HTTPStatus != http.StatusPaymentRequired {
		t.Fatalf("payment above the deposit: %s %+v", oc(pay.Result), pay.Calls)
	}
	if _, ok := b.sim.Ledger().Get(ref); ok || b.sim.Ledger().Balance() != 10000 {
		t.Fatalf("refused payment moved the deposit to %d", b.sim.Ledger().Balance())
	}
}

func TestProductsReadsTheCatalog(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c, err := New(Config{BaseURL: b.srv.URL, APIKey: testAPIKey, CatalogTypes: append([]string{"postpaid"}, CatalogTypes...)})
	if err != nil {
		t.Fatal(err)
	}
	got, res := c.Products(ctx(t))
	if res.Outcome != providers.Succeeded {
		t.Fatalf("Products: %s %s", oc(res), res.Detail)
	}
	want := map[string]snapcartsim.Product{}
	for _, p := range snapcartsim.Products() {
		want[p.Code] = p
	}
	if len(got) != len(want) {
		t.Fatalf("Products returned %d products, want %d: %+v", len(got), len(want), got)
	}
	for _, p := range got {
		w := want[p.Code]
		fam, ok := FamilyOfType(p.Category)
		if p.Price != w.Price || p.ItemCode != w.ItemCode || p.Name != w.Name || !p.Enabled || !ok || fam != w.Family {
			t.Fatalf("product %+v does not match the simulator's %+v", p, w)
		}
	}
	// One list call per type, one items call per product.
	if len(res.Calls) != 5+len(want) {
		t.Fatalf("Products made %d calls, want %d", len(res.Calls), 5+len(want))
	}
	var detail struct {
		Data map[string]any `json:"data"`
	}
	getJSON(t, b.srv.URL+"/api/v1/catalogs/game-voucher/ML-DIAMONDS-86", &detail)
	if detail.Data["product_code"] != "ML-DIAMONDS-86" || detail.Data["inquiry"] != "optional" {
		t.Fatalf("catalog detail %v", detail.Data)
	}
}

func TestProductsIsAllOrNothing(t *testing.T) {
	t.Parallel()
	c, _ := newFixed(t, 200, `{"data":[{"product_code":"TSEL10","name":"x"}],"status_code":"200","status_message":"Success"}`)
	got, res := c.Products(ctx(t))
	// The same fixed body answers the items call: an item without a price.
	if got != nil || oc(res) != "unknown/unreadable_answer" || len(res.Calls) != 2 {
		t.Fatalf("Products = %v, %s, %d calls; want nothing, unknown/unreadable_answer, 2 calls", got, oc(res), len(res.Calls))
	}
}

// TestAnswersThatAreNeverSuccess runs odd answers through the client.
func TestAnswersThatAreNeverSuccess(t *testing.T) {
	t.Parallel()
	okStatus := `{"data":{"biller_code":"200","biller_message":"Transaction successful","amount":%s,"reference_id":"r"},"status_code":"200","status_message":"Transaction successful"}`
	cases := []struct {
		status int
		body   string
		want   string
	}{
		{200, strings.Replace(okStatus, "%s", "5500", 1), "succeeded"},
		{200, strings.Replace(okStatus, "%s", "5500.0", 1), "succeeded"},
		{200, strings.Replace(okStatus, "%s", `"5.500"`, 1), "succeeded"},
		{200, strings.Replace(okStatus, "%s", "55.5", 1), "unknown/unreadable_answer"},
		{200, strings.Replace(okStatus, "%s", "-1", 1), "unknown/unreadable_answer"},
		{200, strings.Replace(okStatus, "%s", `"5,5"`, 1), "unknown/unreadable_answer"},
		{200, strings.Replace(okStatus, "%s", `{}`, 1), "unknown/unreadable_answer"},
		{500, strings.Replace(okStatus, "%s", "5500", 1), "unknown/server_error"},
		{200, `<html>ok</html>`, "unknown/unreadable_answer"},
		{200, `{"data":{}}`, "unknown/unreadable_answer"},
		{200, `{"status_code":"200","data":"x"}`, "unknown/unreadable_answer"},
		{200, `{"status_code":200,"status_message":"Transaction successful","data":{"biller_code":200,"biller_message":"ok"}}`, "succeeded"},
		{200, ``, "unknown/unreadable_answer"},
		{200, `{"status_code":"200"` + strings.Repeat(" ", maxBody) + `}`, "unknown/unreadable_answer"},
	}
	for i, c := range cases {
		cl, _ := newFixed(t, c.status, c.body)
		st := cl.Lookup(ctx(t), providers.LookupRequest{RequestID: "01KAGRHEMR0341YR52FFQ4SX1S"})
		if oc(st.Result) != c.want {
			t.Fatalf("case %d: lookup of %.80q = %s, want %s", i, c.body, oc(st.Result), c.want)
		}
		if c.want == "succeeded" && st.Amount != 5500 && !strings.Contains(c.body, `"ok"`) {
			t.Fatalf("case %d: amount %d, want 5500", i, st.Amount)
		}
	}
}

func TestTransportFailuresAreUnknown(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	url := srv.URL
	srv.Close() // nothing listens any more
	c, err := New(Config{BaseURL: url, APIKey: testAPIKey, Timeout: clientTimeout})
	if err != nil {
		t.Fatal(err)
	}
	pay := c.Pay(ctx(t), providers.PaymentRequest{Reference: "r1", ProductCode: "TSEL10", CustomerNumber: "081234567890"})
	if oc(pay.Result) != "unknown/connection_error" || len(pay.Calls) != 1 || pay.Calls[0].Err == "" || pay.Calls[0].HTTPStatus != 0 {
		t.Fatalf("refused connection: %s %+v", oc(pay.Result), pay.Calls)
	}
	assertNoSecret(t, pay.Result)
}

// TestLogsCarryNoSecret runs calls with a logger and checks its output.
func TestLogsCarryNoSecret(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var buf bytes.Buffer
	var mu sync.Mutex
	c, err := New(Config{BaseURL: b.srv.URL, APIKey: testAPIKey, Logger: slog.New(slog.NewTextHandler(&lockedWriter{w: &buf, mu: &mu}, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	inq := c.Inquiry(ctx(t), seedInquiry)
	c.Pay(ctx(t), providers.PaymentRequest{Reference: newRef(), ProductCode: "TELKOM_POSTPAID", RequestID: inq.RequestID})
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(buf.String(), "operation=payment") || strings.Contains(buf.String(), testAPIKey) {
		t.Fatalf("log output %q: want the calls and no API key", buf.String())
	}
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("x-api-key", testAPIKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}
