package console_test

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ppob-orchestrator/orchestrator/internal/console"
	"github.com/ppob-orchestrator/orchestrator/internal/console/bigtable"
	"github.com/ppob-orchestrator/orchestrator/internal/flow"
	"github.com/ppob-orchestrator/orchestrator/internal/flowtest"
	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

// buy creates a purchase through the flow and waits until it reaches one
// of the statuses.
func (e *env) buy(t testing.TB, ref, product, customer string, statuses ...flow.Status) store.Purchase {
	t.Helper()
	p, _, err := e.Svc.Create(context.Background(), flow.CreateRequest{
		ClientID: e.ClientID, ReferenceID: ref, ProductCode: product, CustomerNumber: customer, AllowRepeat: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	flowtest.WaitFor(t, 60*time.Second, func() string { return fmt.Sprintf("%s is %s", ref, e.Purchase(t, p.ID).Status) }, func() bool {
		st := flow.Status(e.Purchase(t, p.ID).Status)
		for _, s := range statuses {
			if st == s {
				return true
			}
		}
		return false
	})
	return e.Purchase(t, p.ID)
}

// needsReview buys a purchase the provider leaves pending forever (scenario
// 41) and moves it past its deadline into needs_review.
func (e *env) needsReview(t testing.TB, ref string) store.Purchase {
	t.Helper()
	p := e.buy(t, ref, "S10", "081211119941", flow.StatusProcessing)
	e.Clock.Advance(2 * time.Hour) // past flowtest's one-hour STATUS_DEADLINE
	flowtest.WaitFor(t, 60*time.Second, func() string { return string(e.Purchase(t, p.ID).Status) }, func() bool {
		return e.Purchase(t, p.ID).Status == store.PurchaseStatusNeedsReview
	})
	return e.Purchase(t, p.ID)
}

// The Needs review page lists the queue with each purchase's last answers
// and a resolve form. A resolve the rules refuse (failed while the
// provider says pending, without force) shows its reason and changes
// nothing; bad input names its field; a forced failure with a note
// resolves it, audited with the operator's name, and it leaves the queue.
func TestResolveFromTheQueue(t *testing.T) {
	t.Parallel()
	ops := map[string]string{"ana": "ana-token-0123456789"}
	e := setup(t, flowtest.Options{}, func(c *console.Config) { c.Operators = operators(ops) })
	p := e.needsReview(t, "review-1")
	b := e.browser(t)
	b.signIn("ana", ops["ana"])
	queue := b.get("/console/review")
	wantStatus(t, queue, http.StatusOK)
	if !strings.Contains(queue.Body, "review-1") || !strings.Contains(queue.Body, `id="resolve-`+p.ID.String()) {
		t.Fatalf("the queue does not list the purchase with its form: %s", queue.Body)
	}
	if !strings.Contains(queue.Body, "<td>lookup</td><td>pending</td>") {
		t.Fatalf("the queue does not show the last provider answers: %s", queue.Body)
	}
	path := "/console/purchases/" + p.ID.String() + "/resolve"

	refused := b.post("/console/review", path, url.Values{"status": {"failed"}, "note": {"customer says nothing arrived"}, "back": {"review"}})
	wantStatus(t, refused, http.StatusConflict)
	if !strings.Contains(refused.Body, "the provider says pending; resolve as failed only with force and a note") {
		t.Fatalf("the refusal's reason is not shown: %s", refused.Body)
	}
	if !strings.Contains(refused.Body, "customer says nothing arrived") {
		t.Fatal("the refused form lost its note")
	}
	bad := b.post("/console/review", path, url.Values{"status": {"succeeded"}, "back": {"review"}})
	wantStatus(t, bad, http.StatusUnprocessableEntity)
	if !strings.Contains(bad.Body, "note: is required") || !strings.Contains(bad.Body, "serial_number: is required") {
		t.Fatalf("bad input does not name its fields: %s", bad.Body)
	}
	if e.Purchase(t, p.ID).Status != store.PurchaseStatusNeedsReview {
		t.Fatal("a refused resolve changed the purchase")
	}

	done := b.post("/console/review", path, url.Values{"status": {"failed"}, "note": {"provider confirmed by phone"}, "force": {"on"}, "back": {"review"}})
	wantStatus(t, done, http.StatusSeeOther)
	after := b.get(done.Header.Get("Location"))
	if !strings.Contains(after.Body, "resolved as failed") || strings.Contains(after.Body, "review-1") && strings.Contains(after.Body, `id="item-`) {
		t.Fatalf("the purchase did not leave the queue: %s", after.Body)
	}
	got := e.Purchase(t, p.ID)
	if got.Status != store.PurchaseStatusFailed || *got.FailureCode != "resolved_by_operator" {
		t.Fatalf("resolved: %s %v", got.Status, got.FailureCode)
	}
	events, err := e.Q.EventListByPurchase(context.Background(), p.ID)
	if err != nil {
		t.Fatal(err)
	}
	audited := 0
	for _, ev := range events {
		var data struct{ Operator string }
		if err := json.Unmarshal(ev.Data, &data); err != nil {
			t.Fatal(err)
		}
		if (ev.Name == "resolved" || ev.Name == "resolve_requested") && data.Operator == "ana" {
			audited++
		}
	}
	if audited < 3 { // the refused request, the forced one, and the change itself
		t.Fatalf("the operator's name is in %d audit events, want 3", audited)
	}
	page := b.get("/console/purchases/" + p.ID.String())
	if !strings.Contains(page.Body, "resolve_requested") || !strings.Contains(page.Body, "provider confirmed by phone") {
		t.Fatalf("the purchase's timeline lacks the resolve: %s", page.Body)
	}
}

// Search finds a purchase by each identifier an operator may hold, and
// says which field matched; the purchase's page shows its fields and its
// timeline of status changes and provider calls, bodies included.
func TestSearchEveryFieldAndTimeline(t *testing.T) {
	t.Parallel()
	e := setup(t, flowtest.Options{}, nil)
	p := e.buy(t, "search-1", "PLN20", "01105691111", flow.StatusSucceeded)
	other := e.buy(t, "search-2", "PLN20", "01105692222", flow.StatusSucceeded, flow.StatusFailed)
	var result struct {
		SerialNumber string `json:"serial_number"`
		Token        string `json:"token"`
	}
	if err := json.Unmarshal(p.Result, &result); err != nil || result.Token == "" || p.ProviderReference == nil || p.ProviderTransactionID == nil {
		t.Fatalf("the purchase lacks what the test searches for: %+v %s", p, p.Result)
	}
	b := e.browser(t)
	b.signIn("admin", adminToken)
	for field, term := range map[string]string{
		"reference_id": "search-1", "purchase_id": p.ID.String(), "customer_number": "0110-569 1111",
		"provider_reference": *p.ProviderReference, "provider_transaction_id": *p.ProviderTransactionID,
		"serial_number": result.SerialNumber, "token": result.Token,
	} {
		res := b.get("/console/purchases?q=" + url.QueryEscape(term))
		wantStatus(t, res, http.StatusOK)
		if !strings.Contains(res.Body, `href="/console/purchases/`+p.ID.String()+`"`) || strings.Contains(res.Body, other.ID.String()) {
			t.Fatalf("search by %s (%q) does not find exactly the purchase: %s", field, term, res.Body)
		}
		if !strings.Contains(res.Body, "<td>"+field) {
			t.Fatalf("search by %s does not say what matched: %s", field, res.Body)
		}
	}
	none := b.get("/console/purchases?q=search-1&status=failed")
	if !strings.Contains(none.Body, `id="none"`) {
		t.Fatalf("the status filter did not apply to the search: %s", none.Body)
	}
	bad := b.get("/console/purchases?status=lost&from=yesterday&client=me")
	wantStatus(t, bad, http.StatusUnprocessableEntity)
	for _, f := range []string{"status:", "from:", "client:"} {
		if !strings.Contains(bad.Body, f) {
			t.Fatalf("the error does not name %s: %s", f, bad.Body)
		}
	}

	page := b.get("/console/purchases/" + p.ID.String())
	wantStatus(t, page, http.StatusOK)
	for _, want := range []string{"start_inquiry", "inquiry: succeeded", "payment:", "lookup:", "received → inquiring",
		"request and response (redacted)", *p.ProviderReference, result.Token} {
		if !strings.Contains(page.Body, html.EscapeString(want)) {
			t.Errorf("the purchase page lacks %q", want)
		}
	}
	wantStatus(t, b.get("/console/purchases/"+uuid.NewString()), http.StatusNotFound)
	wantStatus(t, b.get("/console/purchases/not-an-id"), http.StatusNotFound)
}

// The list is newest first in keyset pages of 50 that neither skip nor
// repeat a purchase, filtered by status, client and days.
func TestListPagesAndFilters(t *testing.T) {
	t.Parallel()
	e := setup(t, flowtest.Options{NoStart: true}, nil)
	newest := time.Date(2025, 11, 30, 10, 0, 0, 0, time.UTC)
	if err := bigtable.Fill(context.Background(), e.Pool, bigtable.FillOptions{
		ClientID: e.ClientID, Prefix: "list", Product: "PLN20", Provider: "klikoo", Family: "pln_prepaid",
		N: 120, Newest: newest, Step: 30 * time.Minute,
	}); err != nil {
		t.Fatal(err)
	}
	b := e.browser(t)
	b.signIn("admin", adminToken)
	refRe := regexp.MustCompile(`class="ref" href="/console/purchases/[^"]+">([^<]+)<`)
	var seen []string
	next := "/console/purchases?client=" + e.ClientID.String()
	for pages := 0; next != ""; pages++ {
		if pages > 3 {
			t.Fatal("more pages than purchases")
		}
		p := b.get(next)
		wantStatus(t, p, http.StatusOK)
		for _, m := range refRe.FindAllStringSubmatch(p.Body, -1) {
			seen = append(seen, m[1])
		}
		next = ""
		if m := regexp.MustCompile(`id="next" href="([^"]+)"`).FindStringSubmatch(p.Body); m != nil {
			next = strings.ReplaceAll(m[1], "&amp;", "&")
		}
	}
	if len(seen) != 120 {
		t.Fatalf("%d purchases over the pages, want 120", len(seen))
	}
	for i, ref := range seen {
		if ref != fmt.Sprintf("list0-%d", i+1) {
			t.Fatalf("row %d is %s: not newest first without gaps", i, ref)
		}
	}
	failed := b.get("/console/purchases?status=failed")
	if n := len(refRe.FindAllString(failed.Body, -1)); n != 12 {
		t.Fatalf("%d failed purchases listed, want 12", n)
	}
	// 2025-11-30 in WIB is 2025-11-29T17:00Z to 2025-11-30T17:00Z: the
	// newest 34 (09:30Z back to 17:00Z the day before, every 30 minutes).
	day := b.get("/console/purchases?from=2025-11-30&to=2025-11-30")
	if n := len(refRe.FindAllString(day.Body, -1)); n != 34 {
		t.Fatalf("%d purchases on 2025-11-30 WIB, want 34", n)
	}
}
