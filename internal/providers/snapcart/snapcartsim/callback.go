package snapcartsim

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"time"
)

// simCallback is the body the simulator POSTs to Config.CallbackURL.
type simCallback struct {
	RequestID     string `json:"request_id"`
	ReferenceID   string `json:"reference_id"`
	ProductCode   string `json:"product_code"`
	BillAmount    int64  `json:"bill_amount"`
	BillNumber    string `json:"bill_number"`
	StatusCode    string `json:"status_code"`
	StatusMessage string `json:"status_message"`
	BillerCode    string `json:"biller_code"`
	BillerMessage string `json:"biller_message"`
	SerialNumber  string `json:"serial_number,omitempty"`
}

// callbackPlan lists the callbacks a scenario sends, in order: the final
// status for successes (one-step 31–35 included, so a lost answer can still
// be resolved), FAILED for 22, SUCCESS then FAILED for 24, nothing for 41,
// and for 52 the SUCCESS twice and then a stale pending one.
func callbackPlan(scenario string) []statusKind {
	switch scenario {
	case "22":
		return []statusKind{kindFailed}
	case "24":
		return []statusKind{kindSuccess, kindFailed}
	case "41":
		return nil
	case "52":
		return []statusKind{kindSuccess, kindSuccess, kindPending}
	}
	return []statusKind{kindSuccess}
}

// callbackBody builds the callback body of t for a kind.
func (t *simTxn) callbackBody(kind statusKind) []byte {
	cb := simCallback{
		RequestID: t.requestID, ReferenceID: t.reference, ProductCode: t.product.Code,
		BillAmount: t.amount, BillNumber: t.identifier,
	}
	switch kind {
	case kindSuccess:
		cb.StatusCode, cb.StatusMessage, cb.BillerCode, cb.BillerMessage = "200", "Transaction successful", "200", "Transaction successful"
		cb.SerialNumber = t.serial
	case kindFailed:
		cb.StatusCode, cb.StatusMessage, cb.BillerCode, cb.BillerMessage = "400", "Transaction failed", "400", "Transaction failed"
	default:
		cb.StatusCode, cb.StatusMessage, cb.BillerCode, cb.BillerMessage = "200", "Transaction successful", "200", "Transaction is being processed"
	}
	b, _ := json.Marshal(cb)
	return b
}

// callbackDelay is the wait from acceptance to a scenario's first callback:
// none for 01 (success at once), else CallbackDelay.
func (s *Simulator) callbackDelay(scenario string) time.Duration {
	if scenario == "01" {
		return 0
	}
	return s.cfg.CallbackDelay
}

// scheduleCallbacks sends t's callbacks after callbackDelay, in a goroutine
// that Close stops. Nothing is sent without a CallbackURL.
func (s *Simulator) scheduleCallbacks(t *simTxn) {
	plan := callbackPlan(t.scenario)
	if s.cfg.CallbackURL == "" || len(plan) == 0 {
		return
	}
	bodies := make([][]byte, len(plan))
	for i, k := range plan {
		bodies[i] = t.callbackBody(k)
	}
	s.mu.Lock()
	if s.ctx.Err() != nil { // closed
		s.mu.Unlock()
		return
	}
	s.wg.Add(1)
	s.mu.Unlock()
	delay := s.callbackDelay(t.scenario)
	go func() {
		defer s.wg.Done()
		if !s.pause(delay) {
			return
		}
		for i, b := range bodies {
			s.deliver(b)
			if i == 0 {
				s.mu.Lock()
				t.callbackSent = true
				s.mu.Unlock()
			}
			if s.ctx.Err() != nil {
				return
			}
		}
	}()
}

// deliver POSTs one callback body, retrying on errors and non-2xx answers
// up to CallbackAttempts times.
func (s *Simulator) deliver(body []byte) {
	for attempt := 1; attempt <= s.cfg.CallbackAttempts; attempt++ {
		if attempt > 1 && !s.pause(s.cfg.CallbackDelay) {
			return
		}
		req, err := http.NewRequestWithContext(s.ctx, http.MethodPost, s.cfg.CallbackURL, bytes.NewReader(body))
		if err != nil {
			s.log.Warn("snapcart sim: build callback", "err", err)
			return
		}
		req.Header.Set("Content-Type", "application/json")
		if s.cfg.CallbackSecret != "" {
			req.Header.Set("X-Signature", simSign([]byte(s.cfg.CallbackSecret), body))
		}
		resp, err := s.cfg.HTTPClient.Do(req)
		if err != nil {
			if s.ctx.Err() != nil {
				return
			}
			s.log.Warn("snapcart sim: callback not delivered", "attempt", attempt, "err", err)
			continue
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
		_ = resp.Body.Close()
		if resp.StatusCode >= 200 && resp.StatusCode < 300 {
			return
		}
		s.log.Warn("snapcart sim: callback refused", "attempt", attempt, "http_status", resp.StatusCode)
	}
}

// pause waits d and reports false when the simulator was closed meanwhile.
func (s *Simulator) pause(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-s.ctx.Done():
		return false
	}
}

// simSign is the simulator's own signature code (independent of the
// client's): lower-hex HMAC-SHA256 of the raw body.
func simSign(secret, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}
