package klikoo

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ppob-orchestrator/orchestrator/internal/providers"
	"github.com/ppob-orchestrator/orchestrator/internal/providers/klikoo/klikoosim"
)

// The seed's sample answers, as printed on the seed page.
const (
	seedSuccessAnswer = `{
    "response_code": "200022000",
    "response_message": "Sukses",
    "data": {
        "product_name": "PLN 20.000",
        "amount": 20500,
        "total": 20546,
        "product_code": "PLN20",
        "customer_number": "01105691111",
        "customer_name": "BAHARRUDIN1",
        "power_capacity": "R1/2200VA"
    }
}`
	seedFailureAnswer = `{
    "response_code": "503029998",
    "response_message": "CUSTID not recognized. Biller throws exception. Err:5110",
    "data": {
        "customer_number": "01105601111"
    }
}`
	// seedBadText is the seed's failure message, which the client keeps as
	// the failure's detail.
	seedBadText = "CUSTID not recognized. Biller throws exception. Err:5110"
)

// checkSeedInquiry asserts the fields of the seed's success sample.
func checkSeedInquiry(t *testing.T, inq providers.Inquiry) {
	t.Helper()
	if inq.Outcome != providers.Succeeded || inq.Reason != providers.ReasonNone || inq.Detail != "Sukses" {
		t.Fatalf("seed inquiry: %v", inq.Result)
	}
	if inq.Amount != 20500 || inq.Total != 20546 || inq.CustomerName != "BAHARRUDIN1" {
		t.Fatalf("seed inquiry amount %d total %d name %q", inq.Amount, inq.Total, inq.CustomerName)
	}
	want := map[string]string{"product_name": "PLN 20.000", "product_code": "PLN20", "customer_number": "01105691111", "power_capacity": "R1/2200VA"}
	if len(inq.Details) != len(want) {
		t.Fatalf("details %v, want %v", inq.Details, want)
	}
	for k, v := range want {
		if inq.Details[k] != v {
			t.Fatalf("details[%s] = %q, want %q", k, inq.Details[k], v)
		}
	}
}

func TestSeedSamplesParse(t *testing.T) {
	t.Parallel()
	var ok providers.Inquiry
	readInquiry(answerFrom(200, []byte(seedSuccessAnswer)), &ok)
	checkSeedInquiry(t, ok)
	var bad providers.Inquiry
	readInquiry(answerFrom(503, []byte(seedFailureAnswer)), &bad)
	if bad.Outcome != providers.Failed || bad.Reason != providers.ReasonCustomerNotFound || bad.Detail != seedBadText {
		t.Fatalf("seed failure: %v", bad.Result)
	}
}

func TestSeedSamplesOverHTTP(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	inq := e.client.Inquiry(ctx, providers.InquiryRequest{
		ProductCode: "PLN20", Family: providers.FamilyPLNPrepaid, CustomerNumber: "01105691111",
		Amount: 20500, SellingPrice: 21000, Reference: "42323-42234-44226-96273",
	})
	checkSeedInquiry(t, inq)
	call := lastCall(t, inq.Result)
	if call.Code != "200022000" || call.HTTPStatus != 200 || call.Operation != opInquiry || call.Reference != "42323-42234-44226-96273" || call.Path != prepaidInquiryPath {
		t.Fatalf("inquiry call %+v", call)
	}
	if want := testVectors(t).Requests[0].Body; call.Request != want {
		t.Fatalf("inquiry body %s, want the seed's %s", call.Request, want)
	}

	bad := e.client.Inquiry(ctx, providers.InquiryRequest{
		ProductCode: "PLN20", Family: providers.FamilyPLNPrepaid, CustomerNumber: "01105601111", Amount: 20500,
	})
	if bad.Outcome != providers.Failed || bad.Reason != providers.ReasonCustomerNotFound || bad.Detail != seedBadText {
		t.Fatalf("seed failure: %v", bad.Result)
	}
	call = lastCall(t, bad.Result)
	if call.Code != "503029998" || call.HTTPStatus != 503 || !strings.Contains(call.Response, `"customer_number":"01105601111"`) {
		t.Fatalf("failure call %+v", call)
	}
	if call.Reference == "" || call.Reference == "42323-42234-44226-96273" {
		t.Fatalf("an inquiry without a reference must get a fresh one, got %q", call.Reference)
	}
}

func TestEWalletInquiry(t *testing.T) {
	t.Parallel()
	e := setup(t)
	inq := e.client.Inquiry(context.Background(), providers.InquiryRequest{
		ProductCode: "OVO10", Family: providers.FamilyEWallet, CustomerNumber: "0817345544", Phone: "01105691111", Amount: 10900,
	})
	if inq.Outcome != providers.Succeeded || inq.Amount != 10900 || inq.Total != 10900 {
		t.Fatalf("ovo inquiry: %v %+v", inq.Result, inq)
	}
	if !strings.HasPrefix(lastCall(t, inq.Result).Request, `{"msidn":"01105691111","amount":"10900","product_code":"OVO10","selling_price":"10900","value":"0817345544"`) {
		t.Fatalf("ovo body %s", lastCall(t, inq.Result).Request)
	}
}

func TestRequestsRefusedWithoutCall(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	inquiries := []providers.InquiryRequest{
		{ProductCode: "S10", Family: providers.FamilyPulsa, CustomerNumber: "081234567800", Amount: 10150},
		{ProductCode: "X", Family: providers.FamilyGameVoucher, CustomerNumber: "1", Amount: 1},
		{ProductCode: "", Family: providers.FamilyPLNPrepaid, CustomerNumber: "1", Amount: 1},
		{ProductCode: "PLN20", Family: providers.FamilyPLNPrepaid, CustomerNumber: "", Amount: 1},
		{ProductCode: "PLN20", Family: providers.FamilyPLNPrepaid, CustomerNumber: "1"},
		{ProductCode: "BPJSKS", Family: providers.FamilyBPJS, CustomerNumber: "1"},
	}
	for _, r := range inquiries {
		inq := e.client.Inquiry(ctx, r)
		if inq.Outcome != providers.Failed || inq.Reason != providers.ReasonInvalidRequest || len(inq.Calls) != 0 {
			t.Fatalf("inquiry %+v: %v calls %d", r, inq.Result, len(inq.Calls))
		}
	}
	payments := []providers.PaymentRequest{
		{ProductCode: "S10", CustomerNumber: "1", Amount: 1},
		{Reference: "r", CustomerNumber: "1", Amount: 1},
		{Reference: "r", ProductCode: "S10", Amount: 1},
		{Reference: "r", ProductCode: "S10", CustomerNumber: "1"},
		{Reference: "r", ProductCode: "BPJSKS", Family: providers.FamilyBPJS, CustomerNumber: "1", Amount: 1},
	}
	for _, r := range payments {
		p := e.client.Pay(ctx, r)
		if p.Outcome != providers.Failed || p.Reason != providers.ReasonInvalidRequest || len(p.Calls) != 0 {
			t.Fatalf("pay %+v: %v", r, p.Result)
		}
	}
	for _, r := range []providers.LookupRequest{{}, {Reference: "r", TransactionID: "../balance"}} {
		st := e.client.Lookup(ctx, r)
		if st.Outcome != providers.Rejected || st.Reason != providers.ReasonInvalidRequest || len(st.Calls) != 0 {
			t.Fatalf("lookup %+v: %v", r, st.Result)
		}
	}
}

func TestProductsPagesThroughCatalog(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.client.pageSize = 5
	got, res := e.client.Products(context.Background())
	if res.Outcome != providers.Succeeded {
		t.Fatalf("products: %v", res)
	}
	want := klikoosim.Products()
	if len(got) != len(want) {
		t.Fatalf("%d products, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i].Product() {
			t.Fatalf("product %d = %+v, want %+v", i, got[i], want[i].Product())
		}
	}
	pages := 0
	for _, c := range res.Calls {
		if c.Operation == opProducts {
			pages++
			if !strings.HasPrefix(c.Request, `{"limit":5,"page":`) || !strings.HasSuffix(c.Request, `"search":[],"sort":{"field":"code","value":"asc"}}`) {
				t.Fatalf("products body %s", c.Request)
			}
		}
	}
	if pages != 3 {
		t.Fatalf("%d pages for %d products of 5, want 3", pages, len(want))
	}
	if !want[0].Enabled && got[0].Enabled {
		t.Fatalf("enable flag lost")
	}
}

func TestBalanceFollowsLedger(t *testing.T) {
	t.Parallel()
	e := setup(t, withSim(func(c *klikoosim.Config) { c.InitialBalance = 100000 }))
	ctx := context.Background()
	if bal, res := e.client.Balance(ctx); res.Outcome != providers.Succeeded || bal != 100000 {
		t.Fatalf("balance %d %v", bal, res)
	}
	e.pay(t, "ref-1", pln20, "551234567801", pln20.price)
	if bal, _ := e.client.Balance(ctx); bal != 100000-pln20.price || bal != e.sim.Ledger().Balance() {
		t.Fatalf("balance %d after one buy, ledger %d", bal, e.sim.Ledger().Balance())
	}
}

func TestNewValidatesConfig(t *testing.T) {
	t.Parallel()
	key := testKey(t)
	good := Config{BaseURL: "https://pvpapi.klikoo.id/klikoo-b2b", ClientID: "id", ClientSecret: "secret", PrivateKey: key}
	if _, err := New(good); err != nil {
		t.Fatalf("good config: %v", err)
	}
	cases := []struct {
		field  string
		mutate func(*Config)
	}{
		{"BaseURL", func(c *Config) { c.BaseURL = "" }},
		{"BaseURL", func(c *Config) { c.BaseURL = "ftp://x/y" }},
		{"BaseURL", func(c *Config) { c.BaseURL = "https:///path" }},
		{"BaseURL", func(c *Config) { c.BaseURL = "https://x/y?z=1" }},
		{"ClientID", func(c *Config) { c.ClientID = "" }},
		{"ClientSecret", func(c *Config) { c.ClientSecret = "" }},
		{"PrivateKey", func(c *Config) { c.PrivateKey = nil }},
		{"Timeout", func(c *Config) { c.Timeout = -time.Second }},
	}
	for _, c := range cases {
		cfg := good
		c.mutate(&cfg)
		_, err := New(cfg)
		if err == nil || !strings.Contains(err.Error(), c.field) {
			t.Fatalf("%s: error %v does not name the field", c.field, err)
		}
		if strings.Contains(err.Error(), "secret") && c.field != "ClientSecret" {
			t.Fatalf("error mentions the secret: %v", err)
		}
	}
	c, _ := New(good)
	if c.http.Timeout != DefaultTimeout {
		t.Fatalf("default timeout %v", c.http.Timeout)
	}
}

func TestParsePrivateKeyPEM(t *testing.T) {
	t.Parallel()
	if _, err := ParsePrivateKeyPEM([]byte(testVectors(t).PrivateKey)); err != nil {
		t.Fatalf("PKCS#8: %v", err)
	}
	for _, bad := range []string{"", "not pem", testVectors(t).PublicKey, "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"} {
		if _, err := ParsePrivateKeyPEM([]byte(bad)); err == nil {
			t.Fatalf("ParsePrivateKeyPEM(%.30q) succeeded", bad)
		}
	}
}

func TestTimestampFormat(t *testing.T) {
	t.Parallel()
	at := time.Date(2024, 2, 7, 3, 28, 35, 0, time.UTC)
	if got := timestamp(at); got != "2024-02-07T10:28:35.000+07:00" {
		t.Fatalf("timestamp = %s", got)
	}
}
