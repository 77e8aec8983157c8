package snapcartsim

import (
	"fmt"
	"hash/fnv"
	"net/http"
	"strconv"
	"time"

	"github.com/ppob-orchestrator/orchestrator/internal/providers"
	"github.com/ppob-orchestrator/orchestrator/internal/providers/simkit"
)

// scenario13Amount is what scenario 13's inquiry answers.
const scenario13Amount = 999999

// simInquiryData is data of a billing inquiry answer, in the seed's shape.
type simInquiryData struct {
	RequestID      string            `json:"request_id"`
	ProductCode    string            `json:"product_code"`
	BillNumber     string            `json:"bill_number"`
	BillAmount     int64             `json:"bill_amount"`
	ReferenceID    string            `json:"reference_id,omitempty"`
	AdditionalInfo map[string]string `json:"additional_info"`
	BillerCode     string            `json:"biller_code"`
	BillerMessage  string            `json:"biller_message"`
}

// handleInquiry answers POST {prefix}inquiry.
func (s *Simulator) handleInquiry(w http.ResponseWriter, r *http.Request) {
	req, ok := decodeRequest(w, r)
	if !ok {
		return
	}
	p, ok := s.checkCommon(w, req, false)
	if !ok {
		return
	}
	if p.Inquiry == InquiryNone {
		writeBadRequest(w, "Inquiry is not available for this product_code")
		return
	}
	ident, bad := identification(p, req)
	if bad != "" {
		writeBadRequest(w, bad)
		return
	}
	if closed(ident) {
		writeProductNotFound(w)
		return
	}
	switch providers.Scenario(ident) {
	case "14":
		s.mu.Lock()
		key := p.Code + "|" + ident
		s.inquiryTries[key]++
		tries := s.inquiryTries[key]
		s.mu.Unlock()
		if tries <= 2 {
			simkit.Sleep(r, s.cfg.SlowAnswer)
			simkit.Drop(w)
			return
		}
	case "11":
		writeStatus(w, http.StatusBadRequest, "400", "Incorrect bill number", "Bill number validation failed")
		return
	}
	if p.Family.UsesUserID() {
		// Game vouchers: validate the player, answer the in-game name only.
		writeAnswer(w, http.StatusOK, simAnswer{Data: map[string]string{"ign": "Player_" + req.UserID}, StatusCode: "200", StatusMessage: "Transaction successful"})
		return
	}
	amount := p.Price
	if providers.Scenario(ident) == "13" {
		amount = scenario13Amount
	}
	now := s.cfg.Now()
	id := newULID(now)
	s.mu.Lock()
	s.inquiries[id] = &simInquiry{requestID: id, product: p.Code, identifier: ident, reference: req.ReferenceID, amount: amount, at: now}
	s.mu.Unlock()
	info := map[string]string{
		"serial_number": billSerial(ident, now),
		"idtrx":         id,
		"balance":       idNotation(s.ledger.Balance()),
	}
	if p.Code != "TELKOM_POSTPAID" {
		info["customer_name"] = "PELANGGAN " + ident[len(ident)-4:]
		info["period"] = now.Format("200601")
	}
	writeAnswer(w, http.StatusOK, simAnswer{
		Data: simInquiryData{
			RequestID: id, ProductCode: p.Code, BillNumber: ident, BillAmount: amount, ReferenceID: req.ReferenceID,
			AdditionalInfo: info, BillerCode: "200", BillerMessage: "Transaction successful",
		},
		StatusCode: "200", StatusMessage: "Transaction successful",
	})
}

// billSerial composes a billing serial in the seed's shape
// ("03357875092/112023/05/0003"), stable for a bill number and month.
func billSerial(ident string, now time.Time) string {
	h := fnv.New64a()
	_, _ = h.Write([]byte(ident))
	return fmt.Sprintf("%011d/%s/05/0003", h.Sum64()%100_000_000_000, now.Format("012006"))
}

// idNotation writes rupiah in Indonesian notation: dots group thousands
// (50850 is "50.850").
func idNotation(n int64) string {
	neg := n < 0
	if neg {
		n = -n
	}
	s := strconv.FormatInt(n, 10)
	out := make([]byte, 0, len(s)+len(s)/3+1)
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, '.')
		}
		out = append(out, s[i])
	}
	if neg {
		return "-" + string(out)
	}
	return string(out)
}
