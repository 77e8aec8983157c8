package console_test

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/ppob-orchestrator/orchestrator/internal/console"
	"github.com/ppob-orchestrator/orchestrator/internal/flow"
	"github.com/ppob-orchestrator/orchestrator/internal/flowtest"
	"github.com/ppob-orchestrator/orchestrator/internal/store"
	"github.com/ppob-orchestrator/orchestrator/internal/webhook"
)

// chromium finds Debian's chromium (or CHROMIUM). Without one the browser
// tests skip and say why, unless REQUIRE_BROWSER=1 (CI), where they fail.
func chromium(t *testing.T) string {
	t.Helper()
	candidates := []string{os.Getenv("CHROMIUM"), "chromium", "chromium-browser", "google-chrome"}
	for _, c := range candidates {
		if c == "" {
			continue
		}
		if p, err := exec.LookPath(c); err == nil {
			return p
		}
	}
	if os.Getenv("REQUIRE_BROWSER") == "1" {
		t.Fatal("REQUIRE_BROWSER=1 but no chromium on PATH (apt-get install chromium)")
	}
	t.Skip("no chromium on PATH: the browser tests need Debian's chromium (apt-get install chromium); set REQUIRE_BROWSER=1 to make this a failure")
	return ""
}

// tab is a headless Chromium tab for one test, with the console messages
// it logged (a CSP violation shows there).
type tab struct {
	t    *testing.T
	ctx  context.Context
	mu   sync.Mutex
	logs []string
}

func newTab(t *testing.T) *tab {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium(t)), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	ctx, cancelTime := context.WithTimeout(ctx, 4*time.Minute)
	t.Cleanup(func() { cancelTime(); cancelTab(); cancelAlloc() })
	tb := &tab{t: t, ctx: ctx}
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		if os.Getenv("REQUIRE_BROWSER") == "1" {
			t.Fatalf("chromium does not start: %v", err)
		}
		t.Skipf("chromium does not start (%v); set REQUIRE_BROWSER=1 to make this a failure", err)
	}
	go func() {
		for m, err := range chromedp.Console(ctx) {
			if err != nil {
				return
			}
			tb.mu.Lock()
			tb.logs = append(tb.logs, m.String())
			tb.mu.Unlock()
		}
	}()
	return tb
}

// do runs steps, failing the test with what.
func (b *tab) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

// signIn signs in at the console at base as name.
func (b *tab) signIn(base, name, token string) {
	b.t.Helper()
	b.do("sign in",
		chromedp.Navigate(base+"/console/signin"),
		chromedp.WaitVisible("#token"),
		chromedp.SendKeys("#name", name),
		chromedp.SendKeys("#token", token),
		chromedp.Click("#signin"),
		chromedp.WaitVisible("#per-minute"),
	)
}

// text returns the visible text of sel.
func (b *tab) text(sel string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Text(sel))
	if err != nil {
		b.t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

// shot saves a screenshot of the page as docs/console/name.png when
// CONSOLE_SCREENSHOTS=1 (so that make test leaves the tree clean).
func (b *tab) shot(name string) {
	b.t.Helper()
	if os.Getenv("CONSOLE_SCREENSHOTS") != "1" {
		return
	}
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	dir := filepath.Join("..", "..", "docs", "console")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// cspViolations returns the console messages that report a blocked
// script or style.
func (b *tab) cspViolations() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, l := range b.logs {
		if strings.Contains(l, "Content Security Policy") {
			out = append(out, l)
		}
	}
	return out
}

// An operator in a real browser: signs in, finds a purchase by its
// reference, opens its timeline, sees a refused resolve's reason, resolves
// a needs_review purchase and sees it leave the queue, and opens River UI
// and sees a job. No page breaks the CSP. The screenshots of docs/console.md
// come from here.
func TestBrowserOperatorJourney(t *testing.T) {
	t.Parallel()
	chromium(t)
	ops := map[string]string{"ana": "ana-browser-token-0123456789"}
	e := setup(t, flowtest.Options{}, func(c *console.Config) { c.Operators = operators(ops) })
	e.endpoint(t, newReceiver(t, http.StatusNoContent, false).URL) // the timeline shows its deliveries
	bought := e.buy(t, "browser-1", "PLN20", "01105691111", flow.StatusSucceeded)
	e.buy(t, "browser-2", "TSEL10", "0812330000", flow.StatusSucceeded)
	e.buy(t, "browser-3", "PLN20", "01105699911", flow.StatusFailed)
	review := e.needsReview(t, "browser-review")
	e.Svc.CheckBalances(context.Background())

	b := newTab(t)
	b.do("sign in",
		chromedp.Navigate(e.URL+"/console/"),
		chromedp.WaitVisible("#token"),
		chromedp.SendKeys("#name", "ana"),
		chromedp.SendKeys("#token", ops["ana"]),
		chromedp.Click("#signin"),
		chromedp.WaitVisible("#per-minute"),
	)
	if got := b.text("#operator"); got != "ana" {
		t.Fatalf("signed in as %q", got)
	}
	b.shot("overview")

	b.do("search by reference",
		chromedp.Navigate(e.URL+"/console/purchases"),
		chromedp.WaitVisible("#q"),
		chromedp.SendKeys("#q", "browser-1"),
	)
	// htmx searches as the operator types, without a page load.
	if _, err := chromedp.Run(b.ctx, chromedp.Poll[bool](`document.querySelectorAll("#purchases a.ref").length === 1 && document.querySelector("#purchases a.ref").textContent === "browser-1"`,
		chromedp.WithPollingTimeout(30*time.Second))); err != nil {
		t.Fatalf("the search did not narrow to browser-1: %v", err)
	}
	b.shot("purchases")
	b.do("open the timeline", chromedp.Click("#purchases a.ref"), chromedp.WaitVisible("#timeline"))
	if loc, _ := chromedp.Run(b.ctx, chromedp.Location()); !strings.HasSuffix(loc, "/console/purchases/"+bought.ID.String()) {
		t.Fatalf("opened %s", loc)
	}
	e.settled(t, bought.ID)
	b.do("reload the timeline", chromedp.Reload(), chromedp.WaitVisible("#timeline"))
	if tl := b.text("#timeline"); !strings.Contains(tl, "payment") || !strings.Contains(tl, "succeeded") || !strings.Contains(tl, "purchase.succeeded") {
		t.Fatalf("the timeline lacks the payment, the success or its webhook delivery: %s", tl)
	}
	b.shot("purchase")

	form := "#resolve-" + review.ID.String()
	b.do("a refused resolve",
		chromedp.Navigate(e.URL+"/console/review"),
		chromedp.WaitVisible(form),
		chromedp.Click(form+` input[value="failed"]`),
		chromedp.SendKeys(form+` textarea[name="note"]`, "customer says nothing arrived"),
		chromedp.Click(form+` button[type="submit"]`),
		chromedp.WaitVisible("#problem"),
	)
	if p := b.text("#problem"); !strings.Contains(p, "resolve as failed only with force") {
		t.Fatalf("the refusal's reason is not shown: %q", p)
	}
	b.shot("review")
	b.do("a forced resolve",
		chromedp.Click(form+` input[value="failed"]`),
		chromedp.Click(form+` input[name="force"]`),
		chromedp.Click(form+` button[type="submit"]`),
		chromedp.WaitVisible("#resolved"),
		chromedp.WaitVisible("#empty"),
	)
	if got := e.Purchase(t, review.ID).Status; got != "failed" {
		t.Fatalf("resolved purchase is %s", got)
	}

	b.do("reconciliation", chromedp.Navigate(e.URL+"/console/reconciliation"), chromedp.WaitVisible("#verdict"))
	b.shot("reconciliation")
	b.do("providers", chromedp.Navigate(e.URL+"/console/providers"), chromedp.WaitVisible("#offers"))
	if v := b.cspViolations(); len(v) > 0 {
		t.Fatalf("the console's pages broke their CSP: %v", v)
	}

	b.do("River UI", chromedp.Navigate(e.URL+"/console/river/jobs?state=completed"))
	if _, err := chromedp.Run(b.ctx, chromedp.Poll[bool](`document.body.innerText.includes("purchase_payment")`,
		chromedp.WithPollingTimeout(60*time.Second))); err != nil {
		t.Fatalf("River UI does not show the purchases' jobs: %v", err)
	}
	b.shot("jobs")
}

// With JavaScript off, an operator still signs in, searches (the form
// submits), and opens a purchase.
func TestBrowserWithoutJavaScript(t *testing.T) {
	t.Parallel()
	chromium(t)
	e := setup(t, flowtest.Options{}, nil)
	e.buy(t, "nojs-1", "PLN20", "01105691111", flow.StatusSucceeded)
	b := newTab(t)
	if _, err := chromedp.Call(b.ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
		t.Fatal(err)
	}
	b.do("sign in",
		chromedp.Navigate(e.URL+"/console/signin"),
		chromedp.WaitVisible("#token"),
		chromedp.SendKeys("#name", "admin"),
		chromedp.SendKeys("#token", adminToken),
		chromedp.Click("#signin"),
		chromedp.WaitVisible("#per-minute"),
		chromedp.Navigate(e.URL+"/console/purchases"),
		chromedp.WaitVisible("#q"),
		chromedp.SendKeys("#q", "nojs-1"),
		chromedp.Click("#search"),
		// The unsearched list shows nojs-1 too: wait for the results page.
		chromedp.WaitVisible("#matched"),
		chromedp.Click("#purchases a.ref"),
		chromedp.WaitVisible("#timeline"),
	)
	if h := b.text("h1"); h != "Purchase nojs-1" {
		t.Fatalf("opened %q", h)
	}
}

// An operator pauses Klikoo in the Providers page of a real browser; a
// purchase of a product both providers sell, created through the flow
// then, routes around it, and its Purchase page shows it at Snapcart.
func TestBrowserPauseAProviderAndSeeAPurchaseRouteAroundIt(t *testing.T) {
	t.Parallel()
	chromium(t)
	ops := map[string]string{"ana": "ana-browser-token-0123456789"}
	e := setup(t, flowtest.Options{}, func(c *console.Config) { c.Operators = operators(ops) })
	e.twoOffers(t)
	e.Svc.CheckBalances(context.Background())

	b := newTab(t)
	b.signIn(e.URL, "ana", ops["ana"])
	b.do("pause klikoo",
		chromedp.Navigate(e.URL+"/console/providers"),
		chromedp.WaitVisible("#pause-klikoo"),
		chromedp.Click("#pause-klikoo"),
		chromedp.WaitVisible("#done"),
		chromedp.WaitVisible("#resume-klikoo"),
	)
	if done := b.text("#done"); !strings.Contains(done, "klikoo is paused") {
		t.Fatalf("the page does not say klikoo is paused: %q", done)
	}
	if state := b.text("#provider-klikoo .state"); !strings.HasPrefix(state, "paused") {
		t.Fatalf("klikoo's state: %q", state)
	}
	b.shot("providers")

	p := e.buy(t, "browser-routed-around", bothCode, "081233330000", flow.StatusSucceeded)
	b.do("open the purchase", chromedp.Navigate(e.URL+"/console/purchases/"+p.ID.String()), chromedp.WaitVisible("#attempts"))
	if route := b.text("#route"); !strings.Contains(route, "snapcart (current)") || strings.Contains(route, "klikoo") {
		t.Fatalf("the purchase did not route around klikoo: %q", route)
	}
	if attempts := b.text("#attempts"); !strings.Contains(attempts, "snapcart") || strings.Contains(attempts, "klikoo") {
		t.Fatalf("the attempts: %q", attempts)
	}
	if v := b.cspViolations(); len(v) > 0 {
		t.Fatalf("the pages broke their CSP: %v", v)
	}
}

// A client's endpoint fails, so a purchase's deliveries end failed (a
// short retry schedule); the operator sees them in the Webhooks page of a
// real browser, the endpoint is fixed, the operator sends one again and
// sees it delivered, with their name, in the purchase's timeline.
func TestBrowserRetryAFailedWebhookDelivery(t *testing.T) {
	t.Parallel()
	chromium(t)
	ops := map[string]string{"ana": "ana-browser-token-0123456789"}
	e := setup(t, flowtest.Options{}, func(c *console.Config) { c.Operators = operators(ops) })
	rc := newReceiver(t, http.StatusInternalServerError, false)
	e.endpoint(t, rc.URL)
	p := e.buy(t, "browser-hook", "PLN20", "01105691111", flow.StatusSucceeded)
	failed := e.waitDeliveries(t, p.ID, 2, store.WebhookMessageStatusFailed)
	wid := webhook.WebhookID(failed[len(failed)-1].ID)

	b := newTab(t)
	b.signIn(e.URL, "ana", ops["ana"])
	b.do("the failed deliveries", chromedp.Navigate(e.URL+"/console/webhooks"), chromedp.WaitVisible("#retry-"+wid))
	if row := b.text("#failed-" + wid); !strings.Contains(row, "browser-hook") || !strings.Contains(row, "HTTP 500") {
		t.Fatalf("the failed delivery's row: %q", row)
	}
	b.shot("webhooks")

	rc.status.Store(http.StatusNoContent)
	b.do("send it again", chromedp.Click("#retry-"+wid), chromedp.WaitVisible("#retried"))
	flowtest.WaitFor(t, 60*time.Second, func() string { return "the delivery sent again is not delivered" }, func() bool {
		return e.deliveries(t, p.ID)[1].Status == store.WebhookMessageStatusDelivered
	})
	b.do("the purchase's timeline", chromedp.Navigate(e.URL+"/console/purchases/"+p.ID.String()), chromedp.WaitVisible("#delivery-"+wid))
	if d := b.text("#delivery-" + wid); !strings.HasPrefix(d, "delivered") || !strings.Contains(d, "Sent again by ana") {
		t.Fatalf("the timeline does not show the delivery sent again by ana: %q", d)
	}
	if v := b.cspViolations(); len(v) > 0 {
		t.Fatalf("the pages broke their CSP: %v", v)
	}
}
