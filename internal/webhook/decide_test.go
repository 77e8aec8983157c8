package webhook

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

var t0 = time.Date(2026, 11, 30, 5, 0, 0, 0, time.UTC)

func at(d time.Duration) *time.Time { t := t0.Add(d); return &t }

// Every branch of decide: what an answer does to the message and its
// endpoint.
func TestDecide(t *testing.T) {
	t.Parallel()
	sched := []time.Duration{5 * time.Second, 5 * time.Minute}
	days5 := 5 * 24 * time.Hour
	cases := []struct {
		name           string
		a              answer
		round          int
		failing, thr   *time.Time
		status         store.WebhookMessageStatus
		next           *time.Time
		failingSince   *time.Time
		throttledUntil *time.Time
		disable        string
	}{
		{name: "2xx delivers and clears the failure clock", a: answer{Status: 204}, failing: at(-time.Hour),
			status: store.WebhookMessageStatusDelivered},
		{name: "500 retries after the schedule's delay (r=0.5: no jitter)", a: answer{Status: 500},
			status: store.WebhookMessageStatusPending, next: at(5 * time.Second), failingSince: at(0)},
		{name: "second failure takes the second delay, keeps the clock", a: answer{Err: "timeout"}, round: 1, failing: at(-time.Minute),
			status: store.WebhookMessageStatusPending, next: at(5 * time.Minute), failingSince: at(-time.Minute)},
		{name: "after the last delay the delivery fails", a: answer{Status: 500}, round: 2, failing: at(-time.Minute),
			status: store.WebhookMessageStatusFailed, failingSince: at(-time.Minute)},
		{name: "3xx is a failure", a: answer{Status: 302, Err: "redirects are not followed"},
			status: store.WebhookMessageStatusPending, next: at(5 * time.Second), failingSince: at(0)},
		{name: "410 disables the endpoint and cancels", a: answer{Status: 410},
			status: store.WebhookMessageStatusCanceled, failingSince: at(0), disable: "gone"},
		{name: "429 without Retry-After pauses the endpoint", a: answer{Status: 429},
			status: store.WebhookMessageStatusPending, next: at(5 * time.Second), failingSince: at(0), throttledUntil: at(throttlePause)},
		{name: "503 with Retry-After beyond the delay waits that long", a: answer{Status: 503, RetryAfter: time.Minute, HasRetryAfter: true},
			status: store.WebhookMessageStatusPending, next: at(time.Minute), failingSince: at(0), throttledUntil: at(time.Minute)},
		{name: "502 with a short Retry-After keeps the schedule's delay", a: answer{Status: 502, RetryAfter: time.Second, HasRetryAfter: true},
			status: store.WebhookMessageStatusPending, next: at(5 * time.Second), failingSince: at(0), throttledUntil: at(time.Second)},
		{name: "504 keeps a later throttle", a: answer{Status: 504}, thr: at(time.Hour),
			status: store.WebhookMessageStatusPending, next: at(5 * time.Second), failingSince: at(0), throttledUntil: at(time.Hour)},
		{name: "failing for 5 days disables and cancels", a: answer{Status: 500}, failing: at(-days5),
			status: store.WebhookMessageStatusCanceled, failingSince: at(-days5), disable: "failing"},
		{name: "failing for 5 days on the last attempt fails and disables", a: answer{Status: 500}, round: 2, failing: at(-days5),
			status: store.WebhookMessageStatusFailed, failingSince: at(-days5), disable: "failing"},
	}
	for _, c := range cases {
		o := decide(t0, c.a, c.round, c.failing, c.thr, sched, days5, 0.5)
		if o.Status != c.status || !same(o.Next, c.next) || !same(o.FailingSince, c.failingSince) ||
			!same(o.ThrottledUntil, c.throttledUntil) || o.Disable != c.disable {
			t.Errorf("%s: got status %s next %v failing %v throttled %v disable %q", c.name, o.Status, o.Next, o.FailingSince, o.ThrottledUntil, o.Disable)
		}
		if (o.Status == store.WebhookMessageStatusPending) == (o.Finished != nil) {
			t.Errorf("%s: finished %v with status %s", c.name, o.Finished, o.Status)
		}
	}
}

func same(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}

// The jitter stays within ±10 %.
func TestJitter(t *testing.T) {
	t.Parallel()
	for _, r := range []float64{0, 0.25, 0.5, 0.999999} {
		if d := jitter(time.Hour, r); d < 54*time.Minute || d > 66*time.Minute {
			t.Errorf("jitter(1h, %v) = %s", r, d)
		}
	}
	if jitter(time.Hour, 0) != 54*time.Minute || jitter(time.Hour, 0.5) != time.Hour {
		t.Error("jitter is not linear in r")
	}
}

// Every branch of gate: when an attempt may start.
func TestGate(t *testing.T) {
	t.Parallel()
	pending := store.WebhookMessage{Status: store.WebhookMessageStatusPending, NextAttemptAt: at(0)}
	ep := store.WebhookEndpoint{LastLatencyMs: 1000}
	with := func(f func(*store.WebhookMessage, *store.WebhookEndpoint)) (store.WebhookMessage, store.WebhookEndpoint) {
		m, e := pending, ep
		f(&m, &e)
		return m, e
	}
	cases := []struct {
		name          string
		f             func(*store.WebhookMessage, *store.WebhookEndpoint)
		inFlight, due int64
		want          gateAction
		wait          time.Duration
	}{
		{"due, a slot free: send", func(*store.WebhookMessage, *store.WebhookEndpoint) {}, 4, 10, gateSend, 0},
		{"delivered: done", func(m *store.WebhookMessage, _ *store.WebhookEndpoint) {
			m.Status = store.WebhookMessageStatusDelivered
		}, 0, 0, gateDone, 0},
		{"canceled: done", func(m *store.WebhookMessage, _ *store.WebhookEndpoint) { m.Status = store.WebhookMessageStatusCanceled }, 0, 0, gateDone, 0},
		{"deleted endpoint: cancel", func(_ *store.WebhookMessage, e *store.WebhookEndpoint) { e.DeletedAt = at(0) }, 0, 0, gateCancel, 0},
		{"disabled endpoint: cancel", func(_ *store.WebhookMessage, e *store.WebhookEndpoint) { e.DisabledAt = at(0) }, 0, 0, gateCancel, 0},
		{"not due: wait until due", func(m *store.WebhookMessage, _ *store.WebhookEndpoint) { m.NextAttemptAt = at(time.Minute) }, 0, 0, gateWait, time.Minute},
		{"in flight elsewhere: wait for the lease", func(m *store.WebhookMessage, _ *store.WebhookEndpoint) { m.LeaseUntil = at(10 * time.Second) }, 0, 0, gateWait, 11 * time.Second},
		{"throttled: wait until then (r=0.5)", func(_ *store.WebhookMessage, e *store.WebhookEndpoint) { e.ThrottledUntil = at(time.Minute) }, 0, 0, gateWait, time.Minute + 500*time.Millisecond},
		{"slots taken, small backlog: about a second", func(*store.WebhookMessage, *store.WebhookEndpoint) {}, 5, 5, gateWait, 500*time.Millisecond + time.Second},
		{"slots taken, backlog of a slow endpoint: longer", func(*store.WebhookMessage, *store.WebhookEndpoint) {}, 5, 500, gateWait, 500*time.Millisecond + 100*time.Second},
		{"slots taken, huge backlog: at most 5 min spread", func(*store.WebhookMessage, *store.WebhookEndpoint) {}, 5, 100000, gateWait, 500*time.Millisecond + 150*time.Second},
	}
	for _, c := range cases {
		m, e := with(c.f)
		got, wait := gate(t0, m, e, c.inFlight, c.due, 5, 0.5)
		if got != c.want || wait != c.wait {
			t.Errorf("%s: got %v %s, want %v %s", c.name, got, wait, c.want, c.wait)
		}
	}
}

// Retry-After in seconds or as a date, capped at an hour.
func TestRetryAfter(t *testing.T) {
	t.Parallel()
	now := t0
	for v, want := range map[string]time.Duration{
		"3": 3 * time.Second, "0": 0, "7200": time.Hour,
		now.Add(90 * time.Second).Format(http1123): 90 * time.Second,
		now.Add(-time.Minute).Format(http1123):     0,
	} {
		if got, ok := retryAfter(v, now); !ok || got != want {
			t.Errorf("retryAfter(%q) = %s %v, want %s", v, got, ok, want)
		}
	}
	for _, v := range []string{"", "-1", "soon"} {
		if _, ok := retryAfter(v, now); ok {
			t.Errorf("retryAfter(%q) accepted", v)
		}
	}
}

const http1123 = "Mon, 02 Jan 2006 15:04:05 GMT"

// A sealed secret opens with the same key for the same endpoint only.
func TestSeal(t *testing.T) {
	t.Parallel()
	key := bytes.Repeat([]byte{7}, 32)
	s, err := newSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	ep := uuid.New()
	secret, shown, err := newSecret()
	if err != nil || !strings.HasPrefix(shown, "whsec_") || len(secret) != 32 {
		t.Fatalf("newSecret: %q %v", shown, err)
	}
	sealed, err := s.seal(ep, secret)
	if err != nil || bytes.Contains(sealed, secret) {
		t.Fatalf("seal: %v", err)
	}
	if got, err := s.open(ep, sealed); err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("open: %v", err)
	}
	if _, err := s.open(uuid.New(), sealed); err == nil {
		t.Error("a secret sealed for one endpoint opens for another")
	}
	other, _ := newSealer(bytes.Repeat([]byte{8}, 32))
	if _, err := other.open(ep, sealed); err == nil || !strings.Contains(err.Error(), "WEBHOOK_SECRET_KEY") {
		t.Errorf("another key: %v", err)
	}
	if _, err := newSealer(key[:16]); err == nil {
		t.Error("a 16-byte key was accepted")
	}
}

// The signer agrees with the Standard Webhooks specification's published
// example (secret, id, timestamp, payload and signature from its text).
func TestSignatureExample(t *testing.T) {
	t.Parallel()
	// The example's secret is whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw.
	key, err := base64.StdEncoding.DecodeString("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		t.Fatal(err)
	}
	got := signature([][]byte{key}, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, []byte(`{"test": 2432232314}`))
	if got != "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=" {
		t.Errorf("signature %s", got)
	}
	two := signature([][]byte{key, []byte("k2")}, "msg_x", 1, []byte("{}"))
	if parts := strings.Fields(two); len(parts) != 2 || !strings.HasPrefix(parts[1], "v1,") {
		t.Errorf("two keys: %q", two)
	}
}

// fitBody keeps a message within 20 KB: inquiry details go first, then all
// but what identifies the purchase; the result stays valid JSON.
func TestFitBody(t *testing.T) {
	t.Parallel()
	small := []byte(`{"type":"purchase.succeeded","timestamp":"t","data":{"purchase":{"id":"p"},"seq":3}}`)
	if b, err := fitBody(small); err != nil || !bytes.Equal(b, small) {
		t.Fatalf("a small body changed: %s %v", b, err)
	}
	details := map[string]string{}
	for i := range 2000 {
		details["k"+strings.Repeat("x", 5)+string(rune('a'+i%26))+strings.Repeat("y", i%7)+uuid.NewString()] = "v"
	}
	big, _ := json.Marshal(map[string]any{"type": "purchase.succeeded", "timestamp": "t", "data": map[string]any{"seq": 9,
		"purchase": map[string]any{"id": "p", "status": "succeeded", "inquiry": map[string]any{"amount": 20500, "details": details},
			"result": map[string]any{"token": "12345678901234567890"}}}})
	b, err := fitBody(big)
	if err != nil || len(b) > maxBody {
		t.Fatalf("fitBody: %d bytes, %v", len(b), err)
	}
	var m struct {
		Type string `json:"type"`
		Data struct {
			Seq      int `json:"seq"`
			Purchase struct {
				ID        string         `json:"id"`
				Truncated bool           `json:"truncated"`
				Inquiry   map[string]any `json:"inquiry"`
				Result    map[string]any `json:"result"`
			} `json:"purchase"`
		} `json:"data"`
	}
	if err := json.Unmarshal(b, &m); err != nil || m.Type != "purchase.succeeded" || m.Data.Seq != 9 || m.Data.Purchase.ID != "p" ||
		!m.Data.Purchase.Truncated || m.Data.Purchase.Inquiry["details"] != nil || m.Data.Purchase.Result["token"] != "12345678901234567890" {
		t.Fatalf("fitted body %s (%v)", b, err)
	}
}
