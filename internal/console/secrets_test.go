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
	"strings"
	"testing"
	"time"

	"github.com/ppob-orchestrator/orchestrator/internal/console"
	"github.com/ppob-orchestrator/orchestrator/internal/flow"
	"github.com/ppob-orchestrator/orchestrator/internal/flowtest"
	"github.com/ppob-orchestrator/orchestrator/internal/providers/klikoo"
	"github.com/ppob-orchestrator/orchestrator/internal/providers/snapcart"
	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

// No page ever shows a secret: every page is rendered for purchases with
// every kind of event — status changes, provider calls (Klikoo's signed
// requests and access-token exchange included), signed and unsigned
// callbacks, operator notes, alerts — and searched for the provider
// credentials, the callback signatures, the admin and operator tokens, a
// client's API key and the session id.
func TestNoPageShowsASecret(t *testing.T) {
	t.Parallel()
	ops := map[string]string{"ana": "ana-secret-token-0123456789"}
	e := setup(t, flowtest.Options{Signed: true, BalanceAlertBelow: 1 << 50}, func(c *console.Config) {
		c.Operators = operators(ops)
		c.BalanceAlertBelow = map[string]int64{klikoo.Name: 1 << 50, snapcart.Name: 1 << 50}
	})
	ctx := context.Background()
	purchases := []store.Purchase{
		e.buy(t, "secret-pln", "PLN20", "01105691111", flow.StatusSucceeded),
		e.buy(t, "secret-signed", "TSEL10", "0812339931", flow.StatusSucceeded),
		e.buy(t, "secret-failed", "PLN20", "01105699911", flow.StatusFailed),
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

	secrets := map[string]string{
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
		timeline, err := e.Q.EventTimeline(ctx, p.ID)
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

	paths := []string{"/console/", "/console/purchases", "/console/review", "/console/providers",
		"/console/reconciliation?from=2000-01-01&to=2100-01-01", "/console/reconciliation/daily.csv?from=2000-01-01&to=2100-01-01",
		"/console/river/"}
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
