package snapcart

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sort"
	"strconv"
	"sync"
	"testing"

	"github.com/ppob-orchestrator/orchestrator/internal/providers"
	"github.com/ppob-orchestrator/orchestrator/internal/providers/snapcart/snapcartsim"
)

// Samples from Snapcart's documentation of the pre-order inquiry and
// payment, verbatim (docs/providers.md#snapcart).
const (
	seedInquiryRequest = `{
"bill_number": "081230000009",
"product_code": "TELKOM_POSTPAID",
"reference_id": "your-unique-id-2025-000123"
}`
	seedGameRequest = `{
"product_code": "ML-DIAMONDS-86",
"user_id": "Player123",
"zone_id": "SEA",
"reference_id": "your-unique-id-2025-000123"
}`
	seedPaymentRequest = `{
"product_code": "TELKOM_POSTPAID",
"request_id": "01K9Y5K0YP9B1MPKCEVJCACZ3B",
"reference_id": "your-unique-id-2025-000123"
}`
	seedInquiryAnswer = `{
"data": {
"request_id": "01KAGRHEMR0341YR52FFQ4SX1S",
"product_code": "TELKOM_POSTPAID",
"bill_number": "081230000009",
"bill_amount": 5500,
"reference_id": "your-unique-id-2025-000123",
"additional_info": {
"serial_number": "03357875092/112023/05/0003",
"idtrx": "01KAGRHEMR0341YR52FFQ4SX1S",
"balance": "50.850"
},
"biller_code": "200",
"biller_message": "Transaction successful"
},
"status_code": "200",
"status_message": "Transaction successful"
}`
	seedGameAnswer = `{
"data": {
"ign": "1234"
},
"status_code": "200",
"status_message": "Transaction successful"
}`
	seedThirdParty   = `{"data": null, "status_code": "500", "status_message": "Third party error", "error": "inquiry failed"}`
	seedValidation   = `{"status_code": "400", "status_message": "Bad request", "error": "Required field (product_code)"}`
	seedIncorrect    = `{"status_code": "400", "status_message": "Incorrect bill number", "error": "Bill number validation failed"}`
	seedNoProduct    = `{"status_code": "404", "status_message": "Product not found", "error": "Inactive or invalid product_code"}`
	seedInsufficient = `{"status_code": "402", "status_message": "Insufficient balance", "error": "Insufficient balance - current balance 50.850"}`
	seedPaymentAck   = `{"data":{"biller_code":"200","biller_message":"Transaction is being processed","request_id":"01K9Y5K0YP9B1MPKCEVJCACZ3B","reference_id":"your-unique-id-2025-000123"},"status_code":"200","status_message":"Transaction successful"}`
)

var seedInquiry = providers.InquiryRequest{ProductCode: "TELKOM_POSTPAID", Family: providers.FamilyPostpaid, CustomerNumber: "081230000009", Reference: "your-unique-id-2025-000123"}

// fixedServer answers every request with status and body, and records the
// request bodies.
type fixedServer struct {
	mu     sync.Mutex
	bodies [][]byte
	keys   []string
}

func newFixed(t *testing.T, status int, body string) (*Client, *fixedServer) {
	t.Helper()
	f := &fixedServer{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.bodies = append(f.bodies, b)
		f.keys = append(f.keys, r.Header.Get("x-api-key"))
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	c, err := New(Config{BaseURL: srv.URL, APIKey: testAPIKey, Timeout: clientTimeout})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c, f
}

// jsonEqual reports whether two JSON texts hold the same value.
func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatalf("unmarshal %s: %v", a, err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatalf("unmarshal %s: %v", b, err)
	}
	return reflect.DeepEqual(x, y)
}

func TestSeedRequestsAreSentVerbatim(t *testing.T) {
	t.Parallel()
	c, f := newFixed(t, 200, seedInquiryAnswer)
	c.Inquiry(ctx(t), seedInquiry)
	c.Pay(ctx(t), providers.PaymentRequest{Reference: "your-unique-id-2025-000123", ProductCode: "TELKOM_POSTPAID", Family: providers.FamilyPostpaid, RequestID: "01K9Y5K0YP9B1MPKCEVJCACZ3B", CustomerNumber: "081230000009", Amount: 5500})
	c.Inquiry(ctx(t), providers.InquiryRequest{ProductCode: "ML-DIAMONDS-86", Family: providers.FamilyGameVoucher, UserID: "Player123", ZoneID: "SEA", CustomerNumber: "ignored-for-games", Reference: "your-unique-id-2025-000123"})
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, want := range []string{seedInquiryRequest, seedPaymentRequest, seedGameRequest} {
		if !jsonEqual(t, f.bodies[i], []byte(want)) {
			t.Fatalf("request %d = %s, want the seed's %s", i, f.bodies[i], want)
		}
		if f.keys[i] != testAPIKey {
			t.Fatalf("request %d x-api-key = %q", i, f.keys[i])
		}
	}
}

func TestSeedAnswersParse(t *testing.T) {
	t.Parallel()
	c, _ := newFixed(t, 200, seedInquiryAnswer)
	inq := c.Inquiry(ctx(t), seedInquiry)
	// additional_info's balance is our deposit: read as Balance, left out
	// of the details a client is shown.
	want := map[string]string{"serial_number": "03357875092/112023/05/0003", "idtrx": "01KAGRHEMR0341YR52FFQ4SX1S"}
	if inq.Outcome != providers.Succeeded || inq.RequestID != "01KAGRHEMR0341YR52FFQ4SX1S" || inq.Amount != 5500 || inq.Total != 5500 ||
		!reflect.DeepEqual(inq.Details, want) || inq.Balance == nil || *inq.Balance != 50850 {
		t.Fatalf("seed inquiry answer parsed as %+v", inq)
	}
	call := inq.Calls[0]
	if call.Operation != "inquiry" || call.Method != "POST" || call.Path != "/api/v1/pre-order/inquiry" || call.HTTPStatus != 200 ||
		call.Code != "200" || call.Message != "Transaction successful" || call.Response != seedInquiryAnswer || call.Reference != seedInquiry.Reference {
		t.Fatalf("seed inquiry call recorded as %+v", call)
	}

	g, _ := newFixed(t, 200, seedGameAnswer)
	gv := g.Inquiry(ctx(t), providers.InquiryRequest{ProductCode: "ML-DIAMONDS-86", Family: providers.FamilyGameVoucher, UserID: "Player123", ZoneID: "SEA"})
	if gv.Outcome != providers.Succeeded || gv.RequestID != "" || gv.CustomerName != "1234" || gv.Details["ign"] != "1234" || gv.Amount != 0 {
		t.Fatalf("seed game voucher answer parsed as %+v", gv)
	}

	p, _ := newFixed(t, 200, seedPaymentAck)
	pay := p.Pay(ctx(t), providers.PaymentRequest{Reference: "your-unique-id-2025-000123", ProductCode: "TSEL10", Family: providers.FamilyPulsa, CustomerNumber: "081234567890"})
	if oc(pay.Result) != "pending" || pay.RequestID != "01K9Y5K0YP9B1MPKCEVJCACZ3B" || pay.TransactionID != pay.RequestID {
		t.Fatalf("the documented acknowledgement parsed as %+v", pay)
	}

	for _, c := range []struct {
		status     int
		body, want string
	}{
		{500, seedThirdParty, "unknown/server_error"},
		{400, seedValidation, "failed/provider_rejected"},
		{400, seedIncorrect, "failed/customer_not_found"},
		{404, seedNoProduct, "failed/product_unavailable"},
		{402, seedInsufficient, "failed/insufficient_balance"},
	} {
		cl, _ := newFixed(t, c.status, c.body)
		got := cl.Inquiry(ctx(t), seedInquiry)
		if oc(got.Result) != c.want || got.Calls[0].HTTPStatus != c.status || got.Calls[0].Code != strconv.Itoa(c.status) {
			t.Fatalf("seed error %s parsed as %s, %+v; want %s", c.body, oc(got.Result), got.Calls, c.want)
		}
	}
}

// recorder passes requests to the simulator and keeps each exchange.
type recorder struct {
	next    http.Handler
	mu      sync.Mutex
	answers [][]byte
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rw := httptest.NewRecorder()
	rec.next.ServeHTTP(rw, r)
	rec.mu.Lock()
	rec.answers = append(rec.answers, rw.Body.Bytes())
	rec.mu.Unlock()
	for k, v := range rw.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rw.Code)
	_, _ = w.Write(rw.Body.Bytes())
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestSimulatorAnswersTheSeedInItsShape sends the seed's sample requests
// verbatim to the simulator and compares the answers with the seed's.
func TestSimulatorAnswersTheSeedInItsShape(t *testing.T) {
	t.Parallel()
	sim, err := snapcartsim.New(snapcartsim.Config{APIKey: testAPIKey, InitialBalance: 50850})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	rec := &recorder{next: sim}
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)

	post := func(body string) map[string]any {
		req, _ := http.NewRequest("POST", srv.URL+"/api/v1/pre-order/inquiry", bytes.NewBufferString(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("x-api-key", testAPIKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	var seed map[string]any
	_ = json.Unmarshal([]byte(seedInquiryAnswer), &seed)
	got := post(seedInquiryRequest)
	gd, sd := got["data"].(map[string]any), seed["data"].(map[string]any)
	if !reflect.DeepEqual(keys(gd), keys(sd)) || got["status_code"] != "200" || got["status_message"] != "Transaction successful" {
		t.Fatalf("answer %v, want the seed's shape %v", got, seed)
	}
	for _, k := range []string{"product_code", "bill_number", "bill_amount", "reference_id", "biller_code", "biller_message"} {
		if gd[k] != sd[k] {
			t.Fatalf("data.%s = %v, want the seed's %v", k, gd[k], sd[k])
		}
	}
	gi, si := gd["additional_info"].(map[string]any), sd["additional_info"].(map[string]any)
	id, _ := gd["request_id"].(string)
	if !reflect.DeepEqual(keys(gi), keys(si)) || gi["idtrx"] != id || len(id) != 26 || gi["balance"] != "50.850" {
		t.Fatalf("additional_info %v, want the seed's shape with idtrx = request_id and balance 50.850", gi)
	}
	if sn, _ := gi["serial_number"].(string); len(sn) != len("03357875092/112023/05/0003") || sn[11] != '/' {
		t.Fatalf("serial_number %q not in the seed's shape", sn)
	}

	var gseed map[string]any
	_ = json.Unmarshal([]byte(seedGameAnswer), &gseed)
	game := post(seedGameRequest)
	if !reflect.DeepEqual(keys(game["data"].(map[string]any)), keys(gseed["data"].(map[string]any))) || game["status_code"] != "200" {
		t.Fatalf("game voucher answer %v, want the seed's shape %v", game, gseed)
	}

	// The same exchange through the client types.
	c, err := New(Config{BaseURL: srv.URL, APIKey: testAPIKey})
	if err != nil {
		t.Fatal(err)
	}
	inq := c.Inquiry(ctx(t), seedInquiry)
	if inq.Outcome != providers.Succeeded || inq.Amount != 5500 || inq.Details["idtrx"] != inq.RequestID || inq.Balance == nil || *inq.Balance != 50850 {
		t.Fatalf("client read the simulator's seed answer as %+v", inq)
	}
	rec.mu.Lock()
	last := rec.answers[len(rec.answers)-1]
	rec.mu.Unlock()
	if inq.Calls[0].Response != string(last) {
		t.Fatalf("recorded response %q, the simulator sent %q", inq.Calls[0].Response, last)
	}
}
