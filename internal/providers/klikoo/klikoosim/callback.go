package klikoosim

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"time"
)

// callbackAttempts bounds the deliveries of one callback answered non-2xx.
const callbackAttempts = 4

// simCallback is Klikoo's documented callback body, in its order. Klikoo
// documents no signature, so none is sent.
type simCallback struct {
	ResponseCode       string `json:"response_code"`
	ResponseMessage    string `json:"response_message"`
	PartnerReferenceID string `json:"partner_reference_id"`
	TransactionID      int64  `json:"transaction_id"`
	Amount             string `json:"amount"`
	TransactionTime    string `json:"transaction_time"`
	TransactionStatus  string `json:"transaction_status"`
	Reason             string `json:"reason"`
	ProductName        string `json:"product_name"`
	SN                 string `json:"sn"`
	Value              string `json:"value"`
	CustomerName       string `json:"customer_name"`
	CurrentBalance     int64  `json:"current_balance"`
	BeginningBalance   int64  `json:"beginning_balance"`
	ProductCode        string `json:"product_code"`
}

// callbackPlan lists the statuses a scenario's callbacks report, in order:
// the final status once, none for 41 (pending forever), and for 52 the
// SUCCESS twice (byte-identical) and then a stale PENDING.
func callbackPlan(scenario string) []string {
	switch scenario {
	case "41":
		return nil
	case "22":
		return []string{simFailed}
	case "24":
		return []string{simRefund}
	case "52":
		return []string{simSuccess, simSuccess, simPending}
	}
	return []string{simSuccess}
}

// callbackDelay is how long after the acceptance a scenario's first
// callback is sent: at once for 01 (success at once), else CallbackDelay.
func (s *Simulator) callbackDelay(scenario string) time.Duration {
	if scenario == "01" {
		return 0
	}
	return s.cfg.CallbackDelay
}

// scheduleCallbacks sends tx's callbacks callbackDelay after now, from a
// goroutine that Close stops.
func (s *Simulator) scheduleCallbacks(tx *simTxn) {
	plan := callbackPlan(tx.scenario)
	if s.cfg.CallbackURL == "" || len(plan) == 0 {
		return
	}
	s.mu.Lock()
	if s.ctx.Err() != nil {
		s.mu.Unlock()
		return
	}
	s.wg.Add(1)
	s.mu.Unlock()
	ref, delay := tx.ref, s.callbackDelay(tx.scenario)
	go func() {
		defer s.wg.Done()
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-s.ctx.Done():
			return
		}
		var prev []byte
		for i, status := range plan {
			body := prev
			if i == 0 || plan[i-1] != status {
				var ok bool
				if body, ok = s.callbackBody(ref, status); !ok {
					return // forgotten by a reset
				}
			}
			s.deliver(ref, body)
			prev = body
		}
	}()
}

// callbackBody renders the callback of ref reporting status and marks the
// callback as sent (before it is: scenario 51's lookups turn SUCCESS as soon
// as a receiver could look up). ok is false when ref is unknown.
func (s *Simulator) callbackBody(ref, status string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	tx := s.txns[ref]
	if tx == nil {
		return nil, false
	}
	tx.callbackSent = true
	v := simView{status: status}
	switch status {
	case simSuccess:
		v.sn = serialNumber(tx)
		if tx.scenario == "23" {
			v.sn = "" // the serial is not there yet
		}
	case simFailed:
		v.reason = "Transaksi gagal"
	case simRefund:
		v.reason = "Transaksi direfund"
	}
	row := s.row(tx, v)
	body, err := json.Marshal(simCallback{
		ResponseCode: "200022000", ResponseMessage: "Sukses", PartnerReferenceID: ref, TransactionID: tx.id,
		Amount: strconv.FormatInt(tx.amount, 10), TransactionTime: row.TransactionTime, TransactionStatus: status,
		Reason: v.reason, ProductName: tx.product.Name, SN: v.sn, Value: tx.value, CustomerName: row.CustomerName,
		CurrentBalance: row.CurrentBalance, BeginningBalance: row.BeginningBalance, ProductCode: tx.product.Code,
	})
	return body, err == nil
}

// deliver POSTs one callback, retrying a few times with backoff while the
// receiver answers non-2xx or cannot be reached.
func (s *Simulator) deliver(ref string, body []byte) {
	backoff := 100 * time.Millisecond
	for attempt := 1; attempt <= callbackAttempts; attempt++ {
		req, err := http.NewRequestWithContext(s.ctx, http.MethodPost, s.cfg.CallbackURL, bytes.NewReader(body))
		if err != nil {
			s.log.Error("callback request", "reference", ref, "err", err)
			return
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := s.cfg.CallbackClient.Do(req)
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
				return
			}
			s.log.Warn("callback refused", "reference", ref, "status", resp.StatusCode, "attempt", attempt)
		} else {
			s.log.Warn("callback failed", "reference", ref, "err", err, "attempt", attempt)
		}
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-s.ctx.Done():
			t.Stop()
			return
		}
		backoff *= 2
	}
}
