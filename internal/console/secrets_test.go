package console_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ppob-orchestrator/orchestrator/internal/console"
	"github.com/ppob-orchestrator/orchestrator/internal/flow"
	"github.com/ppob-orchestrator/orchestrator/internal/flowtest"
	"github.com/ppob-orchestrator/orchestrator/internal/providers/klikoo"
	"github.com/ppob-orchestrator/orchestrator/internal/providers/snapcart"
	"github.com/ppob-orchestrator/orchestrator/internal/store"
	"github.com/ppob-orchestrator/orchestrator/internal/webhook"
)

// No page ever shows a secret: every page is rendered for purchases with
// every kind of event — status changes, provider calls (Klikoo's signed
// requests and access-token exchange included), signed and unsigned
// callbacks, operator notes, alerts — with webhook deliveries (failed and
// delivered, to endpoints that echo their signatures back in their answer)
// and with an attempt they failed over from, and searched for the provider
// credentials, the callback signatures, the webhook secrets, signatures
// and sealing key, a token in an endpoint's URL, the admin and operator
// tokens, a client's API key and the session id.
func TestNoPageShowsASecret(t *testing.T) {
	t.Parallel()
	ops := map[string]string{"ana": "ana-secret-token-0123456789"}
	var sealingKey []byte
	e := setup(t, flowtest.Options{Signed: true, BalanceAlertBelow: 1 << 50, Webhook: func(c *webhook.Config) { sealingKey = c.SecretKey }},
		func(c *console.Config) {
			c.Operators = operators(ops)
			c.BalanceAlertBelow = map[string]int64{klikoo.Name: 1 << 50, snapcart.Name: 1 << 50}
		})
	ctx := context.Background()
	failing := newReceiver(t, http.StatusInternalServerError, true)
	delivering := newReceiver(t, http.StatusOK, true)
	failingEP, failingSecret := e.endpoint(t, failing.URL+"?token=url-token-0123456789")
	deliveringEP, deliveringSecret := e.endpoint(t, delivering.URL)
	e.twoOffers(t)
	purchases := []store.Purchase{
		e.buy(t, "secret-pln", "PLN20", "01105691111", flow.StatusSucceeded),
		e.buy(t, "secret-signed", "TSEL10", "0812339931", flow.StatusSucceeded),
		e.buy(t, "secret-failed", "PLN20", "01105699911", flow.StatusFailed),
		e.buy(t, "secret-failed-over", bothCode, "081233339912", flow.StatusFailed),
	}

	contradicted := e.buy(t, "secret-contradiction", "PLN20", "01105699924", flow.StatusSucceeded, flow.StatusFailed, flow.StatusNeedsReview)
	purchases = append(purchases, contradicted)
	review := e.needsReview(t, "secret-review")
	e.Svc.CheckBalances(ctx) // a low_balance alert for Klikoo

	b := e.browser(t)
	b.signIn("ana", ops["ana"])
	refused := b.post("/console/review", "/console/purchases/"+review.ID.String()+"/resolve",
		url.Values{"status": {"failed"}, "note": {"asked the provider"}, "back": {"review"}})
	wantStatus(t, refused, http.StatusConflict)
	done := b.post("/console/review", "/console/purchases/"+review.ID.String()+"/resolve",
		url.Values{"status": {"failed"}, "note": {"provider confirmed: not processed"}, "force": {"on"}, "back": {"purchase"}})
	wantStatus(t, done, http.StatusSeeOther)
	purchases = append(purchases, e.Purchase(t, review.ID))
	flowtest.WaitFor(t, 60*time.Second, func() string { return "no contradiction alert" }, func() bool {
		alerts, err := e.Q.AlertListRecent(ctx, store.AlertListRecentParams{RowLimit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range alerts {
			if a.Kind == "contradiction" {
				return true
			}
		}
		return false
	})

	kinds := map[string]bool{}
	for _, p := range purchases {
		events, err := e.Q.EventListByPurchase(ctx, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range events {
			kinds[ev.Kind] = true
		}
	}
	for _, k := range []string{"status", "provider_call", "callback", "note", "alert"} {
		if !kinds[k] {
			t.Fatalf("no purchase has a %s event: the test would prove nothing about them", k)
		}
	}

	// Webhooks: every purchase's deliveries have ended, some failed and
	// some delivered, and the endpoints' echoed signatures are stored in
	// the attempts (so masking them on the pages is what is tested); one
	// purchase failed over; an operator sent a failed delivery again.
	statuses := map[store.WebhookMessageStatus]int{}
	var failedDelivery uuid.UUID
	var deliveries []uuid.UUID
	for _, p := range purchases {
		for _, d := range e.settled(t, p.ID) {
			deliveries = append(deliveries, d.ID)
			statuses[d.Status]++
			if d.Status == store.WebhookMessageStatusFailed {
				failedDelivery = d.ID
			}
		}
	}
	if statuses[store.WebhookMessageStatusFailed] == 0 || statuses[store.WebhookMessageStatusDelivered] == 0 {
		t.Fatalf("deliveries %v: the test needs failed and delivered ones", statuses)
	}
	wantStatus(t, b.post("/console/webhooks", "/console/webhooks/deliveries/"+webhook.WebhookID(failedDelivery)+"/retry",
		url.Values{"back": {"webhooks"}}), http.StatusSeeOther)
	attempts, err := e.Q.WebhookAttemptListForMessages(ctx, deliveries)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(attempts, func(a store.WebhookAttempt) bool { return strings.Contains(a.ResponseBody, " v1,") }) {
		t.Fatal("no stored answer echoes a signature: the test would prove nothing about them")
	}
	if ended, err := e.Q.PurchaseAttemptList(ctx, purchases[3].ID); err != nil || len(ended) != 1 {
		t.Fatalf("the failed-over purchase has ended attempts %v (%v)", ended, err)
	}

	secrets := map[string]string{
		"webhook secret":           failingSecret,
		"webhook secret's key":     strings.TrimPrefix(deliveringSecret, "whsec_"),
		"webhook sealing key":      base64.StdEncoding.EncodeToString(sealingKey),
		"token in an endpoint URL": "url-token-0123456789",
		"Klikoo client secret":     e.Creds.KlikooClientSecret,
		"Snapcart API key":         e.Creds.SnapcartAPIKey,
		"Snapcart callback secret": e.Creds.SnapcartCallbackSecret,
		"admin token":              adminToken,
		"operator token":           ops["ana"],
		"client API key":           e.APIKey,
		"session id":               b.cookies["__Host-console"].Value,
	}
	der, err := x509.MarshalPKCS8PrivateKey(e.Creds.KlikooPrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	secrets["Klikoo private key"] = base64.StdEncoding.EncodeToString(der)[100:164]
	signed := 0
	for _, p := range purchases {
		timeline, err := e.Q.EventTimeline(ctx, store.EventTimelineParams{PurchaseID: p.ID, AuditSince: store.AuditSince(p.CreatedAt)})
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range timeline {
			if ev.CallbackBody == nil {
				continue
			}
			m := hmac.New(sha256.New, []byte(e.Creds.SnapcartCallbackSecret))
			m.Write([]byte(*ev.CallbackBody))
			secrets[fmt.Sprintf("callback signature %d of %s", signed, p.ReferenceID)] = hex.EncodeToString(m.Sum(nil))
			signed++
		}
	}
	if signed == 0 {
		t.Fatal("no callback to check the signature of")
	}
	for i, sig := range append(failing.sent(), delivering.sent()...) {
		secrets[fmt.Sprintf("webhook signature %d", i)] = strings.TrimPrefix(sig, "v1,")
	}

	paths := []string{"/console/", "/console/purchases", "/console/review", "/console/providers",
		"/console/reconciliation?from=2000-01-01&to=2100-01-01", "/console/reconciliation/daily.csv?from=2000-01-01&to=2100-01-01",
		"/console/river/", "/console/webhooks", "/console/webhooks?client=" + e.ClientID.String(),
		"/console/webhooks/endpoints/" + failingEP.ID.String(), "/console/webhooks/endpoints/" + deliveringEP.ID.String()}
	for _, p := range purchases {
		paths = append(paths, "/console/purchases/"+p.ID.String(), "/console/purchases?q="+p.ReferenceID)
	}
	accessToken := regexp.MustCompile(`access_?[tT]oken[^:]*:\s*&#34;(?:[^&]|&[^#])`)
	for _, path := range paths {
		p := b.get(path)
		wantStatus(t, p, http.StatusOK)
		for what, secret := range secrets {
			if secret != "" && strings.Contains(p.Body, secret) {
				t.Errorf("%s shows the %s", path, what)
			}
		}
		if m := accessToken.FindString(p.Body); m != "" && !strings.Contains(p.Body, "[redacted]") {
			t.Errorf("%s shows an access token: %s", path, m)
		}
	}
	if signin := e.browser(t).get("/console/signin"); strings.Contains(signin.Body, adminToken) {
		t.Error("the sign-in page shows the admin token")
	}
}
