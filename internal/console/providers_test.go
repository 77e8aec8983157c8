package console_test

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ppob-orchestrator/orchestrator/internal/console"
	"github.com/ppob-orchestrator/orchestrator/internal/flow"
	"github.com/ppob-orchestrator/orchestrator/internal/flowtest"
	"github.com/ppob-orchestrator/orchestrator/internal/providers"
	"github.com/ppob-orchestrator/orchestrator/internal/providers/klikoo"
	"github.com/ppob-orchestrator/orchestrator/internal/providers/snapcart"
	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

// bothCode is a product the tests seed with two offers: Klikoo's S10 first
// (priority 10), then Snapcart's TSEL10 (priority 20).
const bothCode = "TSEL10-ANY"

// twoOffers seeds bothCode.
func (e *env) twoOffers(t testing.TB) {
	t.Helper()
	if err := flow.SeedCatalog(context.Background(), e.Q, []flow.CatalogEntry{
		{Code: bothCode, Name: "Telkomsel 10.000, any provider", Family: providers.FamilyPulsa, Provider: klikoo.Name,
			Inquiry: "none", ProviderProductCode: "S10", Priority: 10, Price: 10150},
		{Code: bothCode, Name: "Telkomsel 10.000, any provider", Family: providers.FamilyPulsa, Provider: snapcart.Name,
			Inquiry: "none", ProviderProductCode: "TSEL10", ItemCode: "TSEL10", Priority: 20, Price: 10150},
	}, e.Clock.Now()); err != nil {
		t.Fatal(err)
	}
}

// providerState reads whether a provider is paused.
func (e *env) paused(t testing.TB, name string) bool {
	t.Helper()
	rows, err := e.Q.ProviderList(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range rows {
		if p.Name == name {
			return p.Paused
		}
	}
	return false
}

// The Providers page shows each product's offers in route order with the
// route a purchase would get now. An operator pauses Klikoo (CSRF and
// same-origin required): flow.Service.SetPaused records it with the
// operator's name, the page says Klikoo is paused and the product's route
// now starts at Snapcart, and a purchase created then goes to Snapcart.
// Resuming puts Klikoo back first. An unknown provider is 404.
func TestPauseAndResumeAProvider(t *testing.T) {
	t.Parallel()
	ops := map[string]string{"ana": "ana-providers-token-0123456789"}
	e := setup(t, flowtest.Options{}, func(c *console.Config) { c.Operators = operators(ops) })
	e.twoOffers(t)
	b := e.browser(t)
	b.signIn("ana", ops["ana"])
	page := b.get("/console/providers")
	wantStatus(t, page, http.StatusOK)
	for _, want := range []string{`id="offer-` + bothCode + `-klikoo"`, `id="offer-` + bothCode + `-snapcart"`,
		"klikoo → snapcart", `id="pause-klikoo"`, `id="pause-snapcart"`} {
		if !strings.Contains(html.UnescapeString(page.Body), want) {
			t.Errorf("the providers page lacks %q", want)
		}
	}

	path := "/console/providers/klikoo/pause"
	token := csrf(t, page)
	wantStatus(t, b.do(http.MethodPost, path, url.Values{}), http.StatusForbidden)
	wantStatus(t, b.do(http.MethodPost, path, url.Values{"csrf": {token}}, "Sec-Fetch-Site", "cross-site"), http.StatusForbidden)
	anon := e.browser(t)
	wantSignin(t, anon.do(http.MethodPost, path, url.Values{"csrf": {token}}, "Authorization", "Bearer "+adminToken))
	wantSignin(t, anon.do(http.MethodPost, path, url.Values{"csrf": {token}}, "Authorization", "Bearer "+e.APIKey))
	if e.paused(t, "klikoo") {
		t.Fatal("a refused POST paused klikoo")
	}
	done := b.do(http.MethodPost, path, url.Values{"csrf": {token}})
	wantStatus(t, done, http.StatusSeeOther)
	if !e.paused(t, "klikoo") {
		t.Fatal("klikoo is not paused")
	}
	audit, err := e.Q.AdminEventList(context.Background(), store.AdminEventListParams{Subject: ptr("provider:klikoo"), RowLimit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(audit) != 1 || audit[0].Actor != "ana" || audit[0].Action != "provider.pause" {
		t.Fatalf("the pause is not audited with the operator's name: %+v", audit)
	}
	paused := b.get(done.Header.Get("Location"))
	body := html.UnescapeString(paused.Body)
	for _, want := range []string{"klikoo is paused: new purchases route around it", `id="resume-klikoo"`, "<strong>paused</strong>",
		"<td>ana</td><td>provider.pause</td>"} {
		if !strings.Contains(body, want) {
			t.Errorf("after the pause the page lacks %q", want)
		}
	}
	route := body[strings.Index(body, `id="offer-`+bothCode+`-klikoo"`):]
	route = route[strings.Index(route, `class="route"`):]
	if !strings.HasPrefix(route, `class="route">snapcart</td>`) {
		t.Errorf("the route now should be snapcart alone: %.80s", route)
	}

	p := e.buy(t, "routed-around", bothCode, "081233330000", flow.StatusSucceeded)
	if p.Provider != snapcart.Name || len(p.Route) != 1 {
		t.Fatalf("a purchase created while klikoo is paused went to %s (route %v)", p.Provider, p.Route)
	}

	resumed := b.post("/console/providers", "/console/providers/klikoo/resume", url.Values{})
	wantStatus(t, resumed, http.StatusSeeOther)
	if e.paused(t, "klikoo") {
		t.Fatal("klikoo is still paused")
	}
	if after := html.UnescapeString(b.get(resumed.Header.Get("Location")).Body); !strings.Contains(after, "klikoo is resumed") ||
		!strings.Contains(after, "klikoo → snapcart") {
		t.Errorf("after the resume the page does not say so or the route lacks klikoo first")
	}
	wantStatus(t, b.post("/console/providers", "/console/providers/nobody/pause", url.Values{}), http.StatusNotFound)
}

// A provider the health rule tripped (every Klikoo call refused) is shown
// as tripped.
func TestTrippedProviderIsShown(t *testing.T) {
	t.Parallel()
	e := setup(t, flowtest.Options{BadKlikooSecret: true}, nil)
	b := e.browser(t)
	b.signIn("admin", adminToken)
	if strings.Contains(b.get("/console/providers").Body, "<strong>tripped</strong>") {
		t.Fatal("klikoo is shown tripped before any call")
	}
	if _, _, err := e.Svc.Create(context.Background(), flow.CreateRequest{
		ClientID: e.ClientID, ReferenceID: "refused", ProductCode: "PLN20", CustomerNumber: "01105691111",
	}); err != nil {
		t.Fatal(err)
	}
	flowtest.WaitFor(t, 60*time.Second, func() string { return "klikoo never tripped" }, func() bool { return e.Svc.Tripped()[klikoo.Name] })
	page := b.get("/console/providers")
	row := page.Body[strings.Index(page.Body, `id="provider-klikoo"`):]
	if !strings.Contains(row[:strings.Index(row, "</tr>")], "<strong>tripped</strong>") {
		t.Fatalf("klikoo is not shown tripped: %s", row)
	}
}

// A purchase that failed over shows its route with the provider it left
// and every attempt (our reference, outcome, reason); the ended attempt's
// reference finds it in the search, and says so.
func TestFailedOverPurchasePage(t *testing.T) {
	t.Parallel()
	e := setup(t, flowtest.Options{}, nil)
	e.twoOffers(t)
	// Scenario 12: our deposit is short at both, so the purchase fails
	// over from Klikoo to Snapcart, then fails there.
	p := e.buy(t, "failed-over", bothCode, "081233339912", flow.StatusFailed)
	ended, err := e.Q.PurchaseAttemptList(context.Background(), p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if p.Provider != snapcart.Name || len(ended) != 1 || ended[0].ProviderReference == nil {
		t.Fatalf("the purchase did not fail over from klikoo with a reference: at %s, ended %+v", p.Provider, ended)
	}
	b := e.browser(t)
	b.signIn("admin", adminToken)
	page := b.get("/console/purchases/" + p.ID.String())
	wantStatus(t, page, http.StatusOK)
	body := compact(page.Body)
	for _, want := range []string{
		`<span class="route-tried">klikoo (tried)</span> → <span class="route-current">snapcart (current)</span>`,
		"<td>1</td><td>klikoo</td><td><code>S10</code></td><td><code>" + *ended[0].ProviderReference + "</code>",
		"<td>failed_over</td><td><code>" + ended[0].FailureCode + "</code>",
		"<td>2</td><td>snapcart</td><td><code>TSEL10</code></td><td><code>" + *p.ProviderReference + "</code>",
		"current: failed",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the purchase page lacks %q", want)
		}
	}
	found := b.get("/console/purchases?q=" + url.QueryEscape(*ended[0].ProviderReference))
	if !strings.Contains(found.Body, `href="/console/purchases/`+p.ID.String()+`"`) || !strings.Contains(found.Body, "<td>provider_reference of an ended attempt</td>") {
		t.Fatalf("the ended attempt's reference does not find the purchase: %s", found.Body)
	}
}

func ptr[T any](v T) *T { return &v }

var betweenTags = regexp.MustCompile(`>\s+<`)

// compact is a page's text unescaped, without the white space between tags.
func compact(body string) string {
	return betweenTags.ReplaceAllString(html.UnescapeString(body), "><")
}
