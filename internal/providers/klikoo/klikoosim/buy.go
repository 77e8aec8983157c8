package klikoosim

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ppob-orchestrator/orchestrator/internal/providers"
	"github.com/ppob-orchestrator/orchestrator/internal/providers/simkit"
)

// The sample customers of Klikoo's Inquiry Prepaid documentation.
const (
	seedGoodValue = "01105691111" // answers the seed's success sample
	seedBadValue  = "01105601111" // answers 503029998 "CUSTID not recognized"
	seedBadText   = "CUSTID not recognized. Biller throws exception. Err:5110"
	seedGoodName  = "BAHARRUDIN1"
	plnPower      = "R1/2200VA"
)

// scenario13Price is the price scenario 13 answers for products with an
// inquiry.
const scenario13Price = 999999

// purchaseFields are the buy's (and prepaid inquiry's) fields, all strings.
var purchaseFields = []string{"msidn", "amount", "product_code", "selling_price", "value", "partner_reference_id"}

// simStrings decodes a JSON object whose required keys must be non-empty
// strings and whose optional keys, when present, strings. It returns the
// case digits of the refusal ("6510" malformed, "6512" empty) and a message.
func simStrings(body []byte, required []string, optional ...string) (map[string]string, string, string) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil || raw == nil {
		return nil, "6510", "Invalid request body"
	}
	out := map[string]string{}
	for i, k := range append(append([]string{}, required...), optional...) {
		v, ok := raw[k]
		if !ok {
			if i < len(required) {
				return nil, "6512", "Field " + k + " is required"
			}
			continue
		}
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return nil, "6510", "Field " + k + " must be a string"
		}
		if s == "" && i < len(required) {
			return nil, "6512", "Field " + k + " is required"
		}
		out[k] = s
	}
	return out, "", ""
}

// simDigits reports whether s is a plain whole number.
func simDigits(s string) (int64, bool) {
	if s == "" || len(s) > 15 || strings.TrimLeft(s, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

// customerName is the name the simulator gives a customer number.
func customerName(value string) string {
	if value == seedGoodValue {
		return seedGoodName
	}
	tail := value
	if len(tail) > 4 {
		tail = tail[len(tail)-4:]
	}
	return "PELANGGAN " + tail
}

// billAmount is what Klikoo charges us for p and customer value: the agent
// price for prepaid products; a bill derived from the account number plus
// the agent price (Klikoo's fee) for bills; 999999 in scenario 13 for
// products with an inquiry.
func billAmount(p Product, value string) int64 {
	if providers.Scenario(value) == "13" && p.HasInquiry() {
		return scenario13Price
	}
	if !p.Family.Postpaid() {
		return p.AgentPrice
	}
	var sum int64
	for _, c := range value {
		if c >= '0' && c <= '9' {
			sum += int64(c - '0')
		}
	}
	return 25000 + sum*1000 + p.AgentPrice
}

// holdInquiry reports whether this inquiry must be held and dropped
// (scenario 14: the first two inquiries per value).
func (s *Simulator) holdInquiry(value string) bool {
	if providers.Scenario(value) != "14" {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.inquiries[value]
	s.inquiries[value] = n + 1
	return n < 2
}

// closedMessage is what Klikoo says of a product it cannot sell now.
const closedMessage = "Produk sedang gangguan"

// closed reports whether Klikoo's product is closed ("gangguan") for this
// customer: the routing scenarios 15 and 17, where Klikoo is the provider
// that cannot sell (docs/simulators.md). The other routing scenario, 16,
// is a default success here.
func closed(value string) bool {
	switch providers.Scenario(value) {
	case "15", "17":
		return true
	}
	return false
}

// inquiryRefused plays what the scenarios do to both inquiries before any
// answer: the product closed (15, 17), the inquiry held and dropped (14),
// the customer refused (11 and the documentation's failure sample). It
// reports whether it answered.
func (s *Simulator) inquiryRefused(w http.ResponseWriter, r *http.Request, value string) bool {
	switch {
	case closed(value):
		reply(w, "400026525", closedMessage, nil)
	case s.holdInquiry(value):
		simkit.Sleep(r, s.cfg.SlowAnswer)
		simkit.Drop(w)
	case value == seedBadValue:
		reply(w, "503029998", seedBadText, map[string]string{"customer_number": value})
	case providers.Scenario(value) == "11":
		reply(w, "404027011", "Customer number not found", map[string]string{"customer_number": value})
	default:
		return false
	}
	return true
}

// simInquiryData is a prepaid inquiry's data, in the seed's order.
type simInquiryData struct {
	ProductName    string `json:"product_name"`
	Amount         int64  `json:"amount"`
	Total          int64  `json:"total"`
	ProductCode    string `json:"product_code"`
	CustomerNumber string `json:"customer_number"`
	CustomerName   string `json:"customer_name"`
	PowerCapacity  string `json:"power_capacity,omitempty"`
}

// handlePrepaidInquiry serves POST /v1/open-api/products/inquiry (PLN and
// e-wallets only).
func (s *Simulator) handlePrepaidInquiry(w http.ResponseWriter, r *http.Request, body []byte) {
	vals, kase, msg := simStrings(body, purchaseFields)
	if kase != "" {
		reply(w, "40002"+kase, msg, nil)
		return
	}
	if _, ok := simDigits(vals["amount"]); !ok {
		reply(w, "400026510", "Field amount must be a whole number", nil)
		return
	}
	if _, ok := simDigits(vals["selling_price"]); !ok {
		reply(w, "400026510", "Field selling_price must be a whole number", nil)
		return
	}
	p, ok := s.catalog[vals["product_code"]]
	if !ok {
		reply(w, "404027003", "Product not found", nil)
		return
	}
	if !p.Enabled || (p.Family != providers.FamilyPLNPrepaid && p.Family != providers.FamilyEWallet) {
		reply(w, "400026525", "Inquiry is not available for this product", nil)
		return
	}
	value := vals["value"]
	if s.inquiryRefused(w, r, value) {
		return
	}
	amount := billAmount(p, value)
	d := simInquiryData{
		ProductName: p.Name, Amount: amount, Total: amount + p.AdminFee, ProductCode: p.Code,
		CustomerNumber: value, CustomerName: customerName(value),
	}
	if p.Family == providers.FamilyPLNPrepaid {
		d.PowerCapacity = plnPower
	}
	reply(w, "200022000", "Sukses", d)
}

// simPostpaidData is a postpaid inquiry's data.
type simPostpaidData struct {
	ProductName    string `json:"product_name"`
	ProductCode    string `json:"product_code"`
	CustomerNumber string `json:"customer_number"`
	CustomerName   string `json:"customer_name"`
	Period         string `json:"period,omitempty"`
	Amount         int64  `json:"amount"`
	AdminFee       int64  `json:"admin_fee"`
	Total          int64  `json:"total"`
}

// handlePostpaidInquiry serves POST /v1/open-api/transactions/inquiry-postpaid.
func (s *Simulator) handlePostpaidInquiry(w http.ResponseWriter, r *http.Request, body []byte) {
	vals, kase, msg := simStrings(body, []string{"account_number", "product_code"}, "period")
	if kase != "" {
		reply(w, "40002"+kase, msg, nil)
		return
	}
	p, ok := s.catalog[vals["product_code"]]
	if !ok {
		reply(w, "404027003", "Product not found", nil)
		return
	}
	if !p.Enabled || !p.Family.Postpaid() {
		reply(w, "400026525", "Postpaid inquiry is not available for this product", nil)
		return
	}
	if p.Family == providers.FamilyBPJS && vals["period"] == "" {
		reply(w, "400026512", "Field period is required", nil)
		return
	}
	value := vals["account_number"]
	if s.inquiryRefused(w, r, value) {
		return
	}
	amount := billAmount(p, value)
	d := simPostpaidData{
		ProductName: p.Name, ProductCode: p.Code, CustomerNumber: value, CustomerName: customerName(value),
		Amount: amount, AdminFee: p.AdminFee, Total: amount + p.AdminFee,
	}
	if p.Family == providers.FamilyBPJS {
		d.Period = vals["period"]
	}
	reply(w, "200022000", "Sukses", d)
}

// simBuyData is the data of an accepted buy.
type simBuyData struct {
	TransactionID      int64  `json:"transaction_id"`
	PartnerReferenceID string `json:"partner_reference_id"`
	ProductCode        string `json:"product_code"`
	Value              string `json:"value"`
	Amount             string `json:"amount"`
	Status             string `json:"status"`
	TransactionTime    string `json:"transaction_time"`
}

// handleBuy serves POST /v1/open-api/products/buy: validation, dedupe by
// partner_reference_id (409026563, never a second charge), the charge, and
// the answer shaped by the scenario.
func (s *Simulator) handleBuy(w http.ResponseWriter, r *http.Request, body []byte) {
	vals, kase, msg := simStrings(body, purchaseFields)
	if kase != "" {
		reply(w, "40002"+kase, msg, nil)
		return
	}
	ref, value := vals["partner_reference_id"], vals["value"]
	if s.seen(ref) {
		reply(w, "409026563", "Partner reference id already used", map[string]string{"partner_reference_id": ref})
		return
	}
	amount, ok := simDigits(vals["amount"])
	if !ok {
		reply(w, "400026510", "Field amount must be a whole number", nil)
		return
	}
	selling, ok := simDigits(vals["selling_price"])
	if !ok {
		reply(w, "400026510", "Field selling_price must be a whole number", nil)
		return
	}
	p, ok := s.catalog[vals["product_code"]]
	if !ok {
		reply(w, "404027003", "Product not found", nil)
		return
	}
	if !p.Enabled {
		reply(w, "400026525", "Product is not available", nil)
		return
	}
	if closed(value) {
		reply(w, "400026525", closedMessage, nil)
		return
	}
	if p.Family == providers.FamilyBPJS && !phoneLike(vals["msidn"]) {
		reply(w, "400026510", "Field msidn must be the customer's phone number", nil)
		return
	}
	if amount < billAmount(p, value) {
		reply(w, "400026510", "Amount is below the product price", nil)
		return
	}
	scenario := providers.Scenario(value)
	switch scenario {
	case "11":
		reply(w, "404027011", "Customer number not found", nil)
		return
	case "12":
		reply(w, "403026514", "Insufficient deposit", nil)
		return
	}
	tx, code, msg, drop := s.accept(simTxn{
		ref: ref, value: value, msidn: vals["msidn"], product: p,
		amount: amount, selling: selling, scenario: scenario,
	})
	switch {
	case drop:
		// Scenario 32: dropped before processing; no record, no charge.
		simkit.Sleep(r, s.cfg.SlowAnswer)
		simkit.Drop(w)
		return
	case code != "":
		reply(w, code, msg, nil)
		return
	}
	s.scheduleCallbacks(tx)
	data := simBuyData{
		TransactionID: tx.id, PartnerReferenceID: ref, ProductCode: p.Code, Value: value,
		Amount: strconv.FormatInt(amount, 10), Status: "PENDING", TransactionTime: tx.createdAt.In(wib).Format(time.DateTime),
	}
	switch scenario {
	case "31":
		simkit.Sleep(r, s.cfg.SlowAnswer)
		reply(w, "201022001", "Sukses", data)
	case "33":
		reply(w, "500029999", "Internal server error", nil)
	case "34":
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte("<html><body>Transaksi sedang diproses</body></html>"))
	case "35":
		simkit.Sleep(r, s.cfg.SlowAnswer)
		simkit.Drop(w)
	default:
		reply(w, "201022001", "Sukses", data)
	}
}

// phoneLike reports whether s looks like an Indonesian mobile number.
func phoneLike(s string) bool {
	_, digits := simDigits(s)
	return digits && len(s) >= 10 && len(s) <= 14 && (strings.HasPrefix(s, "08") || strings.HasPrefix(s, "628"))
}

// seen reports whether a buy with ref was recorded.
func (s *Simulator) seen(ref string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.txns[ref]
	return ok
}

// charges reports whether a scenario's transaction ends in SUCCESS, which
// is when Klikoo deducts the deposit (the simulator charges at acceptance).
func charges(scenario string) bool {
	switch scenario {
	case "11", "12", "22", "41":
		return false
	}
	return true
}

// accept records a buy and charges it, atomically with the dedupe check. It
// returns the stored transaction, or a refusal code, or drop for the first
// attempt of scenario 32.
func (s *Simulator) accept(t simTxn) (tx *simTxn, code, msg string, drop bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.txns[t.ref]; dup {
		return nil, "409026563", "Partner reference id already used", false
	}
	if t.scenario == "32" && !s.dropped[t.ref] {
		s.dropped[t.ref] = true
		return nil, "", "", true
	}
	if t.amount > s.ledger.Balance() {
		return nil, "403026514", "Insufficient deposit", false
	}
	if charges(t.scenario) {
		before, after, ok := s.ledger.Charge(t.ref, t.product.Code, t.value, t.amount)
		if !ok {
			return nil, "403026514", "Insufficient deposit", false
		}
		t.charged, t.before, t.after = true, before, after
	}
	t.id = s.nextID
	s.nextID++
	t.createdAt = s.cfg.Now()
	tx = &t
	s.txns[t.ref] = tx
	s.byID[strconv.FormatInt(t.id, 10)] = tx
	s.order = append(s.order, tx)
	s.log.Info("buy accepted", "reference", t.ref, "transaction_id", t.id, "scenario", t.scenario, "charged", t.charged)
	return tx, "", "", false
}
