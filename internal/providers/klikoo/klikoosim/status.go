package klikoosim

import (
	"crypto/sha256"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ppob-orchestrator/orchestrator/internal/providers"
	"github.com/ppob-orchestrator/orchestrator/internal/providers/simkit"
)

// Transaction status words the simulator answers.
const (
	simPending = "PENDING"
	simSuccess = "SUCCESS"
	simFailed  = "FAILED"
	simRefund  = "REFUND"
)

// simTxn is one accepted buy. Fields after creation change only under
// Simulator.mu.
type simTxn struct {
	id                int64
	ref, value, msidn string
	product           Product
	amount, selling   int64
	scenario          string
	createdAt         time.Time
	charged           bool
	before, after     int64 // deposit around the charge
	lookups           int   // lookups that saw it (detail and history)
	callbackSent      bool
}

// simView is what one lookup reports.
type simView struct {
	status, sn, reason string
}

// hidden reports whether tx is still outside the history index (scenario 35).
func (s *Simulator) hidden(tx *simTxn, now time.Time) bool {
	return tx.scenario == "35" && now.Before(tx.createdAt.Add(s.cfg.IndexLag))
}

// observe counts one lookup of tx and returns what it reports, or drop for a
// lookup whose connection must be reset (scenario 61). Call with s.mu held
// and only for a visible tx.
func (s *Simulator) observe(tx *simTxn, now time.Time) (v simView, drop bool) {
	tx.lookups++
	n := tx.lookups
	success := simView{status: simSuccess, sn: serialNumber(tx)}
	pending := simView{status: simPending}
	switch tx.scenario {
	case "01":
		return success, false // success at once, serial included
	case "21":
		if n <= 3 {
			return pending, false
		}
	case "22":
		if n > 1 {
			return simView{status: simFailed, reason: "Transaksi gagal"}, false
		}
		return pending, false
	case "23":
		if n <= 2 {
			success.sn = ""
		}
	case "24":
		if n > 1 {
			return simView{status: simRefund, reason: "Transaksi direfund"}, false
		}
	case "41":
		return pending, false
	case "51":
		done := tx.callbackSent || (s.cfg.CallbackURL == "" && !now.Before(tx.createdAt.Add(s.cfg.CallbackDelay)))
		if !done {
			return pending, false
		}
	case "61":
		if n <= 2 {
			return simView{}, true
		}
	default:
		if n == 1 {
			return pending, false
		}
	}
	return success, false
}

// serialNumber is the sn of tx on SUCCESS: for PLN the "/" form
// TOKEN/NAME/TARIFF/POWER/KWH with a 20-digit token, else a plain serial.
func serialNumber(tx *simTxn) string {
	sum := sha256.Sum256([]byte(tx.ref))
	var token strings.Builder
	for i := 0; token.Len() < 20; i++ {
		token.WriteByte('0' + sum[i%len(sum)]%10)
	}
	if tx.product.Family == providers.FamilyPLNPrepaid {
		kwh := float64(tx.product.AgentPrice-500) / 1444.7
		return fmt.Sprintf("%s/%s/%s/%.1f", token.String(), customerName(tx.value), plnPower, kwh)
	}
	return fmt.Sprintf("41%012d", tx.id)
}

// simRow is a transaction as the detail and the history show it.
type simRow struct {
	TransactionID      int64  `json:"transaction_id"`
	PartnerReferenceID string `json:"partner_reference_id"`
	ProductCode        string `json:"product_code"`
	ProductName        string `json:"product_name"`
	Value              string `json:"value"`
	CustomerName       string `json:"customer_name"`
	Amount             string `json:"amount"`
	Status             string `json:"status"`
	Reason             string `json:"reason"`
	SN                 string `json:"sn"`
	CurrentBalance     int64  `json:"current_balance"`
	BeginningBalance   int64  `json:"beginning_balance"`
	TransactionTime    string `json:"transaction_time"`
}

// row renders tx with v. Call with s.mu held.
func (s *Simulator) row(tx *simTxn, v simView) simRow {
	before, after := tx.before, tx.after
	if !tx.charged {
		before = s.ledger.Balance()
		after = before
	}
	return simRow{
		TransactionID: tx.id, PartnerReferenceID: tx.ref, ProductCode: tx.product.Code, ProductName: tx.product.Name,
		Value: tx.value, CustomerName: customerName(tx.value), Amount: strconv.FormatInt(tx.amount, 10),
		Status: v.status, Reason: v.reason, SN: v.sn, CurrentBalance: after, BeginningBalance: before,
		TransactionTime: tx.createdAt.In(wib).Format(time.DateTime),
	}
}

// handleDetail serves GET /v1/open-api/transactions/{transaction_id}.
func (s *Simulator) handleDetail(w http.ResponseWriter, r *http.Request, _ []byte) {
	now := s.cfg.Now()
	s.mu.Lock()
	tx := s.byID[r.PathValue("id")]
	if tx == nil || s.hidden(tx, now) {
		s.mu.Unlock()
		reply(w, "404027005", "Transaction not found", nil)
		return
	}
	v, drop := s.observe(tx, now)
	row := s.row(tx, v)
	s.mu.Unlock()
	if drop {
		simkit.Drop(w)
		return
	}
	reply(w, "200022000", "Sukses", row)
}

// historyTime parses a history bound: RFC 3339 in WIB ("+07:00").
func historyTime(v string) (time.Time, bool) {
	if !strings.HasSuffix(v, "+07:00") {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339, v)
	return t, err == nil
}

// handleHistory serves GET /v1/open-api/transactions?page&limit&q&from&to,
// newest first. q is a free-text substring search over the reference, the
// customer value and the transaction id; from and to bound the creation
// time, to inclusive of its whole second.
func (s *Simulator) handleHistory(w http.ResponseWriter, r *http.Request, _ []byte) {
	qv := r.URL.Query()
	page, limit := 1, 10
	var ok bool
	if v := qv.Get("page"); v != "" {
		if page, ok = atoiRange(v, 1, 1_000_000); !ok {
			reply(w, "400026510", "page must be a positive number", nil)
			return
		}
	}
	if v := qv.Get("limit"); v != "" {
		if limit, ok = atoiRange(v, 1, 100); !ok {
			reply(w, "400026510", "limit must be 1..100", nil)
			return
		}
	}
	var from, to time.Time
	if v := qv.Get("from"); v != "" {
		if from, ok = historyTime(v); !ok {
			reply(w, "400026510", "from must be RFC 3339 in WIB (+07:00)", nil)
			return
		}
	}
	if v := qv.Get("to"); v != "" {
		if to, ok = historyTime(v); !ok {
			reply(w, "400026510", "to must be RFC 3339 in WIB (+07:00)", nil)
			return
		}
	}
	q := qv.Get("q")
	now := s.cfg.Now()

	s.mu.Lock()
	var matches []*simTxn
	for i := len(s.order) - 1; i >= 0; i-- {
		tx := s.order[i]
		switch {
		case s.hidden(tx, now),
			!from.IsZero() && tx.createdAt.Before(from),
			!to.IsZero() && tx.createdAt.Truncate(time.Second).After(to),
			q != "" && !strings.Contains(tx.ref, q) && !strings.Contains(tx.value, q) && !strings.Contains(strconv.FormatInt(tx.id, 10), q):
			continue
		}
		matches = append(matches, tx)
	}
	start := min((page-1)*limit, len(matches))
	end := min(start+limit, len(matches))
	rows := make([]simRow, 0, end-start)
	drop := false
	for _, tx := range matches[start:end] {
		v, d := s.observe(tx, now)
		drop = drop || d
		rows = append(rows, s.row(tx, v))
	}
	s.mu.Unlock()
	if drop {
		simkit.Drop(w)
		return
	}
	reply(w, "200022000", "Sukses", map[string]any{"page": page, "limit": limit, "total": len(matches), "items": rows})
}

func atoiRange(s string, lo, hi int) (int, bool) {
	n, err := strconv.Atoi(s)
	return n, err == nil && n >= lo && n <= hi
}

// handleBalance serves GET /v1/open-api/balance.
func (s *Simulator) handleBalance(w http.ResponseWriter, _ *http.Request, _ []byte) {
	reply(w, "200032000", "Sukses", map[string]int64{"balance": s.ledger.Balance()})
}
