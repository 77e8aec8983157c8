package console_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ppob-orchestrator/orchestrator/internal/flow"
	"github.com/ppob-orchestrator/orchestrator/internal/flowtest"
)

// The Overview counts today's purchases by status and charts the last
// hour; Reconciliation shows the day's report linking to purchases and
// serves the daily totals as CSV; Providers shows deposits and each
// product's offers. Bad dates name their field.
func TestOverviewReconciliationProviders(t *testing.T) {
	t.Parallel()
	e := setup(t, flowtest.Options{}, nil)
	ok := e.buy(t, "report-1", "PLN20", "01105691111", flow.StatusSucceeded)
	e.buy(t, "report-2", "PLN20", "01105699911", flow.StatusFailed)
	e.Svc.CheckBalances(t.Context())
	b := e.browser(t)
	b.signIn("admin", adminToken)

	home := b.get("/console/")
	wantStatus(t, home, http.StatusOK)
	for _, want := range []string{`id="today-total">2<`, "max 2/min · 2 in the hour", "<td>klikoo</td>"} {
		if !strings.Contains(home.Body, want) {
			t.Errorf("the overview lacks %q", want)
		}
	}

	day := e.Clock.Now().In(time.FixedZone("WIB", 7*3600)).Format(time.DateOnly)
	rec := b.get("/console/reconciliation?from=" + day + "&to=" + day)
	wantStatus(t, rec, http.StatusOK)
	if !strings.Contains(rec.Body, `id="daily-totals"`) || !strings.Contains(rec.Body, "PLN20") {
		t.Fatalf("the report lacks today's totals: %s", rec.Body)
	}
	csv := b.get("/console/reconciliation/daily.csv?from=" + day + "&to=" + day)
	wantStatus(t, csv, http.StatusOK)
	want := "day,provider,product_code,succeeded,price_total,with_selling_price,selling_total,margin\n" +
		day + ",klikoo,PLN20,1," + strconv.FormatInt(*ok.Price, 10) + ",0,0,0\n"
	if csv.Body != want || !strings.HasPrefix(csv.Header.Get("Content-Type"), "text/csv") ||
		!strings.Contains(csv.Header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("CSV:\n%s\nwant:\n%s", csv.Body, want)
	}
	yesterday := b.get("/console/reconciliation/daily.csv?from=2000-01-01&to=2000-01-02")
	if strings.Count(yesterday.Body, "\n") != 1 {
		t.Fatalf("a range without successes has rows: %s", yesterday.Body)
	}
	bad := b.get("/console/reconciliation?from=2025-13-01&to=2025-01-01")
	wantStatus(t, bad, http.StatusUnprocessableEntity)
	if !strings.Contains(bad.Body, "from: must be a date") {
		t.Fatalf("bad date: %s", bad.Body)
	}
	wantStatus(t, b.get("/console/reconciliation?from=2025-02-01&to=2025-01-01"), http.StatusUnprocessableEntity)

	prov := b.get("/console/providers")
	wantStatus(t, prov, http.StatusOK)
	for _, want := range []string{`id="offers"`, `id="provider-klikoo"`, `id="provider-snapcart"`, `id="offer-PLN20-klikoo"`, "Rp "} {
		if !strings.Contains(prov.Body, want) {
			t.Errorf("the providers page lacks %q", want)
		}
	}
}
