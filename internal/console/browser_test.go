package console_test

import (
	"context"
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
	if tl := b.text("#timeline"); !strings.Contains(tl, "payment") || !strings.Contains(tl, "succeeded") {
		t.Fatalf("the timeline lacks the payment and the success: %s", tl)
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
	b.shot("providers")
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
