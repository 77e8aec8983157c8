package webhook_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/ppob-orchestrator/orchestrator/internal/flow"
	"github.com/ppob-orchestrator/orchestrator/internal/flowtest"
	"github.com/ppob-orchestrator/orchestrator/internal/webhook"
)

// A purchase's status changes reach each subscribed endpoint of its client
// once per change, signed (verified independently), with the purchase as
// the API shows it; another client's endpoint gets nothing, an endpoint
// not subscribed to a type does not get it.
func TestMessagesOfAPurchaseReachItsClientsEndpoints(t *testing.T) {
	t.Parallel()
	e := setup(t, flowtest.Options{})
	all := newReceiver(t, answer(http.StatusOK))
	ends := newReceiver(t, answer(http.StatusNoContent))
	other := newReceiver(t, answer(http.StatusOK))
	epAll, secretAll := e.endpoint(t, e.ClientID, all.URL+"/hooks", nil)
	epEnds, secretEnds := e.endpoint(t, e.ClientID, ends.URL, []string{"purchase.succeeded", "purchase.failed"})
	e.endpoint(t, e.Other, other.URL, nil)

	id := e.buy(t, e.ClientID, "wh-1")
	p := e.waitEnded(t, id)
	if flow.Status(p.Status) != flow.StatusSucceeded {
		t.Fatalf("purchase ended %s", p.Status)
	}
	changes := e.statusEvents(t, id)
	if !slices.Contains(changes, fmt.Sprintf("purchase.succeeded/%d", lastSeq(changes))) || len(changes) < 2 {
		t.Fatalf("status changes that tell something: %v", changes)
	}
	e.waitDeliveries(t, e.ClientID, len(changes)+1)

	check := func(rc *receiver, secret string, want []string) {
		t.Helper()
		var got []string
		ids := map[string]bool{}
		for _, r := range rc.requests() {
			m := r.message(t)
			got = append(got, fmt.Sprintf("%s/%d", m.Type, m.Data.Seq))
			if n := verify(secret, r.Header, r.Body); n != 1 {
				t.Errorf("%s: %d signatures verify, want 1: %s", r.WebhookID(), n, r.Header.Get("webhook-signature"))
			}
			if ct := r.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			if ua := r.Header.Get("User-Agent"); ua != webhook.UserAgent {
				t.Errorf("User-Agent %q", ua)
			}
			if _, ok := webhook.ParseWebhookID(r.WebhookID()); !ok || ids[r.WebhookID()] {
				t.Errorf("webhook-id %q is not a fresh msg_ id", r.WebhookID())
			}
			ids[r.WebhookID()] = true
			if m.Data.Purchase.ID != id.String() || "purchase."+m.Data.Purchase.Status != m.Type {
				t.Errorf("message %s carries purchase %s in status %s", m.Type, m.Data.Purchase.ID, m.Data.Purchase.Status)
			}
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("endpoint got %v, want %v", got, want)
		}
	}
	check(all, secretAll, changes)
	check(ends, secretEnds, []string{fmt.Sprintf("purchase.succeeded/%d", lastSeq(changes))})
	if n := len(other.requests()); n != 0 {
		t.Errorf("another client's endpoint got %d requests", n)
	}
	if d := e.deliveries(t, e.Other, webhook.DeliveryFilter{}); len(d) != 0 {
		t.Errorf("another client has %d deliveries", len(d))
	}

	// The last message's purchase is the purchase as GET /v1/purchases/{id}
	// renders it now (flow.ViewPurchase), byte for byte.
	var last received
	for _, r := range all.requests() {
		if r.message(t).Type == "purchase.succeeded" {
			last = r
		}
	}
	var raw struct {
		Data struct {
			Purchase json.RawMessage `json:"purchase"`
		} `json:"data"`
	}
	if err := json.Unmarshal(last.Body, &raw); err != nil {
		t.Fatal(err)
	}
	v, err := e.Svc.View(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	view, _ := json.Marshal(v)
	if !bytes.Equal(raw.Data.Purchase, view) {
		t.Errorf("the message's purchase differs from the API's view:\n%s\n%s", raw.Data.Purchase, view)
	}
	for _, d := range e.deliveries(t, e.ClientID, webhook.DeliveryFilter{}) {
		if d.Status != "delivered" || len(d.Attempts) != 1 || d.Attempts[0].HTTPStatus == nil {
			t.Errorf("delivery %+v", d)
		}
		if d.EndpointID != epAll.ID && d.EndpointID != epEnds.ID {
			t.Errorf("delivery to endpoint %s", d.EndpointID)
		}
	}
	if got := testutil.ToFloat64(e.Webhooks.Metrics().Deliveries.WithLabelValues("delivered")); got != float64(len(changes)+1) {
		t.Errorf("webhook_deliveries_total{outcome=delivered} = %v, want %d", got, len(changes)+1)
	}
}

// lastSeq is the highest seq of "type/seq" changes.
func lastSeq(changes []string) int {
	n := 0
	for _, c := range changes {
		var seq int
		if _, err := fmt.Sscanf(c[strings.IndexByte(c, '/')+1:], "%d", &seq); err == nil {
			n = max(n, seq)
		}
	}
	return n
}

// The outbox is transactional: a status change that rolls back leaves no
// message and no job; one that commits has one message per subscribed
// endpoint and its job. A disabled endpoint and a disabled client get none.
func TestOutboxFollowsTheTransaction(t *testing.T) {
	t.Parallel()
	e := setup(t, flowtest.Options{NoStart: true})
	ctx := context.Background()
	rc := newReceiver(t, answer(http.StatusOK))
	e.endpoint(t, e.ClientID, rc.URL, nil)
	e.endpoint(t, e.ClientID, rc.URL+"/second", nil)
	off, _ := e.endpoint(t, e.ClientID, rc.URL+"/off", nil)
	if _, err := e.Webhooks.UpdateEndpoint(ctx, e.ClientID, off.ID, webhook.EndpointInput{Disabled: ptr(true)}); err != nil {
		t.Fatal(err)
	}
	e.endpoint(t, e.Other, rc.URL+"/other", nil)
	id := e.buy(t, e.ClientID, "outbox-1") // not started: the purchase stays received
	msg := flow.Message{ClientID: e.ClientID, PurchaseID: id, Type: "purchase.processing", Seq: 1, Body: []byte(`{"type":"purchase.processing"}`)}

	tx, err := e.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Webhooks.Enqueue(ctx, tx, msg); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if n := countRows(t, e, "SELECT count(*) FROM webhook_messages"); n != 0 {
		t.Fatalf("a rolled-back change left %d messages", n)
	}
	if n := countRows(t, e, "SELECT count(*) FROM river_job WHERE kind = 'webhook_deliver'"); n != 0 {
		t.Fatalf("a rolled-back change left %d jobs", n)
	}

	tx, err = e.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Webhooks.Enqueue(ctx, tx, msg); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if n := countRows(t, e, "SELECT count(*) FROM webhook_messages"); n != 2 {
		t.Fatalf("a committed change has %d messages, want 2 (two enabled endpoints)", n)
	}
	if n := countRows(t, e, "SELECT count(*) FROM river_job WHERE kind = 'webhook_deliver' AND queue = 'webhooks'"); n != 2 {
		t.Fatalf("a committed change has %d delivery jobs, want 2", n)
	}

	// A disabled client's changes make no message.
	if _, err := e.Pool.Exec(ctx, "UPDATE clients SET disabled_at = now() WHERE id = $1", e.ClientID); err != nil {
		t.Fatal(err)
	}
	msg.Seq = 2
	if err := pgx.BeginFunc(ctx, e.Pool, func(tx pgx.Tx) error { return e.Webhooks.Enqueue(ctx, tx, msg) }); err != nil {
		t.Fatal(err)
	}
	if n := countRows(t, e, "SELECT count(*) FROM webhook_messages"); n != 2 {
		t.Fatalf("a disabled client's change made messages: %d", n)
	}
}
