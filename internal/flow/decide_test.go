package flow

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ppob-orchestrator/orchestrator/internal/providers"
	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

// The decisions are pure: their files import nothing that does I/O and call
// no clock and no randomness. A decision that needs the time, a fresh
// reference or what the database holds gets it as an argument.
func TestDecisionsArePure(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("decide*.go")
	if err != nil || len(files) < 7 {
		t.Fatalf("decision files: %v %v", files, err)
	}
	allowed := []string{"encoding/json", "fmt", "time", "slices",
		"github.com/ppob-orchestrator/orchestrator/internal/providers",
		"github.com/ppob-orchestrator/orchestrator/internal/store"}
	banned := map[string]bool{"time.Now": true, "time.Since": true, "time.Until": true, "time.Sleep": true, "time.After": true, "uuid.New": true, "uuid.NewString": true, "uuid.NewV7": true}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(token.NewFileSet(), f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range file.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if !slices.Contains(allowed, path) {
				t.Errorf("%s imports %s: decisions do no I/O", f, path)
			}
		}
		ast.Inspect(file, func(n ast.Node) bool {
			if sel, ok := n.(*ast.SelectorExpr); ok {
				if x, ok := sel.X.(*ast.Ident); ok && banned[x.Name+"."+sel.Sel.Name] {
					t.Errorf("%s calls %s.%s: a decision takes the time and randomness as arguments", f, x.Name, sel.Sel.Name)
				}
			}
			return true
		})
	}
}

var (
	t0    = time.Date(2026, 11, 30, 5, 0, 0, 0, time.UTC)
	rules = Rules{
		StatusDeadline: time.Hour, PaymentRepeatMinAge: 5 * time.Minute, InquiryTTL: 10 * time.Minute,
		InquiryRetryWindow: 5 * time.Minute, PriceRefreshWindow: 2 * time.Minute,
		LookupBackoff:     []time.Duration{5 * time.Second, 10 * time.Second, 30 * time.Second},
		ReviewLookupEvery: time.Hour, ReviewLookupFor: 7 * 24 * time.Hour,
		StepBackoff: 2 * time.Second, StepBackoffMax: 5 * time.Minute, FailoverRefusedAfter: 2 * time.Minute,
	}
	// byReference is a provider like Klikoo: random references, repeats
	// deduped and lookups made by our reference.
	byReference = providers.Policy{Name: "byref", PaymentReference: providers.ReferenceRandom, InquiryReference: providers.ReferenceRandom,
		Dedupe: providers.DedupeReference, LookupBy: providers.LookupByReference}
	// byRequestID is a provider like Snapcart: our purchase id as the
	// reference, repeats deduped and lookups made only by a request id.
	byRequestID = providers.Policy{Name: "byreq", PaymentReference: providers.ReferencePurchaseID, InquiryReference: providers.ReferencePurchaseID,
		Dedupe: providers.DedupeRequestID, LookupBy: providers.LookupByRequestID}
	fresh     = "6b1d0f4e-8a52-4c1e-9d0a-3f1f2b7c9e11"
	pid       = uuid.MustParse("0193a4f2-0000-7000-8000-000000000001")
	plnToken  = "12345678901234567890"
	plnSerial = plnToken + "/BAHARRUDIN/R1/2200VA/32.5"
)

// purchase is a purchase of product P in status, changed by mods.
func purchase(status Status, mods ...func(*store.Purchase)) store.Purchase {
	p := store.Purchase{
		ID: pid, Status: store.PurchaseStatus(status), ProductCode: "P", Provider: "byref", Family: string(providers.FamilyPulsa),
		Confirmation: "automatic", CreatedAt: t0.Add(-time.Minute), UpdatedAt: t0.Add(-time.Minute),
		Route: []string{"byref"}, Attempt: 1, AttemptStartedAt: t0.Add(-time.Minute), ProviderProductCode: "PC",
	}
	switch status {
	case StatusPaying, StatusProcessing, StatusNeedsReview, StatusSucceeded:
		p.Amount, p.ProviderReference, p.PaymentAttempts = ptr(int64(10150)), ptr("ref-1"), 1
		p.DeadlineAt = ptr(t0.Add(time.Hour))
		p.PaymentLastSentAt = ptr(t0.Add(-10 * time.Minute))
	}
	if status == StatusProcessing || status == StatusNeedsReview {
		p.PaymentUncertain = true
	}
	for _, m := range mods {
		m(&p)
	}
	return p
}

func pln(p *store.Purchase)      { p.Family = string(providers.FamilyPLNPrepaid) }
func manual(p *store.Purchase)   { p.Confirmation = "manual" }
func inFlight(p *store.Purchase) { p.PaymentInFlight = true }
func maxPrice(n int64) func(*store.Purchase) {
	return func(p *store.Purchase) { p.MaxPrice = ptr(n) }
}
func streak(n int32) func(*store.Purchase) {
	return func(p *store.Purchase) { p.NotFoundStreak = n }
}
func retryingSince(d time.Duration) func(*store.Purchase) {
	return func(p *store.Purchase) { p.RetrySince = ptr(t0.Add(-d)) }
}
func withRequestID(p *store.Purchase) {
	p.Inquiry = mustJSON(inquiryData{Amount: 10150, RequestID: "01JREQ"})
	p.ProviderRequestID = ptr("01JREQ")
}

// want is what a table row expects of a Step. Lists are compared whole:
// nil means none.
type want struct {
	status  Status
	moves   []string // status events, by name
	failure string
	jobs    []Job
	alerts  []string
	notes   []string
	snooze  bool
	call    bool
	refusal bool
	check   func(t *testing.T, st Step)
}

func (w want) verify(t *testing.T, name string, st Step) {
	t.Helper()
	if st.Err != nil {
		t.Errorf("%s: the decision asked for an impossible move: %v", name, st.Err)
		return
	}
	if got := Status(st.Purchase.Status); got != w.status {
		t.Errorf("%s: status %s, want %s", name, got, w.status)
	}
	if got := st.Events(); !slices.Equal(got, w.moves) {
		t.Errorf("%s: moves %v, want %v", name, got, w.moves)
	}
	if got := deref(st.Purchase.FailureCode); got != w.failure {
		t.Errorf("%s: failure %q, want %q", name, got, w.failure)
	}
	if !slices.Equal(st.Jobs, w.jobs) {
		t.Errorf("%s: jobs %+v, want %+v", name, st.Jobs, w.jobs)
	}
	var alerts, notes []string
	for _, a := range st.Alerts {
		alerts = append(alerts, a.Kind)
	}
	for _, n := range st.Notes {
		notes = append(notes, n.Name)
	}
	if !slices.Equal(alerts, w.alerts) {
		t.Errorf("%s: alerts %v, want %v", name, alerts, w.alerts)
	}
	if !slices.Equal(notes, w.notes) {
		t.Errorf("%s: notes %v, want %v", name, notes, w.notes)
	}
	if (st.Snooze > 0) != w.snooze {
		t.Errorf("%s: snooze %s, want snooze=%v", name, st.Snooze, w.snooze)
	}
	if st.Call != w.call {
		t.Errorf("%s: call %v, want %v", name, st.Call, w.call)
	}
	if (st.Refusal != "") != w.refusal {
		t.Errorf("%s: refusal %q, want refused=%v", name, st.Refusal, w.refusal)
	}
	for _, m := range st.Moves {
		if Status(m.Purchase.Status).Terminal() != (m.Purchase.CompletedAt != nil) {
			t.Errorf("%s: move %s leaves completed_at %v with status %s", name, m.Name, m.Purchase.CompletedAt, m.Purchase.Status)
		}
	}
	if w.check != nil {
		w.check(t, st)
	}
}

// The flow never names a provider: what it must know of one is that
// provider's Policy (a third aggregator touches only its package and the
// wiring).
func TestFlowNamesNoProvider(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(token.NewFileSet(), f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(file, func(n ast.Node) bool {
			if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING {
				v := strings.ToLower(lit.Value)
				if strings.Contains(v, "klikoo") || strings.Contains(v, "snapcart") {
					t.Errorf("%s names a provider: %s", f, lit.Value)
				}
			}
			return true
		})
	}
}
