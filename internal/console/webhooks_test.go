package console_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ppob-orchestrator/orchestrator/internal/console"
	"github.com/ppob-orchestrator/orchestrator/internal/flow"
	"github.com/ppob-orchestrator/orchestrator/internal/flowtest"
	"github.com/ppob-orchestrator/orchestrator/internal/store"
	"github.com/ppob-orchestrator/orchestrator/internal/webhook"
)

// receiver is a client's webhook endpoint in a test: it answers every
// delivery with its current status (and Retry-After when set), keeps the
// signatures it was sent, and, when echo is on, answers with the request's
// headers in its body (as a careless endpoint might).
type receiver struct {
	URL        string
	status     atomic.Int32
	retryAfter atomic.Value // string
	echo       bool
	mu         sync.Mutex
	signatures []string
}

func newReceiver(t testing.TB, status int, echo bool) *receiver {
	rc := &receiver{echo: echo}
	rc.status.Store(int32(status))
	rc.retryAfter.Store("")
	rc.URL = httptestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		rc.mu.Lock()
		rc.signatures = append(rc.signatures, strings.Fields(r.Header.Get("webhook-signature"))...)
		rc.mu.Unlock()
		if ra := rc.retryAfter.Load().(string); ra != "" {
			w.Header().Set("Retry-After", ra)
		}
		w.WriteHeader(int(rc.status.Load()))
		if rc.echo {
			_, _ = fmt.Fprintf(w, "got %s %s", r.Header.Get("webhook-id"), r.Header.Get("webhook-signature"))
		}
	})) + "/hooks/ppob"
	return rc
}

// sent returns every signature the receiver was sent.
func (rc *receiver) sent() []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]string(nil), rc.signatures...)
}

// endpoint registers a webhook endpoint of the test client at u and returns
// it with its signing secret.
func (e *env) endpoint(t testing.TB, u string) (webhook.Endpoint, string) {
	t.Helper()
	ep, secret, err := e.Webhooks.CreateEndpoint(context.Background(), e.ClientID, webhook.EndpointInput{URL: &u})
	if err != nil {
		t.Fatal(err)
	}
	return ep, secret
}

// deliveries reads a purchase's webhook deliveries.
func (e *env) deliveries(t testing.TB, purchase uuid.UUID) []store.WebhookMessageListForPurchaseRow {
	t.Helper()
	rows, err := e.Q.WebhookMessageListForPurchase(context.Background(), purchase)
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// waitDeliveries waits until the purchase has n deliveries, all in status.
func (e *env) waitDeliveries(t testing.TB, purchase uuid.UUID, n int, status store.WebhookMessageStatus) []store.WebhookMessageListForPurchaseRow {
	t.Helper()
	var rows []store.WebhookMessageListForPurchaseRow
	flowtest.WaitFor(t, 60*time.Second, func() string { return fmt.Sprintf("deliveries of %s: %+v, want %d %s", purchase, rows, n, status) }, func() bool {
		rows = e.deliveries(t, purchase)
		if len(rows) != n {
			return false
		}
		for _, r := range rows {
			if r.Status != status {
				return false
			}
		}
		return true
	})
	return rows
}

// settled waits until every delivery of the purchase has ended (none
// pending) and returns them; there is at least one.
func (e *env) settled(t testing.TB, purchase uuid.UUID) []store.WebhookMessageListForPurchaseRow {
	t.Helper()
	var rows []store.WebhookMessageListForPurchaseRow
	flowtest.WaitFor(t, 60*time.Second, func() string { return fmt.Sprintf("deliveries of %s: %+v", purchase, rows) }, func() bool {
		rows = e.deliveries(t, purchase)
		for _, r := range rows {
			if r.Status == store.WebhookMessageStatusPending {
				return false
			}
		}
		return len(rows) > 0
	})
	return rows
}

// adminEvents reads operators' actions on subject.
func (e *env) adminEvents(t testing.TB, subject string) []store.AdminEvent {
	t.Helper()
	rows, err := e.Q.AdminEventListForSubjects(context.Background(), []string{subject})
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// A client's endpoint fails every attempt, so both messages of a purchase
// run out of retries. The Webhooks page lists them across clients with
// their last answer and the endpoint among the failing ones; the purchase's
// timeline shows each delivery after its status change, with every attempt.
// An operator sends one again (a session, CSRF and same origin required:
// a bearer token, even the admin's or a client's API key, is not one): it is
// recorded in admin_events with the operator's name, the message goes
// through webhook.Service's retry and is delivered once the endpoint
// answers, leaving the failed list, and the pages say who sent it again. A
// pending delivery cannot be retried: the refusal says why and changes
// nothing. Unknown ids are 404.
func TestRetryAFailedDelivery(t *testing.T) {
	t.Parallel()
	ops := map[string]string{"ana": "ana-webhooks-token-0123456789"}
	e := setup(t, flowtest.Options{}, func(c *console.Config) { c.Operators = operators(ops) })
	rc := newReceiver(t, http.StatusInternalServerError, false)
	ep, _ := e.endpoint(t, rc.URL)
	p := e.buy(t, "hook-1", "PLN20", "01105691111", flow.StatusSucceeded)
	failed := e.waitDeliveries(t, p.ID, 2, store.WebhookMessageStatusFailed)
	succeeded := failed[len(failed)-1]
	if succeeded.EventType != "purchase.succeeded" {
		t.Fatalf("the last delivery is %s", succeeded.EventType)
	}
	wid := webhook.WebhookID(succeeded.ID)

	b := e.browser(t)
	b.signIn("ana", ops["ana"])
	page := b.get("/console/webhooks")
	wantStatus(t, page, http.StatusOK)
	for _, want := range []string{`id="failed-` + wid + `"`, `id="retry-` + wid + `"`, "hook-1", "HTTP 500", "purchase.processing",
		`href="/console/webhooks/endpoints/` + ep.ID.String() + `"`, "failing since"} {
		if !strings.Contains(page.Body, want) {
			t.Errorf("the Webhooks page lacks %q", want)
		}
	}
	other := b.get("/console/webhooks?client=" + uuid.NewString())
	if strings.Contains(other.Body, wid) {
		t.Error("the client filter shows another client's delivery")
	}
	wantStatus(t, b.get("/console/webhooks?client=me"), http.StatusUnprocessableEntity)
	purchase := b.get("/console/purchases/" + p.ID.String())
	for _, want := range []string{`class="k-webhook"`, `id="delivery-` + wid + `"`, "<td>4</td>", "HTTP 500"} {
		if !strings.Contains(purchase.Body, want) {
			t.Errorf("the purchase page lacks %q", want)
		}
	}
	if strings.Index(purchase.Body, `id="delivery-`+wid) < strings.Index(purchase.Body, "processing → succeeded") {
		t.Error("the delivery of the success is not after the success in the timeline")
	}

	path := "/console/webhooks/deliveries/" + wid + "/retry"
	token := csrf(t, page)
	wantStatus(t, b.do(http.MethodPost, path, url.Values{"back": {"webhooks"}}), http.StatusForbidden)
	wantStatus(t, b.do(http.MethodPost, path, url.Values{"csrf": {token}, "back": {"webhooks"}}, "Sec-Fetch-Site", "cross-site"), http.StatusForbidden)
	anon := e.browser(t)
	wantSignin(t, anon.do(http.MethodPost, path, url.Values{"csrf": {token}}, "Authorization", "Bearer "+adminToken))
	wantSignin(t, anon.do(http.MethodPost, path, url.Values{"csrf": {token}}, "Authorization", "Bearer "+e.APIKey))
	if got := e.deliveries(t, p.ID)[1].Status; got != store.WebhookMessageStatusFailed {
		t.Fatalf("a refused POST changed the delivery: %s", got)
	}
	if ev := e.adminEvents(t, "webhook_delivery:"+wid); len(ev) != 0 {
		t.Fatalf("a refused POST was audited as a retry: %+v", ev)
	}

	rc.status.Store(http.StatusNoContent)
	done := b.do(http.MethodPost, path, url.Values{"csrf": {token}, "back": {"webhooks"}})
	wantStatus(t, done, http.StatusSeeOther)
	if loc := done.Header.Get("Location"); loc != "/console/webhooks?retried="+wid {
		t.Fatalf("after the retry: %s", loc)
	}
	audit := e.adminEvents(t, "webhook_delivery:"+wid)
	if len(audit) != 1 || audit[0].Actor != "ana" || audit[0].Action != "webhook.retry" {
		t.Fatalf("the retry is not audited with the operator's name: %+v", audit)
	}
	var before struct {
		Status     string
		PurchaseID uuid.UUID `json:"purchase_id"`
	}
	if err := json.Unmarshal(audit[0].Before, &before); err != nil || before.Status != "failed" || before.PurchaseID != p.ID {
		t.Fatalf("the audit's before: %s (%v)", audit[0].Before, err)
	}
	flowtest.WaitFor(t, 60*time.Second, func() string { return "the retried delivery is not delivered" }, func() bool {
		return e.deliveries(t, p.ID)[1].Status == store.WebhookMessageStatusDelivered
	})
	if got := e.deliveries(t, p.ID)[0].Status; got != store.WebhookMessageStatusFailed {
		t.Fatalf("the other delivery moved too: %s", got)
	}

	after := b.get("/console/webhooks?retried=" + wid)
	if !strings.Contains(after.Body, `id="retried"`) || strings.Contains(after.Body, `id="failed-`+wid) {
		t.Fatalf("the delivered message is still listed as failed, or the retry is not confirmed: %s", after.Body)
	}
	if !strings.Contains(after.Body, "<td>ana</td><td><code>webhook_delivery:"+wid+"</code>") {
		t.Errorf("the page's recent retries lack ana's: %s", after.Body)
	}
	for _, c := range []struct{ path, want string }{
		{"/console/purchases/" + p.ID.String(), "Sent again by <strong>ana</strong>"},
		{"/console/webhooks/endpoints/" + ep.ID.String(), "Sent again by <strong>ana</strong>"},
		{"/console/webhooks/endpoints/" + ep.ID.String(), `<span class="status w-delivered">delivered</span>`},
		{"/console/purchases?q=" + url.QueryEscape(wid), "<td>webhook_id</td>"},
	} {
		if got := b.get(c.path); !strings.Contains(got.Body, c.want) {
			t.Errorf("%s lacks %q", c.path, c.want)
		}
	}

	// A delivery waiting for its endpoint (429 with an hour's Retry-After)
	// is pending: a retry is refused, says why, and records nothing.
	slow := newReceiver(t, http.StatusTooManyRequests, false)
	slow.retryAfter.Store("3600")
	e.endpoint(t, slow.URL)
	q := e.buy(t, "hook-2", "PLN20", "01105692222", flow.StatusSucceeded)
	var pending store.WebhookMessageListForPurchaseRow
	flowtest.WaitFor(t, 60*time.Second, func() string { return "no pending delivery to the slow endpoint" }, func() bool {
		for _, d := range e.deliveries(t, q.ID) {
			if d.EndpointUrl == slow.URL && d.Status == store.WebhookMessageStatusPending && d.Attempts > 0 {
				pending = d
				return true
			}
		}
		return false
	})
	pwid := webhook.WebhookID(pending.ID)
	refused := b.post("/console/purchases/"+q.ID.String(), "/console/webhooks/deliveries/"+pwid+"/retry", url.Values{"back": {"purchase"}})
	wantStatus(t, refused, http.StatusConflict)
	if !strings.Contains(refused.Body, "Delivery "+pwid+" was not sent again: it is pending") || !strings.Contains(refused.Body, "Purchase hook-2") {
		t.Fatalf("the refusal does not say why on the purchase page: %s", refused.Body)
	}
	if ev := e.adminEvents(t, "webhook_delivery:"+pwid); len(ev) != 0 {
		t.Fatalf("a refused retry was audited as one: %+v", ev)
	}
	wantStatus(t, b.post("/console/webhooks", "/console/webhooks/deliveries/msg_"+uuid.NewString()+"/retry", url.Values{}), http.StatusNotFound)
	wantStatus(t, b.post("/console/webhooks", "/console/webhooks/deliveries/"+pending.ID.String()+"/retry", url.Values{}), http.StatusNotFound)
	wantStatus(t, b.get("/console/webhooks/endpoints/"+uuid.NewString()), http.StatusNotFound)
}
