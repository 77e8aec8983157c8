package snapcartsim

import (
	"net/http"
	"time"

	"github.com/ppob-orchestrator/orchestrator/internal/providers/simkit"
)

// wib is Asia/Jakarta's fixed offset, used in the simulator's timestamps.
var wib = time.FixedZone("WIB", 7*3600)

// statusKind is what a status lookup or a callback reports.
type statusKind int

const (
	kindPending     statusKind = iota // 200, biller "Transaction is being processed"
	kindSuccess                       // 200/200 with the serial number
	kindSuccessNoSN                   // 200/200 with an empty serial number (scenario 23)
	kindFailed                        // 400 "Transaction failed"
	kindDrop                          // connection reset (scenario 61)
	kindNotFoundYet                   // 404 "Transaction not found" (scenario 35's index lag)
)

// simStatusData is data of a payment status answer.
type simStatusData struct {
	OrderID       string  `json:"order_id"`
	PaymentID     string  `json:"payment_id"`
	ReferenceID   string  `json:"reference_id"`
	ProductCode   string  `json:"product_code"`
	Amount        int64   `json:"amount"`
	BillerCode    string  `json:"biller_code"`
	BillerMessage string  `json:"biller_message"`
	SerialNumber  *string `json:"serial_number,omitempty"`
	RequestAt     string  `json:"request_at"`
	UpdatedAt     string  `json:"updated_at"`
}

// handleStatus answers GET {prefix}payment/status/{id}. The answer depends
// on the transaction's scenario and on how many lookups it has had.
func (s *Simulator) handleStatus(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	now := s.cfg.Now()
	s.mu.Lock()
	t := s.txns[id]
	var kind statusKind
	var view simTxn
	if t != nil {
		kind = s.lookupKind(t, now)
		view = *t
	}
	s.mu.Unlock()
	switch {
	case t == nil || kind == kindNotFoundYet:
		writeAnswer(w, http.StatusNotFound, simAnswer{StatusCode: "404", StatusMessage: "Transaction not found", Error: "Unknown request_id"})
	case kind == kindDrop:
		simkit.Drop(w)
	default:
		code, msg, data := statusBody(&view, kind, now)
		httpStatus := http.StatusOK
		if code == "400" {
			httpStatus = http.StatusBadRequest
		}
		writeAnswer(w, httpStatus, simAnswer{Data: data, StatusCode: code, StatusMessage: msg})
	}
}

// lookupKind counts a lookup of t and decides its answer. s.mu is held.
func (s *Simulator) lookupKind(t *simTxn, now time.Time) statusKind {
	if t.scenario == "35" && now.Before(t.acceptedAt.Add(s.cfg.IndexLag)) {
		return kindNotFoundYet // the index lags: not counted as a lookup
	}
	t.lookups++
	n := t.lookups
	switch t.scenario {
	case "01":
		return kindSuccess // success at once, serial included
	case "21":
		return pendingFor(n, 3)
	case "22":
		if n <= 1 {
			return kindPending
		}
		return kindFailed
	case "23":
		if n <= 2 {
			return kindSuccessNoSN
		}
		return kindSuccess
	case "24":
		if n <= 1 {
			return kindSuccess
		}
		return kindFailed
	case "41":
		return kindPending
	case "51":
		sent := t.callbackSent || (s.cfg.CallbackURL == "" && !now.Before(t.acceptedAt.Add(s.cfg.CallbackDelay)))
		if sent {
			return kindSuccess
		}
		return kindPending
	case "61":
		if n <= 2 {
			return kindDrop
		}
		return kindSuccess
	}
	return pendingFor(n, 1)
}

// pendingFor is pending for the first k lookups, then success.
func pendingFor(n, k int) statusKind {
	if n <= k {
		return kindPending
	}
	return kindSuccess
}

// statusBody builds status_code, status_message and data for a kind.
func statusBody(t *simTxn, kind statusKind, now time.Time) (string, string, simStatusData) {
	d := simStatusData{
		OrderID: t.orderID, PaymentID: t.paymentID, ReferenceID: t.reference, ProductCode: t.product.Code,
		Amount: t.amount, RequestAt: t.acceptedAt.In(wib).Format(time.RFC3339), UpdatedAt: now.In(wib).Format(time.RFC3339),
	}
	switch kind {
	case kindSuccess, kindSuccessNoSN:
		sn := t.serial
		if kind == kindSuccessNoSN {
			sn = ""
		}
		d.BillerCode, d.BillerMessage, d.SerialNumber = "200", "Transaction successful", &sn
		return "200", "Transaction successful", d
	case kindFailed:
		d.BillerCode, d.BillerMessage = "400", "Transaction failed"
		return "400", "Transaction failed", d
	default:
		d.BillerCode, d.BillerMessage = "200", "Transaction is being processed"
		return "200", "Transaction successful", d
	}
}
