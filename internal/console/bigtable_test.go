package console_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ppob-orchestrator/orchestrator/internal/console"
	"github.com/ppob-orchestrator/orchestrator/internal/console/bigtable"
	"github.com/ppob-orchestrator/orchestrator/internal/dbtest"
	"github.com/ppob-orchestrator/orchestrator/internal/flowtest"
)

// bigEnv is the console over a purchases table big enough that PostgreSQL
// would scan it whole where no index serves a search; one purchase in five
// failed over from Snapcart, and each sent a webhook delivery to Endpoint.
type bigEnv struct {
	*env
	rec      *dbtest.Recorder
	Endpoint uuid.UUID
}

func setupBig(t testing.TB, n int) *bigEnv {
	t.Helper()
	rec := &dbtest.Recorder{}
	var tracedPool *pgxpool.Pool
	e := setup(t, flowtest.Options{NoStart: true}, func(c *console.Config) {
		cfg := c.Pool.Config()
		cfg.ConnConfig.Tracer = rec
		pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(pool.Close)
		tracedPool = pool
		c.Pool = pool
	})
	ep, _ := e.endpoint(t, "http://127.0.0.1:9/hooks")
	if err := bigtable.Fill(context.Background(), tracedPool, bigtable.FillOptions{
		ClientID: e.ClientID, Prefix: "big", Product: "PLN20", Provider: "klikoo", Family: "pln_prepaid",
		N: n, Newest: e.Clock.Now(), Step: time.Minute, FailedOverFrom: "snapcart", Endpoint: &ep.ID,
	}); err != nil {
		t.Fatal(err)
	}
	rec.Take()
	return &bigEnv{env: e, rec: rec, Endpoint: ep.ID}
}

// explain returns the plan of a recorded statement, as JSON text.
func (b *bigEnv) explain(t testing.TB, r dbtest.Statement) string {
	t.Helper()
	var plan string
	if err := b.Pool.QueryRow(context.Background(), "EXPLAIN (FORMAT JSON) "+r.SQL, r.Args...).Scan(&plan); err != nil {
		t.Fatalf("explain %s: %v", r.SQL, err)
	}
	return plan
}

// planOf finds the recorded statement named query (sqlc's "-- name:" line)
// and returns its plan.
func (b *bigEnv) planOf(t testing.TB, calls []dbtest.Statement, query string) string {
	t.Helper()
	for _, c := range calls {
		if strings.HasPrefix(c.SQL, "-- name: "+query+" ") {
			return b.explain(t, c)
		}
	}
	t.Fatalf("the console did not run %s", query)
	return ""
}

// indexes lists the indexes a JSON plan scans, and whether it scans a
// table sequentially.
func indexes(t testing.TB, plan string) (used map[string]bool, seqScan []string) {
	t.Helper()
	r := dbtest.PlanReads(t, plan)
	return r.Index, r.Seq
}

// On 50,000 purchases (ANALYZEd), every search field and every list of the
// console is served by its index (migrations/00007_console.sql and
// migrations/00013_storage.sql), never by
// a scan of the whole table: EXPLAIN of the exact statements the pages
// sent, with their arguments.
func TestSearchesUseIndexesOnABigTable(t *testing.T) {
	t.Parallel()
	b := setupBig(t, 50_000)
	br := b.browser(t)
	br.signIn("admin", adminToken)

	search := func(term, want string) []dbtest.Statement {
		t.Helper()
		p := br.get("/console/purchases?q=" + url.QueryEscape(term))
		wantStatus(t, p, http.StatusOK)
		if !strings.Contains(p.Body, ">"+want+"<") {
			t.Fatalf("search %q does not find %s", term, want)
		}
		return b.rec.Take()
	}
	all := []string{"purchases_client_reference", "purchases_customer_number", "purchases_provider_reference",
		"purchases_provider_transaction", "purchases_serial_number", "purchases_token",
		"purchase_attempts_reference", "purchase_attempts_transaction"}
	for term, want := range map[string]string{"big0-4321": "big0-4321", "080000004321": "big0-4321", "big0-sn-4321": "big0-4321",
		"big0-aref-4320": "big0-4320", "big0-atx-4320": "big0-4320"} {
		calls := search(term, want)
		used, seq := indexes(t, b.planOf(t, calls, "PurchaseSearchMatches"))
		for _, idx := range all {
			if !used[idx] {
				t.Errorf("search %q: %s is not used: %v", term, idx, used)
			}
		}
		// The clients, a handful, are read whole: a reference_id is looked
		// up under each in purchases_client_reference.
		if seq = slices.DeleteFunc(seq, func(s string) bool { return s == "clients" }); len(seq) > 0 {
			t.Errorf("search %q scans %v whole", term, seq)
		}
		if used, seq := indexes(t, b.planOf(t, calls, "PurchaseListByIDs")); !used["purchases_pkey"] || len(seq) > 0 {
			t.Errorf("listing the matches: %v, seq %v", used, seq)
		}
	}
	// A purchase id also goes through the primary key, a webhook-id
	// through the messages' one.
	wantStatus(t, br.get("/console/purchases?q=01a22b24-6739-7a1f-aaf7-ad53acd1e545"), http.StatusOK)
	if used, _ := indexes(t, b.planOf(t, b.rec.Take(), "PurchaseSearchMatches")); !used["purchases_pkey"] {
		t.Errorf("search by purchase id does not use the primary key: %v", used)
	}
	m := regexp.MustCompile(`href="/console/purchases/([0-9a-f-]{36})"`).FindStringSubmatch(br.get("/console/purchases?q=big0-4350").Body)
	b.rec.Take()
	if m == nil {
		t.Fatal("big0-4350 not found")
	}
	page := br.get("/console/purchases/" + m[1])
	wantStatus(t, page, http.StatusOK)
	calls := b.rec.Take()
	if used, seq := indexes(t, b.planOf(t, calls, "WebhookMessageListForPurchase")); !used["webhook_messages_purchase"] || len(seq) > 0 {
		t.Errorf("a purchase's deliveries: %v, seq %v", used, seq)
	}
	if used, seq := indexes(t, b.planOf(t, calls, "PurchaseAttemptList")); !used["purchase_attempts_pkey"] || len(seq) > 0 {
		t.Errorf("a purchase's attempts: %v, seq %v", used, seq)
	}
	wid := regexp.MustCompile(`msg_[0-9a-f-]{36}`).FindString(page.Body)
	search(wid, "big0-4350")
	wantStatus(t, br.get("/console/purchases?q="+wid), http.StatusOK)
	if used, _ := indexes(t, b.planOf(t, b.rec.Take(), "PurchaseSearchMatches")); !used["webhook_messages_pkey"] {
		t.Errorf("search by webhook-id does not use the messages' primary key: %v", used)
	}

	// The Webhooks page's failures across clients and an endpoint's
	// history read their index, never the messages whole.
	for _, c := range []struct{ path, query, index string }{
		{"/console/webhooks", "WebhookMessageListFailed", "webhook_messages_failed_newest"},
		{"/console/webhooks?client=" + b.ClientID.String(), "WebhookMessageListFailed", "webhook_messages_failed_newest"},
		{"/console/webhooks/endpoints/" + b.Endpoint.String(), "WebhookMessageListForEndpoint", "webhook_messages_client_created"},
		{"/console/webhooks/endpoints/" + b.Endpoint.String() + "?cursor=" + cursorFor(t, br, b.Endpoint), "WebhookMessageListForEndpoint",
			"webhook_messages_client_created"},
	} {
		p := br.get(c.path)
		wantStatus(t, p, http.StatusOK)
		used, seq := indexes(t, b.planOf(t, b.rec.Take(), c.query))
		if len(seq) > 0 || !used[c.index] {
			t.Errorf("%s: %s uses %v (want %s) and scans %v whole", c.path, c.query, used, c.index, seq)
		}
	}

	for path, queries := range map[string][]string{
		"/console/purchases":                               {"PurchaseListNewest"},
		"/console/purchases?status=failed":                 {"PurchaseListNewest"},
		"/console/purchases?from=2025-01-01&to=2025-01-02": {"PurchaseListNewest"},
		"/console/":       {"PurchaseCountByStatusSince", "PurchasePerMinuteSince", "PurchaseAttentionCounts"},
		"/console/review": {"PurchaseReviewQueue"},
	} {
		wantStatus(t, br.get(path), http.StatusOK)
		calls := b.rec.Take()
		for _, q := range queries {
			if _, seq := indexes(t, b.planOf(t, calls, q)); len(seq) > 0 && containsPurchases(seq) {
				t.Errorf("%s: %s scans purchases whole", path, q)
			}
		}
	}
}

// cursorFor is the cursor of an endpoint page's "older deliveries" link.
func cursorFor(t testing.TB, br *browser, endpoint uuid.UUID) string {
	t.Helper()
	next := nextPage(t, br.get("/console/webhooks/endpoints/"+endpoint.String()))
	u, err := url.Parse(next)
	if err != nil {
		t.Fatal(err)
	}
	return url.QueryEscape(u.Query().Get("cursor"))
}

func containsPurchases(tables []string) bool {
	for _, t := range tables {
		if t == "purchases" {
			return true
		}
	}
	return false
}

// BenchmarkPagesOnAMillionPurchases measures the console's pages on
// 1,000,000 purchases (docs/console.md "Fast on a big table"): each op is
// one page, rendered whole over HTTP. Run it alone, on a quiet machine:
//
//	go run ./internal/tools/withpg -- go test -run '^$' -bench PagesOnAMillion -benchtime 50x ./internal/console/
//
// Filling the table takes about a minute and is not measured.
func BenchmarkPagesOnAMillionPurchases(b *testing.B) {
	e := setupBig(b, 1_000_000)
	br := e.browser(b)
	br.signIn("admin", adminToken)
	var p page
	for p.Status == 0 {
		p = br.get("/console/purchases?q=big5-77")
	}
	m := regexp.MustCompile(`href="(/console/purchases/[0-9a-f-]{36})"`).FindStringSubmatch(p.Body)
	if m == nil {
		b.Fatalf("big5-77 not found: %s", p.Body)
	}
	for _, c := range []struct{ name, path string }{
		{"overview", "/console/"},
		{"purchases", "/console/purchases"},
		{"purchases_failed_page_2", nextPage(b, br.get("/console/purchases?status=failed"))},
		{"search_reference", "/console/purchases?q=big3-12345"},
		{"search_customer", "/console/purchases?q=080000012345"},
		{"search_token", "/console/purchases?q=" + strings.Repeat("7", 15) + "12345"},
		{"purchase", m[1]},
		{"review", "/console/review"},
		{"webhooks", "/console/webhooks"},
		{"endpoint", "/console/webhooks/endpoints/" + e.Endpoint.String()},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if got := br.get(c.path); got.Status != http.StatusOK {
					b.Fatalf("%s: %d", c.path, got.Status)
				}
			}
		})
	}
}

// nextPage is the "older purchases" link of a list page.
func nextPage(t testing.TB, p page) string {
	m := regexp.MustCompile(`id="next" href="([^"]+)"`).FindStringSubmatch(p.Body)
	if m == nil {
		t.Fatalf("no next page: %s", p.Body)
	}
	return strings.ReplaceAll(m[1], "&amp;", "&")
}
