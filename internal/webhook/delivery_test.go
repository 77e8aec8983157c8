package webhook_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/ppob-orchestrator/orchestrator/internal/flowtest"
	"github.com/ppob-orchestrator/orchestrator/internal/recon"
	"github.com/ppob-orchestrator/orchestrator/internal/store"
	"github.com/ppob-orchestrator/orchestrator/internal/webhook"
)

// succeededOnly subscribes an endpoint to one message per purchase.
var succeededOnly = []string{"purchase.succeeded"}

// oneDelivery buys a purchase for e.ClientID and waits until its one
// delivery is no longer pending.
func (e *env) oneDelivery(t *testing.T, ref string) webhook.Delivery {
	t.Helper()
	e.waitEnded(t, e.buy(t, e.ClientID, ref))
	return e.waitDeliveries(t, e.ClientID, 1)[0]
}

// checkAttempts fails t unless every request rc got is the same message:
// one webhook-id, byte-identical bodies, a valid signature each.
func checkAttempts(t *testing.T, rc *receiver, secret string) {
	t.Helper()
	got := rc.requests()
	if len(got) == 0 {
		t.Fatal("the receiver got nothing")
	}
	for _, r := range got {
		if r.WebhookID() != got[0].WebhookID() || !bytes.Equal(r.Body, got[0].Body) {
			t.Errorf("attempts differ: %s %s / %s %s", got[0].WebhookID(), got[0].Body, r.WebhookID(), r.Body)
		}
		if verify(secret, r.Header, r.Body) != 1 {
			t.Errorf("attempt at %s: the signature does not verify", r.At)
		}
	}
}

// statuses lists the HTTP status of each attempt (0: none).
func statuses(d webhook.Delivery) []int32 {
	var out []int32
	for _, a := range d.Attempts {
		if a.HTTPStatus == nil {
			out = append(out, 0)
		} else {
			out = append(out, *a.HTTPStatus)
		}
	}
	return out
}

func alerts(t *testing.T, e *env, kind string) []string {
	t.Helper()
	rows, err := e.Pool.Query(context.Background(), "SELECT message FROM alerts WHERE kind = $1 ORDER BY id", kind)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var m string
		if err := rows.Scan(&m); err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

// 500 three times, then 200: delivered on the fourth attempt, the same
// message every time.
func TestServerErrorsAreRetriedUntilDelivered(t *testing.T) {
	t.Parallel()
	e := setup(t, flowtest.Options{})
	rc := newReceiver(t, func(n int, _ http.ResponseWriter, _ *http.Request) int {
		if n <= 3 {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	_, secret := e.endpoint(t, e.ClientID, rc.URL, succeededOnly)
	d := e.oneDelivery(t, "retry-500")
	if d.Status != "delivered" || fmtInts(statuses(d)) != "[500 500 500 200]" {
		t.Fatalf("delivery %s with attempts %v", d.Status, statuses(d))
	}
	checkAttempts(t, rc, secret)
	if n := len(rc.requests()); n != 4 {
		t.Fatalf("the receiver got %d requests, want 4", n)
	}
}

// No answer within WEBHOOK_TIMEOUT is a failed attempt that says so; an
// answer slower than usual but within it is delivered.
func TestTimeoutAndSlowAnswers(t *testing.T) {
	t.Parallel()
	e := setup(t, flowtest.Options{Webhook: func(c *webhook.Config) { c.Timeout = 700 * time.Millisecond }})
	rc := newReceiver(t, func(n int, _ http.ResponseWriter, r *http.Request) int {
		wait := 300 * time.Millisecond // slow, within the timeout
		if n == 1 {
			wait = 5 * time.Second // past it
		}
		select {
		case <-time.After(wait):
		case <-r.Context().Done():
			return 0
		}
		return http.StatusOK
	})
	_, secret := e.endpoint(t, e.ClientID, rc.URL, succeededOnly)
	d := e.oneDelivery(t, "timeout")
	if d.Status != "delivered" || fmtInts(statuses(d)) != "[0 200]" {
		t.Fatalf("delivery %s with attempts %v", d.Status, statuses(d))
	}
	if !strings.Contains(d.Attempts[0].Error, "timeout") {
		t.Errorf("the timed-out attempt says %q", d.Attempts[0].Error)
	}
	checkAttempts(t, rc, secret)
}

// 410 Gone disables the endpoint with an alert; its message ends canceled
// and it receives nothing new.
func TestGoneDisablesTheEndpoint(t *testing.T) {
	t.Parallel()
	e := setup(t, flowtest.Options{})
	rc := newReceiver(t, answer(http.StatusGone))
	ep, _ := e.endpoint(t, e.ClientID, rc.URL, succeededOnly)
	d := e.oneDelivery(t, "gone-1")
	if d.Status != "canceled" || fmtInts(statuses(d)) != "[410]" {
		t.Fatalf("delivery %s with attempts %v", d.Status, statuses(d))
	}
	got, err := e.Webhooks.GetEndpoint(context.Background(), e.ClientID, ep.ID)
	if err != nil || !got.Disabled || got.DisabledReason == nil || *got.DisabledReason != "gone" {
		t.Fatalf("endpoint after 410: %+v %v", got, err)
	}
	if a := alerts(t, e, "webhook_endpoint_disabled"); len(a) != 1 || !strings.Contains(a[0], ep.ID.String()) || strings.Contains(a[0], rc.URL) {
		t.Errorf("alerts %v", a)
	}
	if v := testutil.ToFloat64(e.Webhooks.Metrics().EndpointsDisabled.WithLabelValues("gone")); v != 1 {
		t.Errorf("webhook_endpoints_disabled_total{reason=gone} = %v", v)
	}
	e.waitEnded(t, e.buy(t, e.ClientID, "gone-2"))
	if n := len(e.deliveries(t, e.ClientID, webhook.DeliveryFilter{})); n != 1 {
		t.Errorf("a disabled endpoint got %d deliveries, want the first only", n)
	}
	if n := len(rc.requests()); n != 1 {
		t.Errorf("a disabled endpoint received %d requests", n)
	}
}

// 429 with Retry-After slows the endpoint: its next attempt is not
// scheduled before the time asked for.
func TestRetryAfterIsHonoured(t *testing.T) {
	t.Parallel()
	e := setup(t, flowtest.Options{})
	rc := newReceiver(t, func(n int, w http.ResponseWriter, _ *http.Request) int {
		if n == 1 {
			w.Header().Set("Retry-After", "2")
			return http.StatusTooManyRequests
		}
		return http.StatusOK
	})
	_, secret := e.endpoint(t, e.ClientID, rc.URL, succeededOnly)
	e.waitEnded(t, e.buy(t, e.ClientID, "slow-down"))
	var first, throttled, next time.Time
	flowtest.WaitFor(t, time.Minute, func() string { return "the first attempt" }, func() bool {
		err := e.Pool.QueryRow(context.Background(), `
			SELECT a.attempted_at, coalesce(e.throttled_until, a.attempted_at), coalesce(m.next_attempt_at, a.attempted_at)
			FROM webhook_attempts a JOIN webhook_messages m ON m.id = a.message_id JOIN webhook_endpoints e ON e.id = m.endpoint_id
			ORDER BY a.id LIMIT 1`).Scan(&first, &throttled, &next)
		return err == nil
	})
	if throttled.Sub(first) != 2*time.Second {
		t.Errorf("the endpoint is throttled until %s after the 429, want 2s", throttled.Sub(first))
	}
	d := e.waitDeliveries(t, e.ClientID, 1)[0]
	if d.Status != "delivered" || fmtInts(statuses(d)) != "[429 200]" {
		t.Fatalf("delivery %s with attempts %v", d.Status, statuses(d))
	}
	second, err := time.Parse(time.RFC3339Nano, d.Attempts[1].At)
	if err != nil {
		t.Fatal(err)
	}
	if second.Before(first.Add(2 * time.Second)) {
		t.Errorf("the second attempt came %s after the first, before the Retry-After of 2s", second.Sub(first))
	}
	checkAttempts(t, rc, secret)
}

// A redirect is not followed: it is a failed attempt, the target never
// hears of the message; when the schedule runs out the delivery is failed,
// with an alert, a metric and a row in the reconciliation report.
func TestRedirectsAreNotFollowedAndTheScheduleEnds(t *testing.T) {
	t.Parallel()
	e := setup(t, flowtest.Options{})
	target := newReceiver(t, answer(http.StatusOK))
	rc := newReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) int {
		w.Header().Set("Location", target.URL)
		return http.StatusFound
	})
	_, secret := e.endpoint(t, e.ClientID, rc.URL, succeededOnly)
	d := e.oneDelivery(t, "redirect")
	if d.Status != "failed" || fmtInts(statuses(d)) != "[302 302 302 302]" {
		t.Fatalf("delivery %s with attempts %v (schedule of 3 delays: 4 attempts)", d.Status, statuses(d))
	}
	if !strings.Contains(d.Attempts[0].Error, "redirect") {
		t.Errorf("attempt error %q", d.Attempts[0].Error)
	}
	if n := len(target.requests()); n != 0 {
		t.Errorf("the redirect target got %d requests", n)
	}
	checkAttempts(t, rc, secret)
	if a := alerts(t, e, "webhook_delivery_failed"); len(a) != 1 || !strings.Contains(a[0], d.ID) {
		t.Errorf("alerts %v", a)
	}
	if v := testutil.ToFloat64(e.Webhooks.Metrics().Deliveries.WithLabelValues("failed")); v != 1 {
		t.Errorf("webhook_deliveries_total{outcome=failed} = %v", v)
	}
	rep, err := recon.Build(context.Background(), e.Pool, recon.Options{Since: time.Now().Add(-time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if rep.WebhookFailures.Count != 1 || "msg_"+rep.WebhookFailures.Rows[0].MessageID.String() != d.ID ||
		rep.WebhookFailures.Rows[0].Attempts != 4 || !rep.NeedsAttention {
		t.Errorf("reconciliation: %+v", rep.WebhookFailures)
	}

	// Retry sends it again (the same message) and it is delivered once the
	// endpoint answers 2xx; recover finds nothing failed any more.
	good := newReceiver(t, answer(http.StatusOK))
	if _, err := e.Webhooks.UpdateEndpoint(context.Background(), e.ClientID, d.EndpointID, webhook.EndpointInput{URL: &good.URL}); err != nil {
		t.Fatal(err)
	}
	id, _ := webhook.ParseWebhookID(d.ID)

	// A retry whose audit fails is undone with it: the message stays failed
	// and nothing is queued (the console's operator retries are audited in
	// the retry's transaction).
	refused := errors.New("audit refused")
	if _, err := e.Webhooks.RetryDeliveryAudited(context.Background(), e.ClientID, id, func(context.Context, *store.Queries) error {
		return refused
	}); !errors.Is(err, refused) {
		t.Fatalf("retry with a failing audit: err = %v, want the audit's error", err)
	}
	if got, err := e.Webhooks.GetDelivery(context.Background(), e.ClientID, id); err != nil || got.Status != "failed" || len(got.Attempts) != 4 {
		t.Fatalf("after a retry whose audit failed: %+v, %v; want it still failed after 4 attempts", got, err)
	}

	if _, err := e.Webhooks.RetryDelivery(context.Background(), e.ClientID, id); err != nil {
		t.Fatal(err)
	}
	d = e.waitDeliveries(t, e.ClientID, 1)[0]
	if d.Status != "delivered" || len(d.Attempts) != 5 || len(good.requests()) != 1 || !bytes.Equal(good.requests()[0].Body, rc.requests()[0].Body) {
		t.Fatalf("after retry: %s %v, %d requests at the new URL", d.Status, statuses(d), len(good.requests()))
	}
	if _, err := e.Webhooks.RetryDelivery(context.Background(), e.ClientID, id); err != nil {
		t.Fatal(err) // a delivered message may be sent again too
	}
}

// An endpoint whose every attempt failed for DisableAfter is disabled with
// an alert; a deleted endpoint's pending delivery stops.
func TestFailingEndpointIsDisabledAndDeletedOneStops(t *testing.T) {
	t.Parallel()
	e := setup(t, flowtest.Options{Webhook: func(c *webhook.Config) {
		c.DisableAfter = time.Millisecond
		c.Schedule = []time.Duration{200 * time.Millisecond, time.Hour}
	}})
	rc := newReceiver(t, answer(http.StatusServiceUnavailable))
	ep, _ := e.endpoint(t, e.ClientID, rc.URL, succeededOnly)
	d := e.oneDelivery(t, "failing")
	got, _ := e.Webhooks.GetEndpoint(context.Background(), e.ClientID, ep.ID)
	if d.Status != "canceled" || len(d.Attempts) != 2 || !got.Disabled || *got.DisabledReason != "failing" {
		t.Fatalf("delivery %s %v, endpoint %+v", d.Status, statuses(d), got)
	}
	if a := alerts(t, e, "webhook_endpoint_disabled"); len(a) != 1 {
		t.Errorf("alerts %v", a)
	}

	// Deleting an endpoint stops its pending delivery (waiting an hour here).
	slow := newReceiver(t, answer(http.StatusInternalServerError))
	ep2, _ := e.endpoint(t, e.ClientID, slow.URL, succeededOnly)
	e.waitEnded(t, e.buy(t, e.ClientID, "deleted"))
	flowtest.WaitFor(t, time.Minute, func() string { return "a first failed attempt" }, func() bool { return len(slow.requests()) >= 1 })
	if err := e.Webhooks.DeleteEndpoint(context.Background(), e.ClientID, ep2.ID); err != nil {
		t.Fatal(err)
	}
	ds := e.deliveries(t, e.ClientID, webhook.DeliveryFilter{EndpointID: &ep2.ID})
	if len(ds) != 1 || ds[0].Status != "canceled" {
		t.Fatalf("the deleted endpoint's delivery: %+v", ds)
	}
	if n := countRows(t, e, "SELECT count(*) FROM webhook_secrets WHERE endpoint_id = $1", ep2.ID); n != 0 {
		t.Errorf("a deleted endpoint keeps %d secrets", n)
	}
}

// One slow endpoint never has more than InFlight attempts at once, and it
// does not delay another client's endpoint.
func TestSlowEndpointDoesNotDelayOthers(t *testing.T) {
	t.Parallel()
	e := setup(t, flowtest.Options{Webhook: func(c *webhook.Config) { c.InFlight = 2; c.Timeout = 5 * time.Second }})
	release := make(chan struct{})
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { close(release) }) })
	slow := newReceiver(t, func(_ int, _ http.ResponseWriter, r *http.Request) int {
		select {
		case <-release:
		case <-r.Context().Done():
			return 0
		}
		return http.StatusOK
	})
	fast := newReceiver(t, answer(http.StatusOK))
	e.endpoint(t, e.ClientID, slow.URL, nil)
	e.endpoint(t, e.Other, fast.URL, nil)
	const n = 4
	for i := range n {
		e.buy(t, e.ClientID, "slow-"+string(rune('a'+i)))
		e.buy(t, e.Other, "fast-"+string(rune('a'+i)))
	}
	// Every message of the other client is delivered while the slow
	// endpoint holds its slots.
	var others []webhook.Delivery
	flowtest.WaitFor(t, time.Minute, func() string { return "the other client's deliveries" }, func() bool {
		others = e.deliveries(t, e.Other, webhook.DeliveryFilter{})
		done := len(others) >= 2*n
		for _, d := range others {
			done = done && d.Status == "delivered"
		}
		return done
	})
	if m := slow.maxInFlight(); m > 2 || m == 0 {
		t.Errorf("the slow endpoint had %d attempts in flight at once, want 1-2", m)
	}
	once.Do(func() { close(release) })
	ds := e.waitDeliveries(t, e.ClientID, 2*n)
	for _, d := range ds {
		if d.Status != "delivered" {
			t.Errorf("slow endpoint's delivery %s is %s", d.ID, d.Status)
		}
	}
	if m := slow.maxInFlight(); m > 2 {
		t.Errorf("the slow endpoint had %d attempts in flight at once, want at most 2", m)
	}
}

func fmtInts(v []int32) string {
	var b strings.Builder
	b.WriteString("[")
	for i, x := range v {
		if i > 0 {
			b.WriteString(" ")
		}
		b.WriteString(strconv.Itoa(int(x)))
	}
	b.WriteString("]")
	return b.String()
}
