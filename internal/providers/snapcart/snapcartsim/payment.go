package snapcartsim

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"net/http"
	"time"

	"github.com/ppob-orchestrator/orchestrator/internal/providers"
	"github.com/ppob-orchestrator/orchestrator/internal/providers/simkit"
)

// simAckData is data of a payment acknowledgement.
type simAckData struct {
	BillerCode    string `json:"biller_code"`
	BillerMessage string `json:"biller_message"`
	RequestID     string `json:"request_id"`
	ReferenceID   string `json:"reference_id"`
}

// unchargedScenarios are accepted without a charge: 22 fails, 41 never ends.
var unchargedScenarios = map[string]bool{"22": true, "41": true}

// handlePayment answers POST {prefix}payment.
//
// A payment with a known request_id answers its first acknowledgement again
// and never charges twice. A payment without request_id (one-step) is a new
// transaction, charged every time it is received.
func (s *Simulator) handlePayment(w http.ResponseWriter, r *http.Request) {
	req, ok := decodeRequest(w, r)
	if !ok {
		return
	}
	p, ok := s.checkCommon(w, req, true)
	if !ok {
		return
	}
	now := s.cfg.Now()
	var ident string
	var amount int64
	if req.RequestID != "" {
		s.mu.Lock()
		t, inq := s.txns[req.RequestID], s.inquiries[req.RequestID]
		s.mu.Unlock()
		switch {
		case t != nil:
			writeRaw(w, http.StatusOK, t.ack)
			return
		case inq == nil:
			writeBadRequest(w, "Invalid field (request_id): unknown request_id")
			return
		case inq.product != p.Code:
			writeBadRequest(w, "Invalid field (request_id): issued for another product_code")
			return
		case req.BillNumber != "" && req.BillNumber != inq.identifier:
			writeBadRequest(w, "Invalid field (bill_number): differs from the inquiry")
			return
		case now.Sub(inq.at) > s.cfg.InquiryValidity:
			writeStatus(w, http.StatusGone, "410", "Inquiry expired", "request_id has expired, repeat the inquiry")
			return
		}
		ident, amount = inq.identifier, inq.amount
	} else {
		if p.Inquiry == InquiryRequired {
			writeBadRequest(w, "Required field (request_id)")
			return
		}
		var bad string
		if ident, bad = identification(p, req); bad != "" {
			writeBadRequest(w, bad)
			return
		}
		if req.ItemCode != "" && req.ItemCode != p.ItemCode {
			writeBadRequest(w, "Invalid field (item_code)")
			return
		}
		amount = p.Price
	}

	if closed(ident) {
		writeProductNotFound(w)
		return
	}
	sc := providers.Scenario(ident)
	switch sc {
	case "11":
		writeStatus(w, http.StatusBadRequest, "400", "Incorrect bill number", "Bill number validation failed")
		return
	case "12":
		writeStatus(w, http.StatusPaymentRequired, "402", "Insufficient balance", "Insufficient balance - current balance "+idNotation(s.ledger.Balance()))
		return
	case "32":
		key := "ref:" + req.ReferenceID
		if req.RequestID != "" {
			key = "req:" + req.RequestID
		}
		s.mu.Lock()
		first := !s.dropped[key]
		s.dropped[key] = true
		s.mu.Unlock()
		if first { // dropped before processing: no record, no charge
			simkit.Sleep(r, s.cfg.SlowAnswer)
			simkit.Drop(w)
			return
		}
	}

	t, ack, ok := s.accept(req, p, ident, amount, sc)
	if !ok {
		writeStatus(w, http.StatusPaymentRequired, "402", "Insufficient balance", "Insufficient balance - current balance "+idNotation(s.ledger.Balance()))
		return
	}
	if t != nil {
		s.scheduleCallbacks(t)
	}
	switch sc {
	case "31": // processed and charged, answered after the client gave up
		simkit.Sleep(r, s.cfg.SlowAnswer)
		writeRaw(w, http.StatusOK, ack)
	case "33":
		writeAnswer(w, http.StatusInternalServerError, simAnswer{StatusCode: "500", StatusMessage: "Third party error", Error: "payment failed"})
	case "34":
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte("<html><body><h1>Service Temporarily Unavailable</h1></body></html>"))
	case "35":
		simkit.Sleep(r, s.cfg.SlowAnswer)
		simkit.Drop(w)
	default:
		writeRaw(w, http.StatusOK, ack)
	}
}

// accept records and charges a payment. It returns the new transaction (nil
// when a concurrent repeat of the same request_id won, in which case ack is
// that one's) and false when the deposit is too small.
func (s *Simulator) accept(req simRequest, p Product, ident string, amount int64, sc string) (*simTxn, []byte, bool) {
	now := s.cfg.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	id := req.RequestID
	if id != "" {
		if t := s.txns[id]; t != nil {
			return nil, t.ack, true
		}
	} else {
		id = newULID(now)
	}
	charged := !unchargedScenarios[sc]
	if charged {
		if _, _, ok := s.ledger.Charge(req.ReferenceID, p.Code, ident, amount); !ok {
			return nil, nil, false
		}
	}
	s.seq++
	t := &simTxn{
		requestID: id, reference: req.ReferenceID, identifier: ident, scenario: sc,
		product: p, amount: amount, charged: charged, acceptedAt: now,
		orderID: fmt.Sprintf("ORD%09d", s.seq), paymentID: fmt.Sprintf("PAY%09d", s.seq),
		serial: simSerial(p, ident, id, now),
	}
	t.ack, _ = json.Marshal(simAnswer{
		Data:       simAckData{BillerCode: "200", BillerMessage: "Transaction is being processed", RequestID: id, ReferenceID: req.ReferenceID},
		StatusCode: "200", StatusMessage: "Transaction successful",
	})
	s.txns[id] = t
	return t, t.ack, true
}

// simSerial is the serial number a successful transaction reports: the
// billing serial for bills, 16 digits otherwise.
func simSerial(p Product, ident, requestID string, now time.Time) string {
	if p.Family.Postpaid() {
		return billSerial(ident, now)
	}
	h := fnv.New64a()
	_, _ = h.Write([]byte(requestID))
	return fmt.Sprintf("%016d", h.Sum64()%10_000_000_000_000_000)
}
