package chaos

import (
	"bytes"
	"context"
	"crypto/hmac"
	crand "crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/ppob-orchestrator/orchestrator/internal/flow"
	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

// The webhook settings of a chaos run: a timeout the receiver's "timeouts"
// outlast, and a retry schedule short enough for the run yet long enough
// (10 attempts) that a message the receiver fails at random is delivered.
const (
	webhookTimeout  = 2 * time.Second
	webhookSchedule = "1s,1s,2s,2s,3s,3s,5s,5s,5s"
	hookFailRate    = 0.10 // 500
	hookTimeoutRate = 0.07 // no answer within webhookTimeout
	hookSlowRate    = 0.13 // 200 after 200–900 ms
)

// hookReceiver is the chaos run's webhook endpoints: /hooks/{client index}
// for each API client, in this process. It fails, times out and answers
// slowly at random, and records what it got: by webhook-id, the first body,
// whether a later body differed, whether a 2xx was answered, and every
// signature that did not verify with the client's secrets.
type hookReceiver struct {
	srv *http.Server
	url string

	mu            sync.Mutex
	rng           *mrand.Rand
	secrets       map[int][]string // client index → every secret it was given
	got           map[string]*hookMessage
	badSignatures int
	problems      []string
}

// hookMessage is what the receiver knows of one webhook-id.
type hookMessage struct {
	client   int
	body     []byte
	differed bool
	acked    bool
	valid    bool // some request of it carried a valid signature
}

func startHookReceiver(seed uint64) (*hookReceiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	h := &hookReceiver{url: "http://" + ln.Addr().String(), rng: mrand.New(mrand.NewPCG(seed, seed^0x5bd1e995)),
		secrets: map[int][]string{}, got: map[string]*hookMessage{}}
	h.srv = &http.Server{Handler: http.HandlerFunc(h.serve), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = h.srv.Serve(ln) }()
	return h, nil
}

func (h *hookReceiver) close() { _ = h.srv.Close() }

func (h *hookReceiver) problem(format string, args ...any) {
	if len(h.problems) < 50 {
		h.problems = append(h.problems, fmt.Sprintf(format, args...))
	}
}

// addSecret records a secret the API gave client (at creation or rotation).
func (h *hookReceiver) addSecret(client int, secret string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.secrets[client] = append(h.secrets[client], secret)
}

func (h *hookReceiver) serve(w http.ResponseWriter, r *http.Request) {
	client, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/hooks/"))
	body, rerr := io.ReadAll(r.Body)
	id := r.Header.Get("webhook-id")
	h.mu.Lock()
	if err != nil || rerr != nil || id == "" {
		h.problem("a request to %s without a client, a body or a webhook-id", r.URL.Path)
		h.mu.Unlock()
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	valid := signedBy(h.secrets[client], r.Header, body)
	if !valid {
		h.badSignatures++
		h.problem("%s to client %d: no signature verifies with its secrets", id, client)
	}
	m := h.got[id]
	if m == nil {
		m = &hookMessage{client: client, body: body}
		h.got[id] = m
	} else if !bytes.Equal(m.body, body) || m.client != client {
		m.differed = true
	}
	m.valid = m.valid || valid
	roll := h.rng.Float64()
	slow := time.Duration(200+h.rng.IntN(700)) * time.Millisecond
	h.mu.Unlock()

	switch {
	case roll < hookFailRate:
		w.WriteHeader(http.StatusInternalServerError)
		return
	case roll < hookFailRate+hookTimeoutRate:
		slow = webhookTimeout + time.Second
	case roll >= hookFailRate+hookTimeoutRate+hookSlowRate:
		slow = 0
	}
	if slow > 0 {
		select {
		case <-time.After(slow):
		case <-r.Context().Done():
			return
		}
	}
	if r.Context().Err() != nil {
		return
	}
	w.WriteHeader(http.StatusOK)
	h.mu.Lock()
	m.acked = true
	h.mu.Unlock()
}

// signedBy verifies a delivery as a client reading the Standard Webhooks
// text would, independently of the orchestrator's signer: HMAC-SHA256 with
// the base64 key after whsec_, over "{id}.{timestamp}.{body}", compared
// with each "v1,<base64>" of webhook-signature.
func signedBy(secrets []string, h http.Header, body []byte) bool {
	signed := h.Get("webhook-id") + "." + h.Get("webhook-timestamp") + "." + string(body)
	for _, s := range secrets {
		key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, "whsec_"))
		if err != nil {
			continue
		}
		mac := hmac.New(sha256.New, key)
		mac.Write([]byte(signed))
		want := mac.Sum(nil)
		for _, entry := range strings.Fields(h.Get("webhook-signature")) {
			if sig, ok := strings.CutPrefix(entry, "v1,"); ok {
				if got, err := base64.StdEncoding.DecodeString(sig); err == nil && hmac.Equal(got, want) {
					return true
				}
			}
		}
	}
	return false
}

// registerEndpoints creates one endpoint per API client at the receiver,
// over the API, and records each secret.
func (r *run) registerEndpoints(ctx context.Context, h *hookReceiver, keys []string) error {
	for i, key := range keys {
		var ep struct {
			ID     string `json:"id"`
			Secret string `json:"secret"`
		}
		if err := r.postAPI(ctx, key, "/v1/webhook_endpoints", map[string]any{"url": fmt.Sprintf("%s/hooks/%d", h.url, i)}, http.StatusCreated, &ep); err != nil {
			return fmt.Errorf("register webhook endpoint of client %d: %w", i, err)
		}
		h.addSecret(i, ep.Secret)
		r.hookEndpoints = append(r.hookEndpoints, ep.ID)
	}
	return nil
}

// rotateSecret rotates the last client's secret while the load runs: its
// messages then carry two signatures.
func (r *run) rotateSecret(ctx context.Context, h *hookReceiver, keys []string) error {
	i := len(keys) - 1
	var ep struct {
		Secret string `json:"secret"`
	}
	if err := r.postAPI(ctx, keys[i], "/v1/webhook_endpoints/"+r.hookEndpoints[i]+"/rotate_secret", nil, http.StatusOK, &ep); err != nil {
		return fmt.Errorf("rotate the webhook secret of client %d: %w", i, err)
	}
	h.addSecret(i, ep.Secret)
	r.say("rotated the webhook secret of client %d", i+1)
	return nil
}

// postAPI posts to the API through the proxy until it answers (a killed
// process answers 502), and decodes an answer of the wanted status.
func (r *run) postAPI(ctx context.Context, key, path string, body any, want int, out any) error {
	raw, _ := json.Marshal(body)
	if body == nil {
		raw = nil
	}
	for wait := 100 * time.Millisecond; ; wait = min(2*wait, 2*time.Second) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+r.proxy.Addr()+path, bytes.NewReader(raw))
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+key)
		if raw != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		res, err := (&http.Client{Timeout: 15 * time.Second}).Do(req)
		if err == nil {
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode == want {
				return json.Unmarshal(b, out)
			}
			if res.StatusCode < 500 {
				return fmt.Errorf("HTTP %d: %s", res.StatusCode, b)
			}
		}
		if !sleepCtx(ctx, wait) {
			return ctx.Err()
		}
	}
}

// waitWebhooks waits until no webhook message is pending, or until d
// passes without one more delivered (a backlog drains at the endpoints'
// pace: a large run queues messages faster than its slow, failing test
// endpoints take them); it returns how many are still pending.
func (r *run) waitWebhooks(ctx context.Context, d time.Duration) (int, error) {
	deadline := time.Now().Add(d)
	last := -1
	for {
		var pending int
		msgs, err := store.New(r.pool).WebhookMessageListAll(ctx)
		if err != nil {
			return 0, fmt.Errorf("count pending webhook messages: %w", err)
		}
		for _, m := range msgs {
			if m.Status == store.WebhookMessageStatusPending {
				pending++
			}
		}
		if last < 0 || pending < last {
			deadline, last = time.Now().Add(d), pending
		}
		if pending == 0 || time.Now().After(deadline) {
			return pending, nil
		}
		if !sleepCtx(ctx, 500*time.Millisecond) {
			return 0, ctx.Err()
		}
	}
}

// WebhookFindings are what the webhook checks found. Lost and
// BadSignatures are the summary line's; every count must be 0.
type WebhookFindings struct {
	Messages      int // status changes that had to be told
	Lost          int // changes without a message, or whose message no 2xx acknowledged with a valid signature
	BadSignatures int // requests whose signatures did not verify
	Phantoms      int // messages of a status change the purchase never had
	Misdirected   int // messages that reached another client's endpoint
	Differing     int // messages whose attempts' bodies were not byte-identical
	Problems      []string
}

func (f *WebhookFindings) problem(format string, args ...any) {
	if len(f.Problems) < 50 {
		f.Problems = append(f.Problems, fmt.Sprintf(format, args...))
	}
}

// OK reports whether nothing was found.
func (f *WebhookFindings) OK() bool {
	return f.Lost == 0 && f.BadSignatures == 0 && f.Phantoms == 0 && f.Misdirected == 0 && f.Differing == 0
}

// VerifyWebhooks checks the webhook messages against the purchases'
// status events and what the receiver got: every status change that tells
// a client something has exactly one message (one endpoint per client) and
// reached the client's endpoint with a 2xx and a valid signature; no
// message is of a change the purchase never had, none reached another
// client's endpoint, and every attempt of one message had the same body.
func (r *run) verifyWebhooks(ctx context.Context, h *hookReceiver, clientIDs []uuid.UUID) (*WebhookFindings, error) {
	f := &WebhookFindings{}
	q := store.New(r.pool)
	index := map[uuid.UUID]int{}
	for i, id := range clientIDs {
		index[id] = i
	}
	tells := map[string]bool{}
	for _, ty := range flow.MessageTypes() {
		tells[ty] = true
	}
	purchases, err := q.PurchaseListAll(ctx)
	if err != nil {
		return nil, err
	}
	type change struct {
		purchase uuid.UUID
		seq      int32
	}
	expected := map[change]string{} // → event type
	owner := map[uuid.UUID]int{}
	for _, p := range purchases {
		owner[p.ID] = index[p.ClientID]
		events, err := q.EventListByPurchase(ctx, p.ID)
		if err != nil {
			return nil, err
		}
		for _, e := range events {
			if e.Kind == "status" && e.ToStatus != nil && tells["purchase."+string(*e.ToStatus)] {
				expected[change{p.ID, e.Seq}] = "purchase." + string(*e.ToStatus)
			}
		}
	}
	f.Messages = len(expected)
	stored, err := q.WebhookMessageListAll(ctx)
	if err != nil {
		return nil, err
	}
	perChange := map[change]int{}
	for _, m := range stored {
		c := change{m.PurchaseID, m.Seq}
		perChange[c]++
		if expected[c] != m.EventType {
			f.Phantoms++
			f.problem("message %s: %s of purchase %s seq %d, a change it never had", "msg_"+m.ID.String(), m.EventType, m.PurchaseID, m.Seq)
		}
		if m.Status != store.WebhookMessageStatusDelivered {
			f.problem("message msg_%s ended %s after %d attempts", m.ID, m.Status, m.Attempts)
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	f.BadSignatures = h.badSignatures
	f.Problems = append(f.Problems, h.problems...)
	delivered := map[change]bool{}
	for id, m := range h.got {
		var msg struct {
			Type string `json:"type"`
			Data struct {
				Purchase struct {
					ID     uuid.UUID `json:"id"`
					Status string    `json:"status"`
				} `json:"purchase"`
				Seq int32 `json:"seq"`
			} `json:"data"`
		}
		if err := json.Unmarshal(m.body, &msg); err != nil {
			f.Phantoms++
			f.problem("%s: unreadable body", id)
			continue
		}
		c := change{msg.Data.Purchase.ID, msg.Data.Seq}
		if expected[c] != msg.Type || "purchase."+msg.Data.Purchase.Status != msg.Type {
			f.Phantoms++
			f.problem("%s: %s of purchase %s seq %d, a change it never had", id, msg.Type, c.purchase, c.seq)
		}
		if o, ok := owner[c.purchase]; !ok || o != m.client {
			f.Misdirected++
			f.problem("%s: purchase %s reached client %d's endpoint", id, c.purchase, m.client)
		}
		if m.differed {
			f.Differing++
			f.problem("%s: the bodies of its attempts differ", id)
		}
		if m.acked && m.valid {
			delivered[c] = true
		}
	}
	for c, ty := range expected {
		switch {
		case perChange[c] != 1:
			f.Lost++
			f.problem("%s of purchase %s seq %d has %d messages, want 1", ty, c.purchase, c.seq, perChange[c])
		case !delivered[c]:
			f.Lost++
			f.problem("%s of purchase %s seq %d never acknowledged with a valid signature", ty, c.purchase, c.seq)
		}
	}
	return f, nil
}

// webhookKey is a fresh WEBHOOK_SECRET_KEY for the run's serve processes.
func webhookKey() string {
	b := make([]byte, 32)
	_, _ = crand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}
