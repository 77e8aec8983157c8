package bench

import (
	"fmt"
	"time"
)

// What the two providers answer a preloaded purchase, in the bodies the
// flow stores (redacted as it stores them: no secret is in any of these)
// and the codes docs/providers.md lists.

// wireCall is one provider call as the flow records it.
type wireCall struct {
	Operation, Reference           string
	HTTPStatus                     int32
	Code, Message, Outcome, Reason string
	Request, Response              string
	TransactionID                  string // a payment's: the provider's id of the transaction
	Balance                        int64  // > 0: the answer carried our deposit
}

// wireInquiry is what an inquiry's answer sets on the purchase.
type wireInquiry struct {
	JSON          string
	Amount, Total int64
	RequestID     string // Snapcart's two-step request_id
}

// wireCallback is a callback as the provider sends it.
type wireCallback struct {
	Body, Reference, Outcome, RawStatus string
	Authenticated                       bool
}

// wire is one provider's answers to one attempt of a purchase.
type wire interface {
	reference() string // our provider reference of the payment
	inquiry() (wireCall, wireInquiry)
	inquiryRefused(end outcome) wireCall
	payment() wireCall
	paymentRefused(end outcome) wireCall
	lookup(status string) wireCall       // "pending", "succeeded" or "failed"
	callback(status string) wireCallback // "succeeded", "failed" or "contradiction"
	result() string                      // the purchase's result once succeeded
	signedCallbacks() bool               // a callback is applied on its own word
}

// wire returns the current attempt's provider.
func (t *timeline) wire() wire {
	if t.w == nil {
		if t.offer.Provider == "snapcart" {
			t.w = &snapcartWire{t: t}
		} else {
			t.w = &klikooWire{t: t}
		}
	}
	return t.w
}

// customer is the purchase's identifier at the provider.
func (t *timeline) customer() string {
	if t.p.CustomerNumber != nil {
		return *t.p.CustomerNumber
	}
	return *t.p.UserID
}

// deposit is our balance at a provider at moment at: topped up every
// midnight, spent during the day, never near the alert level.
func deposit(at time.Time) int64 { return 2_000_000_000 - at.Unix()%86_400*10_000 }

// bill reports whether the family's amount is the customer's bill.
func bill(family string) bool { return family == "postpaid" || family == "bpjs" }

type klikooWire struct {
	t      *timeline
	ref    string
	txID   int64
	serial string
	token  string
}

func (w *klikooWire) name() string {
	c := w.t.customer()
	return "PELANGGAN " + c[len(c)-4:]
}

func (w *klikooWire) reference() string {
	if w.ref == "" {
		w.ref = uuidV4(w.t.r).String()
		w.txID = 10_000_000 + w.t.r.Int64N(90_000_000)
	}
	return w.ref
}

func (w *klikooWire) request(ref string, amount int64) string {
	c := w.t.customer()
	return fmt.Sprintf(`{"msidn":%q,"amount":"%d","product_code":%q,"selling_price":"%d","value":%q,"partner_reference_id":%q}`,
		c, amount, w.t.offer.ProviderProductCode, amount, c, ref)
}

func (w *klikooWire) inquiry() (wireCall, wireInquiry) {
	t := w.t
	ref := uuidV4(t.r).String()
	amount, total := t.offer.Price, t.offer.Price
	switch {
	case bill(t.product.Family):
		amount = 30_000 + int64(t.r.IntN(570))*1_000
		total = amount + 2_500
	case t.product.Family == "pln_prepaid":
		total = amount + 46
	}
	c, code, name := t.customer(), t.offer.ProviderProductCode, w.name()
	resp := fmt.Sprintf(`{"response_code":"200022000","response_message":"Sukses","data":{"product_name":%q,"amount":%d,"total":%d,"product_code":%q,"customer_number":%q,"customer_name":%q,"power_capacity":"R1/2200VA"}}`,
		t.product.Name, amount, total, code, c, name)
	inq := fmt.Sprintf(`{"total": %d, "amount": %d, "details": {"product_code": %q, "product_name": %q, "power_capacity": "R1/2200VA", "customer_number": %q}, "customer_name": %q}`,
		total, amount, code, t.product.Name, c, name)
	return wireCall{Operation: "inquiry", Reference: ref, HTTPStatus: 200, Code: "200022000", Message: "Sukses", Outcome: "succeeded",
		Request: w.request(ref, t.offer.Price), Response: resp}, wireInquiry{JSON: inq, Amount: amount, Total: total}
}

func (w *klikooWire) refused(op, ref string, amount int64, end outcome) wireCall {
	c := wireCall{Operation: op, Reference: ref, Outcome: "failed", Request: w.request(ref, amount)}
	if end == endProductUnavailable {
		c.HTTPStatus, c.Code, c.Message, c.Reason = 400, "400026525", "Produk sedang gangguan", "product_unavailable"
	} else {
		c.HTTPStatus, c.Code, c.Message, c.Reason = 404, "404027011", "Customer number not found", "customer_not_found"
	}
	c.Response = fmt.Sprintf(`{"response_code":%q,"response_message":%q}`, c.Code, c.Message)
	return c
}

func (w *klikooWire) inquiryRefused(end outcome) wireCall {
	return w.refused("inquiry", uuidV4(w.t.r).String(), w.t.offer.Price, end)
}

func (w *klikooWire) paymentRefused(end outcome) wireCall {
	return w.refused("payment", w.reference(), *w.t.p.Amount, end)
}

func (w *klikooWire) payment() wireCall {
	t, ref, amount := w.t, w.reference(), *w.t.p.Amount
	resp := fmt.Sprintf(`{"response_code":"201022001","response_message":"Sukses","data":{"transaction_id":%d,"partner_reference_id":%q,"product_code":%q,"value":%q,"amount":"%d","status":"PENDING","transaction_time":%q}}`,
		w.txID, ref, t.offer.ProviderProductCode, t.customer(), amount, wib(t.now))
	return wireCall{Operation: "payment", Reference: ref, HTTPStatus: 201, Code: "201022001", Message: "Sukses", Outcome: "pending",
		Request: w.request(ref, amount), Response: resp, TransactionID: fmt.Sprint(w.txID)}
}

// report is the transaction as Klikoo's detail and callbacks describe it.
func (w *klikooWire) report(status string) (raw, reason, sn string) {
	switch status {
	case "succeeded":
		return "SUCCESS", "", w.serial
	case "failed":
		return "FAILED", "Transaksi gagal", ""
	case "contradiction":
		return "REFUND", "Transaksi direfund", ""
	}
	return "PENDING", "", ""
}

func (w *klikooWire) lookup(status string) wireCall {
	t := w.t
	raw, reason, sn := w.report(status)
	bal := deposit(t.now)
	resp := fmt.Sprintf(`{"response_code":"200022000","response_message":"Sukses","data":{"transaction_id":%d,"partner_reference_id":%q,"product_code":%q,"product_name":%q,"value":%q,"customer_name":%q,"amount":"%d","status":%q,"reason":%q,"sn":%q,"current_balance":%d,"beginning_balance":%d,"transaction_time":%q}}`,
		w.txID, w.ref, t.offer.ProviderProductCode, t.product.Name, t.customer(), w.name(), *t.p.Amount, raw, reason, sn, bal, bal, wib(*t.p.PaymentLastSentAt))
	c := wireCall{Operation: "lookup", Reference: w.ref, HTTPStatus: 200, Code: "200022000", Message: "Sukses", Outcome: status,
		Response: resp, Balance: bal}
	if status == "failed" {
		c.Reason = "transaction_failed"
	}
	return c
}

func (w *klikooWire) callback(status string) wireCallback {
	t := w.t
	raw, reason, sn := w.report(status)
	bal := deposit(t.now)
	body := fmt.Sprintf(`{"response_code":"200022000","response_message":"Sukses","partner_reference_id":%q,"transaction_id":%d,"amount":"%d","transaction_time":%q,"transaction_status":%q,"reason":%q,"product_name":%q,"sn":%q,"value":%q,"customer_name":%q,"current_balance":%d,"beginning_balance":%d,"product_code":%q}`,
		w.ref, w.txID, *t.p.Amount, wib(*t.p.PaymentLastSentAt), raw, reason, t.product.Name, sn, t.customer(), w.name(), bal, bal, t.offer.ProviderProductCode)
	outcome := status
	if status == "contradiction" {
		outcome = "refunded"
	}
	return wireCallback{Body: body, Reference: w.ref, Outcome: outcome, RawStatus: raw}
}

func (w *klikooWire) result() string {
	t := w.t
	tx := fmt.Sprint(w.txID)
	if t.product.Family == "pln_prepaid" {
		w.token = digits(t.r, 20)
		w.serial = w.token + "/" + w.name() + "/R1/2200VA/13.8"
		return fmt.Sprintf(`{"kwh": "13.8", "power": "2200VA", "token": %q, "tariff": "R1", "customer_name": %q, "serial_number": %q, "provider_transaction_id": %q}`,
			w.token, w.name(), w.serial, tx)
	}
	w.serial = "410000" + tx
	return fmt.Sprintf(`{"customer_name": %q, "serial_number": %q, "provider_transaction_id": %q}`, w.name(), w.serial, tx)
}

func (w *klikooWire) signedCallbacks() bool { return false }

type snapcartWire struct {
	t         *timeline
	requestID string
	serial    string
}

// The reference we send Snapcart is our purchase id.
func (w *snapcartWire) reference() string { return w.t.p.ID.String() }

// target is the request's identification of the customer.
func (w *snapcartWire) target() string {
	if p := w.t.p; p.UserID != nil {
		return fmt.Sprintf(`"user_id":%q,"zone_id":%q`, *p.UserID, *p.ZoneID)
	}
	return fmt.Sprintf(`"bill_number":%q`, w.t.customer())
}

func (w *snapcartWire) inquiry() (wireCall, wireInquiry) {
	t, ref := w.t, w.reference()
	c := wireCall{Operation: "inquiry", Reference: ref, HTTPStatus: 200, Code: "200", Message: "Transaction successful", Outcome: "succeeded",
		Request: fmt.Sprintf(`{"product_code":%q,%s,"reference_id":%q}`, t.offer.ProviderProductCode, w.target(), ref)}
	if !bill(t.product.Family) {
		ign := "Player_" + t.customer()
		c.Response = fmt.Sprintf(`{"data":{"ign":%q},"status_code":"200","status_message":"Transaction successful"}`, ign)
		return c, wireInquiry{JSON: fmt.Sprintf(`{"total": %d, "amount": %d, "details": {"ign": %q}}`, t.offer.Price, t.offer.Price, ign),
			Amount: t.offer.Price, Total: t.offer.Price}
	}
	w.requestID = ulid(t.r)
	amount := 30_000 + int64(t.r.IntN(570))*1_000
	w.serial = digits(t.r, 11) + t.now.Format("/012006") + "/05/0003"
	bal := deposit(t.now)
	balance := fmt.Sprintf("%d.%03d.%03d.%03d", bal/1e9, bal/1e6%1000, bal/1e3%1000, bal%1000)
	c.Response = fmt.Sprintf(`{"data":{"request_id":%q,"product_code":%q,"bill_number":%q,"bill_amount":%d,"reference_id":%q,"additional_info":{"balance":%q,"idtrx":%q,"serial_number":%q}},"status_code":"200","status_message":"Transaction successful"}`,
		w.requestID, t.offer.ProviderProductCode, t.customer(), amount, ref, balance, w.requestID, w.serial)
	c.Balance = bal
	return c, wireInquiry{JSON: fmt.Sprintf(`{"total": %d, "amount": %d, "details": {"idtrx": %q, "balance": %q, "serial_number": %q}, "request_id": %q}`,
		amount, amount, w.requestID, balance, w.serial, w.requestID), Amount: amount, Total: amount, RequestID: w.requestID}
}

func (w *snapcartWire) refused(c wireCall, end outcome) wireCall {
	c.Outcome = "failed"
	if end == endProductUnavailable {
		c.HTTPStatus, c.Code, c.Message, c.Reason = 404, "404", "Product not found", "product_unavailable"
		c.Response = `{"status_code":"404","status_message":"Product not found","error":"Inactive or invalid product_code"}`
	} else {
		c.HTTPStatus, c.Code, c.Message, c.Reason = 400, "400", "Incorrect bill number", "customer_not_found"
		c.Response = `{"status_code":"400","status_message":"Incorrect bill number","error":"Bill number validation failed"}`
	}
	return c
}

func (w *snapcartWire) inquiryRefused(end outcome) wireCall {
	ref := w.reference()
	return w.refused(wireCall{Operation: "inquiry", Reference: ref,
		Request: fmt.Sprintf(`{"product_code":%q,%s,"reference_id":%q}`, w.t.offer.ProviderProductCode, w.target(), ref)}, end)
}

func (w *snapcartWire) paymentRequest() string {
	t, ref := w.t, w.reference()
	if w.requestID != "" {
		return fmt.Sprintf(`{"product_code":%q,"request_id":%q,"item_code":%q,"reference_id":%q}`, t.offer.ProviderProductCode, w.requestID, t.offer.ItemCode, ref)
	}
	return fmt.Sprintf(`{"product_code":%q,%s,"item_code":%q,"reference_id":%q}`, t.offer.ProviderProductCode, w.target(), t.offer.ItemCode, ref)
}

func (w *snapcartWire) paymentRefused(end outcome) wireCall {
	return w.refused(wireCall{Operation: "payment", Reference: w.reference(), Request: w.paymentRequest()}, end)
}

func (w *snapcartWire) payment() wireCall {
	req := w.paymentRequest()
	if w.requestID == "" {
		w.requestID = ulid(w.t.r)
	}
	ref := w.reference()
	return wireCall{Operation: "payment", Reference: ref, HTTPStatus: 200, Code: "200", Message: "Transaction successful", Outcome: "pending",
		Request: req, TransactionID: w.requestID,
		Response: fmt.Sprintf(`{"data":{"biller_code":"200","biller_message":"Transaction is being processed","request_id":%q,"reference_id":%q},"status_code":"200","status_message":"Transaction successful"}`, w.requestID, ref)}
}

func (w *snapcartWire) lookup(status string) wireCall {
	t, ref := w.t, w.reference()
	c := wireCall{Operation: "lookup", Reference: ref, HTTPStatus: 200, Code: "200", Message: "Transaction successful", Outcome: status,
		Request: fmt.Sprintf(`{"reference_id":%q}`, ref)}
	biller, serial := "Transaction is being processed", ""
	switch status {
	case "failed":
		c.HTTPStatus, c.Code, c.Message, c.Reason = 400, "400", "Transaction failed", "transaction_failed"
		c.Response = `{"status_code":"400","status_message":"Transaction failed"}`
		return c
	case "succeeded":
		biller, serial = "Transaction successful", fmt.Sprintf(`"serial_number":%q,`, w.serial)
	}
	sent := *t.p.PaymentLastSentAt
	c.Response = fmt.Sprintf(`{"data":{"order_id":"ORD%s","payment_id":"PAY%s","reference_id":%q,"product_code":%q,"amount":%d,"biller_code":"200","biller_message":%q,%s"request_at":%q,"updated_at":%q},"status_code":"200","status_message":"Transaction successful"}`,
		w.requestID[14:], w.requestID[14:], ref, t.offer.ProviderProductCode, *t.p.Amount, biller, serial, sent.In(wibZone).Format(time.RFC3339), t.now.In(wibZone).Format(time.RFC3339))
	return c
}

func (w *snapcartWire) callback(status string) wireCallback {
	t, ref := w.t, w.reference()
	code, msg, serial := "200", "Transaction successful", fmt.Sprintf(`,"serial_number":%q`, w.serial)
	outcome := "succeeded"
	if status != "succeeded" {
		code, msg, serial, outcome = "400", "Transaction failed", "", "failed"
	}
	body := fmt.Sprintf(`{"request_id":%q,"reference_id":%q,"product_code":%q,"bill_amount":%d,"bill_number":%q,"status_code":%q,"status_message":%q,"biller_code":%q,"biller_message":%q%s}`,
		w.requestID, ref, t.offer.ProviderProductCode, *t.p.Amount, t.customer(), code, msg, code, msg, serial)
	return wireCallback{Body: body, Reference: ref, Outcome: outcome, RawStatus: code + "/" + code, Authenticated: true}
}

func (w *snapcartWire) result() string {
	if w.serial == "" {
		w.serial = digits(w.t.r, 16)
	}
	return fmt.Sprintf(`{"serial_number": %q, "provider_transaction_id": %q}`, w.serial, w.requestID)
}

func (w *snapcartWire) signedCallbacks() bool { return true }

// wibZone is Asia/Jakarta's offset, in which both providers write times.
var wibZone = time.FixedZone("WIB", 7*60*60)

// wib is t as Klikoo writes times.
func wib(t time.Time) string { return t.In(wibZone).Format("2006-01-02 15:04:05") }
