package webhook_test

import (
	"context"
	"encoding/base64"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/ppob-orchestrator/orchestrator/internal/flowtest"
	"github.com/ppob-orchestrator/orchestrator/internal/webhook"
)

// dump returns every row of every table of the database as JSON text:
// purchases, events, alerts, webhook messages and attempts, River's jobs
// and their arguments.
func dump(t *testing.T, e *env) string {
	t.Helper()
	ctx := context.Background()
	rows, err := e.Pool.Query(ctx, `SELECT tablename FROM pg_tables WHERE schemaname = 'public'`)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, name)
	}
	rows.Close()
	var b strings.Builder
	for _, table := range tables {
		rows, err := e.Pool.Query(ctx, `SELECT row_to_json(t)::text FROM `+table+` t`)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				t.Fatal(err)
			}
			b.WriteString(s + "\n")
		}
		rows.Close()
	}
	if !strings.Contains(b.String(), "webhook_deliver") || !strings.Contains(b.String(), "purchase.succeeded") {
		t.Fatal("the dump misses River's jobs or the messages")
	}
	return b.String()
}

// During a rotation each message carries a signature of the new and of the
// previous secret (each verifies on its own); 24 hours later only the new
// one signs and the old one is erased. No secret, key or signature is ever
// logged or stored anywhere but sealed: not in logs, events, alerts,
// attempts, messages or River's job arguments.
func TestRotationAndNoSecretLeaks(t *testing.T) {
	t.Parallel()
	logs := &flowtest.LogBuffer{}
	e := setup(t, flowtest.Options{Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	ctx := context.Background()
	rc := newReceiver(t, func(n int, _ http.ResponseWriter, _ *http.Request) int {
		if n%3 == 1 {
			return http.StatusInternalServerError // attempts with errors too
		}
		return http.StatusOK
	})
	ep, oldSecret := e.endpoint(t, e.ClientID, rc.URL, succeededOnly)
	e.waitEnded(t, e.buy(t, e.ClientID, "before-rotation"))
	e.waitDeliveries(t, e.ClientID, 1)
	_, newSecret, err := e.Webhooks.RotateSecret(ctx, e.ClientID, ep.ID)
	if err != nil {
		t.Fatal(err)
	}
	e.waitEnded(t, e.buy(t, e.ClientID, "during-rotation"))
	e.waitDeliveries(t, e.ClientID, 2)
	for _, r := range rc.requests() {
		m := r.message(t)
		if strings.Contains(string(r.Body), "during-rotation") {
			if verify(oldSecret, r.Header, r.Body) != 1 || verify(newSecret, r.Header, r.Body) != 1 || len(strings.Fields(r.Header.Get("webhook-signature"))) != 2 {
				t.Errorf("%s during the rotation: signatures %q", m.Type, r.Header.Get("webhook-signature"))
			}
		} else if verify(oldSecret, r.Header, r.Body) != 1 || verify(newSecret, r.Header, r.Body) != 0 {
			t.Errorf("before the rotation: signatures %q", r.Header.Get("webhook-signature"))
		}
	}

	e.Clock.Advance(25 * time.Hour)
	e.waitEnded(t, e.buy(t, e.ClientID, "after-rotation"))
	e.waitDeliveries(t, e.ClientID, 3)
	for _, r := range rc.requests() {
		if strings.Contains(string(r.Body), "after-rotation") &&
			(verify(oldSecret, r.Header, r.Body) != 0 || verify(newSecret, r.Header, r.Body) != 1) {
			t.Errorf("25 h after the rotation: signatures %q", r.Header.Get("webhook-signature"))
		}
	}
	if _, err := e.Webhooks.Cleanup(ctx); err != nil {
		t.Fatal(err)
	}
	if n := countRows(t, e, "SELECT count(*) FROM webhook_secrets"); n != 1 {
		t.Errorf("%d secrets kept after 24 h, want the current one", n)
	}

	secrets := []string{oldSecret, newSecret, strings.TrimPrefix(oldSecret, "whsec_"), strings.TrimPrefix(newSecret, "whsec_")}
	for _, s := range []string{oldSecret, newSecret} {
		key, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, "whsec_"))
		secrets = append(secrets, base64.RawStdEncoding.EncodeToString(key), strings.ToLower(hexOf(key)))
	}
	for _, r := range rc.requests() {
		for _, sig := range strings.Fields(r.Header.Get("webhook-signature")) {
			secrets = append(secrets, strings.TrimPrefix(sig, "v1,"))
		}
	}
	where := map[string]string{"logs": logs.String(), "database": dump(t, e)}
	for name, text := range where {
		for _, s := range secrets {
			if strings.Contains(text, s) {
				t.Errorf("the %s hold a secret or signature: %s…", name, s[:12])
			}
		}
	}
	if !strings.Contains(where["logs"], "webhook attempt") {
		t.Error("the captured logs have no webhook attempt: the search proves nothing")
	}
}

func hexOf(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

// With private addresses forbidden, an endpoint whose name resolves to
// 127.0.0.1 is never connected to; every attempt says why, and the
// delivery fails.
func TestPrivateAddressIsRefusedAtDialTime(t *testing.T) {
	t.Parallel()
	srv := newReceiver(t, answer(http.StatusOK))
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	resolver := webhook.StartDNS(t, map[string][]netip.Addr{"shop.test.": {netip.MustParseAddr("127.0.0.1")}})
	e := setup(t, flowtest.Options{Webhook: func(c *webhook.Config) { c.AllowPrivate, c.Resolver = false, resolver }})
	e.endpoint(t, e.ClientID, "http://shop.test:"+port+"/hooks", succeededOnly)
	d := e.oneDelivery(t, "ssrf")
	if d.Status != "failed" || len(d.Attempts) != 4 {
		t.Fatalf("delivery %s with %d attempts", d.Status, len(d.Attempts))
	}
	for _, a := range d.Attempts {
		if a.HTTPStatus != nil || !strings.Contains(a.Error, "refused to connect to 127.0.0.1: a loopback address (WEBHOOK_ALLOW_PRIVATE is off)") {
			t.Errorf("attempt %+v", a)
		}
	}
	// (TestDialRefusesForbiddenAddresses counts the connections themselves.)
	if n := len(srv.requests()); n != 0 {
		t.Fatalf("the guarded delivery reached the receiver %d times", n)
	}
}

// Cleanup removes what outlived the retention and queues again a pending
// message whose job was lost, which is then delivered.
func TestCleanup(t *testing.T) {
	t.Parallel()
	e := setup(t, flowtest.Options{Webhook: func(c *webhook.Config) { c.Retention = time.Hour }})
	ctx := context.Background()
	rc := newReceiver(t, answer(http.StatusOK))
	ep, _ := e.endpoint(t, e.ClientID, rc.URL, succeededOnly)
	e.oneDelivery(t, "old")
	e.Clock.Advance(2 * time.Hour)
	if err := e.Webhooks.DeleteEndpoint(ctx, e.ClientID, ep.ID); err != nil {
		t.Fatal(err)
	}
	r, err := e.Webhooks.Cleanup(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if r.Messages != 1 || countRows(t, e, "SELECT count(*) FROM webhook_messages") != 0 || countRows(t, e, "SELECT count(*) FROM webhook_attempts") != 0 {
		t.Fatalf("cleanup %+v left messages or attempts", r)
	}
	e.Clock.Advance(2 * time.Hour)
	if r, err = e.Webhooks.Cleanup(ctx); err != nil || r.Endpoints != 1 {
		t.Fatalf("the deleted endpoint outlived its retention: %+v %v", r, err)
	}

	// A pending message whose job is gone (as if lost) is queued again.
	e.endpoint(t, e.ClientID, rc.URL, succeededOnly)
	e.oneDelivery(t, "orphan")
	before := len(rc.requests())
	if _, err := e.Pool.Exec(ctx, `UPDATE webhook_messages SET status = 'pending', next_attempt_at = $1, finished_at = NULL`, e.Clock.Now()); err != nil {
		t.Fatal(err)
	}
	if r, err = e.Webhooks.Cleanup(ctx); err != nil || r.Requeued != 0 {
		t.Fatalf("a message due less than 10 minutes ago was requeued: %+v %v", r, err)
	}
	e.Clock.Advance(11 * time.Minute)
	if r, err = e.Webhooks.Cleanup(ctx); err != nil || r.Requeued != 1 {
		t.Fatalf("cleanup %+v %v, want the orphan queued again", r, err)
	}
	d := e.waitDeliveries(t, e.ClientID, 1)
	if d[0].Status != "delivered" || len(rc.requests()) != before+1 {
		t.Fatalf("the orphan ended %s", d[0].Status)
	}
}
