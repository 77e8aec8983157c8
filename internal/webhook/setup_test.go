package webhook_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ppob-orchestrator/orchestrator/internal/flow"
	"github.com/ppob-orchestrator/orchestrator/internal/flowtest"
	"github.com/ppob-orchestrator/orchestrator/internal/store"
	"github.com/ppob-orchestrator/orchestrator/internal/webhook"
)

// verify checks a delivery the way a client following the Standard
// Webhooks text does, independently of the signer: the key is the base64
// after "whsec_", the signed content is "{webhook-id}.{webhook-timestamp}.{body}",
// HMAC-SHA256, and webhook-signature holds space-separated "v1,<base64>"
// entries of which one must match. It returns how many entries matched.
func verify(secret string, h http.Header, body []byte) int {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil || !strings.HasPrefix(secret, "whsec_") {
		return 0
	}
	id, ts := h.Get("webhook-id"), h.Get("webhook-timestamp")
	if id == "" || ts == "" {
		return 0
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "." + string(body)))
	want := mac.Sum(nil)
	n := 0
	for _, entry := range strings.Fields(h.Get("webhook-signature")) {
		version, sig, ok := strings.Cut(entry, ",")
		if !ok || version != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(sig)
		if err == nil && hmac.Equal(got, want) {
			n++
		}
	}
	return n
}

// received is one request a receiver got, and what it answered.
type received struct {
	At       time.Time
	Header   http.Header
	Body     []byte
	Answered int // 0: it never answered (a timeout)
}

// WebhookID is the request's webhook-id.
func (r received) WebhookID() string { return r.Header.Get("webhook-id") }

// message is a received body, decoded.
type message struct {
	Type      string      `json:"type"`
	Timestamp string      `json:"timestamp"`
	Data      messageData `json:"data"`
}

type messageData struct {
	Purchase flow.PurchaseView `json:"purchase"`
	Seq      int32             `json:"seq"`
}

func (r received) message(t testing.TB) message {
	t.Helper()
	var m message
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("a delivery's body is not the message JSON: %v: %s", err, r.Body)
	}
	return m
}

// receiver is a real HTTP server standing in for a client's endpoint. Its
// answer to the n-th request (from 1) is script(n, r); it records every
// request and the most it had in flight at once.
type receiver struct {
	*httptest.Server
	script func(n int, w http.ResponseWriter, r *http.Request) int

	mu       sync.Mutex
	got      []received
	inFlight int
	maxIn    int
}

// answer is a script step: answer status after delay (0: at once).
func answer(status int) func(int, http.ResponseWriter, *http.Request) int {
	return func(int, http.ResponseWriter, *http.Request) int { return status }
}

func newReceiver(t testing.TB, script func(n int, w http.ResponseWriter, r *http.Request) int) *receiver {
	t.Helper()
	rc := &receiver{script: script}
	rc.Server = httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	rc.inFlight++
	rc.maxIn = max(rc.maxIn, rc.inFlight)
	i := len(rc.got)
	rc.got = append(rc.got, received{At: time.Now(), Header: r.Header.Clone(), Body: body})
	rc.mu.Unlock()
	status := rc.script(i+1, w, r)
	rc.mu.Lock()
	rc.inFlight--
	if r.Context().Err() == nil && status != 0 {
		rc.got[i].Answered = status
	}
	rc.mu.Unlock()
	if status != 0 {
		w.WriteHeader(status)
	}
}

// requests returns what the receiver got so far.
func (rc *receiver) requests() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.got...)
}

func (rc *receiver) maxInFlight() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.maxIn
}

// env is what a webhook test needs: the flow with the webhook service as
// its outbox, and a second client.
type env struct {
	*flowtest.Env
	Other uuid.UUID // a second client
}

func setup(t testing.TB, o flowtest.Options) *env {
	t.Helper()
	fe := flowtest.Setup(t, o)
	e := &env{Env: fe, Other: uuid.New()}
	kh := make([]byte, 32)
	copy(kh, e.Other[:])
	if _, err := fe.Q.ClientInsert(context.Background(), store.ClientInsertParams{ID: e.Other, Name: "other shop", KeyHash: kh, KeyPrefix: "o", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	return e
}

// endpoint creates an endpoint of client for url with the given events (nil: all).
func (e *env) endpoint(t testing.TB, client uuid.UUID, url string, events []string) (webhook.Endpoint, string) {
	t.Helper()
	ep, secret, err := e.Webhooks.CreateEndpoint(context.Background(), client, webhook.EndpointInput{URL: &url, Events: events})
	if err != nil {
		t.Fatalf("create endpoint: %v", err)
	}
	return ep, secret
}

// buy creates a purchase of client that succeeds (Klikoo pulsa, no inquiry).
func (e *env) buy(t testing.TB, client uuid.UUID, ref string) uuid.UUID {
	t.Helper()
	return e.buyFor(t, client, flow.CreateRequest{ReferenceID: ref, ProductCode: "S10", CustomerNumber: "081211224400"})
}

func (e *env) buyFor(t testing.TB, client uuid.UUID, req flow.CreateRequest) uuid.UUID {
	t.Helper()
	req.ClientID, req.AllowRepeat = client, true
	p, created, err := e.Svc.Create(context.Background(), req)
	if err != nil || !created {
		t.Fatalf("create %s: created=%v err=%v", req.ReferenceID, created, err)
	}
	return p.ID
}

// waitEnded waits until the purchase is terminal and returns it.
func (e *env) waitEnded(t testing.TB, id uuid.UUID) store.Purchase {
	t.Helper()
	var p store.Purchase
	flowtest.WaitFor(t, 60*time.Second, func() string { return fmt.Sprintf("purchase %s to end; it is %s", id, p.Status) }, func() bool {
		p = e.Purchase(t, id)
		return flow.Status(p.Status).Terminal()
	})
	return p
}

// statusEvents returns the status events of a purchase that tell a client
// something, as "type/seq".
func (e *env) statusEvents(t testing.TB, id uuid.UUID) []string {
	t.Helper()
	events, err := e.Q.EventListByPurchase(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	types := map[string]bool{}
	for _, ty := range flow.MessageTypes() {
		types[ty] = true
	}
	var out []string
	for _, ev := range events {
		if ev.Kind == "status" && types["purchase."+string(*ev.ToStatus)] {
			out = append(out, fmt.Sprintf("purchase.%s/%d", *ev.ToStatus, ev.Seq))
		}
	}
	return out
}

// deliveries lists all of client's deliveries (newest first).
func (e *env) deliveries(t testing.TB, client uuid.UUID, f webhook.DeliveryFilter) []webhook.Delivery {
	t.Helper()
	f.Limit = 200
	d, _, err := e.Webhooks.ListDeliveries(context.Background(), client, f)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// waitDeliveries waits until every delivery of client is finished (none
// pending) and there are at least n; it returns them.
func (e *env) waitDeliveries(t testing.TB, client uuid.UUID, n int) []webhook.Delivery {
	t.Helper()
	var ds []webhook.Delivery
	flowtest.WaitFor(t, 60*time.Second, func() string { return fmt.Sprintf("%d finished deliveries; have %+v", n, ds) }, func() bool {
		ds = e.deliveries(t, client, webhook.DeliveryFilter{})
		if len(ds) < n {
			return false
		}
		for _, d := range ds {
			if d.Status == "pending" {
				return false
			}
		}
		return true
	})
	return ds
}

func ptr[T any](v T) *T { return &v }

// countRows runs a count query.
func countRows(t testing.TB, e *env, query string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := e.Pool.QueryRow(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}
