package flow_test

// The eleven defects of issue 12, each as the behaviour docs/flow.md and
// docs/invariants.md ask for, end to end through the flow's public surface.
// Each test fails on the code the issue was filed against, for the reason the
// issue gives.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ppob-orchestrator/orchestrator/internal/flow"
	"github.com/ppob-orchestrator/orchestrator/internal/flowtest"
	"github.com/ppob-orchestrator/orchestrator/internal/providers/klikoo"
	"github.com/ppob-orchestrator/orchestrator/internal/providers/simkit"
	"github.com/ppob-orchestrator/orchestrator/internal/providers/snapcart"
	"github.com/ppob-orchestrator/orchestrator/internal/sandbox"
	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

// jobErrors returns the errors River recorded for the purchase's jobs of
// kind ("" for any).
func jobErrors(t *testing.T, b *flowtest.Env, id fmt.Stringer, kind string) []string {
	t.Helper()
	rows, err := b.Pool.Query(context.Background(), `SELECT e->>'error' FROM river_job, jsonb_array_elements(to_jsonb(errors)) e
		WHERE args->>'purchase_id' = $1 AND ($2 = '' OR kind = $2)`, id.String(), kind)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Defect 1 (chaos-001205, PLN20, scenario 24): the payment call is in
// flight; Klikoo's unauthenticated REFUND callback triggers a lookup that
// answers SUCCESS for our reference, product and amount; the payment call
// then times out. That verified answer completes the purchase in paying
// exactly as a signed callback does (the payment job then finds it moved),
// and the earlier REFUND is a contradiction.
func TestDefect1SuccessHeardWhilePaying(t *testing.T) {
	t.Parallel()
	wire := &flowtest.Wire{}
	b := flowtest.Setup(t, flowtest.Options{Intercept: wire.Intercept, ProviderTimeout: 20 * time.Second})
	payment := wire.HoldNext(klikoo.Name, flowtest.OpPayment, nil)
	t.Cleanup(func() { payment.Release(false) })
	p := buy(t, b, "defect-1", sandbox.KindNamed("klikoo-pln"), "24")
	payment.Wait(t, settle)
	// Klikoo accepted the buy (its answer held); its REFUND callback comes
	// a second later, and the lookup it triggers hears SUCCESS.
	waitUntil(t, func() string { return describe(t, b, p.ID) }, func() bool {
		return len(eventsNamed(t, b, p.ID, "provider_call", "lookup: succeeded")) > 0
	})
	payment.Release(false) // the payment call times out
	waitUntil(t, func() string { return describe(t, b, p.ID) }, func() bool {
		return flow.Status(b.Purchase(t, p.ID).Status).Terminal() || hasAlert(t, b, p.ID, "refund_before_success")
	})
	end := b.Purchase(t, p.ID)
	if flow.Status(end.Status) != flow.StatusSucceeded {
		t.Fatalf("the SUCCESS heard while paying was dropped: %s", describe(t, b, p.ID))
	}
	if path := statusPath(t, b, p.ID); slices.Contains(path, string(flow.StatusProcessing)) {
		t.Errorf("path %v: the lookup's SUCCESS did not complete the purchase in paying", path)
	}
	if !hasAlert(t, b, p.ID, "contradiction") || b.Charges(t, end) != 1 {
		t.Errorf("want one charge and the earlier REFUND recorded as a contradiction: %s", describe(t, b, p.ID))
	}
}

// Defect 2: Klikoo says SUCCESS without the token (scenario 23's first
// lookups). The operator who has the token from Klikoo's support resolves
// the purchase as succeeded with it: the operator's serial completes it.
func TestDefect2ResolveWithTheOperatorsToken(t *testing.T) {
	t.Parallel()
	wire := &flowtest.Wire{}
	caught := &flowtest.Callbacks{}
	b := flowtest.Setup(t, flowtest.Options{Intercept: wire.Intercept, CallbackHandler: flowtest.CallbackHandler(caught)})
	ctx := context.Background()
	p := reviewedUnheard(t, b, wire, "defect-2", sandbox.KindNamed("klikoo-pln"), "23")
	// A purchase the provider charged is never failed by hand.
	if _, err := b.Svc.Resolve(ctx, p.ID, flow.ResolveRequest{Status: flow.StatusFailed, Note: "no token", Force: true, Operator: "ops"}); !errors.Is(err, flow.ErrInvalidState) {
		t.Fatalf("resolve failed while Klikoo says SUCCESS: %v, want refused", err)
	}
	const token = "12345678901234567890"
	got, err := b.Svc.Resolve(ctx, p.ID, flow.ResolveRequest{
		Status: flow.StatusSucceeded, SerialNumber: token + "/PELANGGAN 9923/R1/2200VA/13.8",
		Note: "token read out by Klikoo support, ticket 9", Operator: "ops",
	})
	if err != nil || flow.Status(got.Status) != flow.StatusSucceeded {
		t.Fatalf("resolve succeeded with the operator's token: %v; %s", err, describe(t, b, p.ID))
	}
	if r := result(t, got); r["token"] != token {
		t.Fatalf("result %v, want the operator's token", r)
	}
}

// Defect 3: an amount that is not a known positive number — no inquiry
// amount (a game voucher's inquiry carries none) and no catalog price (the
// refresh fails) — fails product_unavailable before any payment call,
// automatic or manual, and never retries against the amount > 0 CHECK.
// Without an inquiry, a max_price does not change that.
func TestDefect3UnknownAmountFailsProductUnavailable(t *testing.T) {
	t.Parallel()
	wire := &flowtest.Wire{}
	b := flowtest.Setup(t, flowtest.Options{Intercept: wire.Intercept})
	ctx := context.Background()
	wire.On(snapcart.Name, flowtest.OpProducts, nil, -1, flowtest.Drop)
	voucher := sandbox.KindNamed("snapcart-voucher")
	seedPrice(t, b, voucher.Product, 0)
	automatic := buy(t, b, "defect-3-auto", voucher, "00")
	manual := buyWith(t, b, "defect-3-manual", voucher, "00", func(r *flow.CreateRequest) {
		r.Confirmation = "manual"
		_, r.UserID, _ = voucher.Ident(1, "00")
	})
	ghost := catalogEntry(t, "S10")
	ghost.Code, ghost.ProviderProductCode, ghost.Price = "GHOST10", "GHOST10", 0
	if err := flow.SeedCatalog(ctx, b.Q, []flow.CatalogEntry{ghost}, b.Clock.Now()); err != nil {
		t.Fatal(err)
	}
	capped := buyWith(t, b, "defect-3-capped", sandbox.KindNamed("klikoo-pulsa"), "00", func(r *flow.CreateRequest) {
		r.ProductCode, r.MaxPrice = "GHOST10", ptr(int64(50000))
	})

	// Settled: ended, stuck on a step that errors, or waiting for a
	// confirmation that could only pay an unknown amount.
	settled := func(id fmt.Stringer, p store.Purchase) bool {
		return flow.Status(p.Status).Terminal() || len(jobErrors(t, b, id, "")) > 0 || flow.Status(p.Status) == flow.StatusAwaitingConfirmation
	}
	waitUntil(t, func() string { return describe(t, b, manual.ID) }, func() bool { return settled(manual.ID, b.Purchase(t, manual.ID)) })
	if flow.Status(b.Purchase(t, manual.ID).Status) == flow.StatusAwaitingConfirmation {
		if _, err := b.Svc.Confirm(ctx, b.ClientID, manual.ID); err != nil && !errors.Is(err, flow.ErrInvalidState) {
			t.Errorf("confirm answered an internal error: %v", err)
		}
	}
	for _, p := range []store.Purchase{automatic, manual, capped} {
		waitUntil(t, func() string { return describe(t, b, p.ID) }, func() bool { return settled(p.ID, b.Purchase(t, p.ID)) })
		end := b.Purchase(t, p.ID)
		if flow.Status(end.Status) != flow.StatusFailed || deref(end.FailureCode) != "product_unavailable" || end.PaymentAttempts != 0 {
			t.Errorf("%s: %s; job errors %v; want failed product_unavailable before any payment", p.ReferenceID, describe(t, b, p.ID), jobErrors(t, b, p.ID, ""))
		}
	}
	if n := len(wire.Calls("", flowtest.OpPayment)); n != 0 {
		t.Errorf("%d payment calls", n)
	}
}

// Defect 4: with a max_price, a catalog price older than PRICE_MAX_AGE
// whose refresh fails is not known: the step refreshes again for up to
// PRICE_REFRESH_WINDOW (2 min), then fails provider_unavailable — it never
// pays at the stale price (Snapcart would charge its current one, above
// the client's limit). Both with an inquiry that carries no amount (a game
// voucher) and without an inquiry.
func TestDefect4StalePriceIsNotKnown(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		kind         string
		stale, limit int64 // the simulator's price is above limit
	}{
		{"snapcart-pulsa", 9000, 9500},     // Snapcart charges 10150
		{"snapcart-voucher", 20000, 20500}, // Snapcart charges 21500
	} {
		t.Run(c.kind, func(t *testing.T) {
			t.Parallel()
			wire := &flowtest.Wire{}
			b := flowtest.Setup(t, flowtest.Options{Intercept: wire.Intercept})
			wire.On(snapcart.Name, flowtest.OpProducts, nil, -1, flowtest.Drop)
			k := sandbox.KindNamed(c.kind)
			e := catalogEntry(t, k.Product)
			e.Price = c.stale
			if err := flow.SeedCatalog(context.Background(), b.Q, []flow.CatalogEntry{e}, b.Clock.Now().Add(-2*time.Hour)); err != nil {
				t.Fatal(err)
			}
			p := buyWith(t, b, "defect-4", k, "00", func(r *flow.CreateRequest) { r.MaxPrice = ptr(c.limit) })
			waitUntil(t, func() string { return "no catalog refresh: " + describe(t, b, p.ID) }, func() bool {
				return len(wire.Calls(snapcart.Name, flowtest.OpProducts)) > 0
			})
			// The flow's clock runs 15 s a poll while the step retries, so
			// PRICE_REFRESH_WINDOW (2 min) passes within a few of its tries.
			waitUntil(t, func() string { return describe(t, b, p.ID) }, func() bool {
				b.Clock.Advance(15 * time.Second)
				return flow.Status(b.Purchase(t, p.ID).Status).Terminal() || len(wire.Calls("", flowtest.OpPayment)) > 0
			})
			end := b.Purchase(t, p.ID)
			if n := len(wire.Calls("", flowtest.OpPayment)); n != 0 {
				t.Fatalf("paid at the stale price %d after a failed refresh (max_price %d): %d payment calls; %s", c.stale, c.limit, n, describe(t, b, p.ID))
			}
			if flow.Status(end.Status) != flow.StatusFailed || deref(end.FailureCode) != "provider_unavailable" {
				t.Fatalf("%s, want failed provider_unavailable", describe(t, b, p.ID))
			}
		})
	}
}

// Defect 5 (invariant 3): a repeat needs two CONSECUTIVE not_found
// lookups; any other answer in between — a timeout, a refusal — starts the
// count again. Scenario 32: Klikoo never saw the first buy, so every
// lookup that reaches it says not_found.
func TestDefect5NotFoundStreakRestarts(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		act  flowtest.Act
	}{{"timeout", flowtest.Drop}, {"refusal", flowtest.Spoil}} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			wire := &flowtest.Wire{}
			b := flowtest.Setup(t, flowtest.Options{Intercept: wire.Intercept})
			first := wire.HoldNext(klikoo.Name, flowtest.OpLookup, nil)
			wire.On(klikoo.Name, flowtest.OpLookup, nil, 1, c.act) // the second lookup
			p := buy(t, b, "defect-5", sandbox.KindNamed("klikoo-pulsa"), "32")
			first.Wait(t, settle)
			b.Clock.Advance(time.Minute) // PAYMENT_REPEAT_MIN_AGE is past for the lookups after the first
			first.Release(true)
			waitUntil(t, func() string { return describe(t, b, p.ID) }, func() bool {
				return len(wire.Calls(klikoo.Name, flowtest.OpPayment)) >= 2
			})
			// not_found, <the other answer>, not_found, not_found: the
			// repeat comes after the fourth lookup, not the third.
			lookups := 0
			for _, call := range wire.Calls(klikoo.Name, "") {
				if call.Op == flowtest.OpPayment && lookups > 0 {
					break
				}
				if call.Op == flowtest.OpLookup {
					lookups++
				}
			}
			if lookups < 4 {
				t.Fatalf("the repeat came after %d lookups (not_found, %s, not_found): the %s did not start the count again; %s", lookups, c.name, c.name, describe(t, b, p.ID))
			}
		})
	}
}

// Defect 6: a signed FAILED callback that arrives while the payment call
// is in flight is the provider's definitive word; when the call's answer
// is then lost (a one-step payment: nothing can look it up), the purchase
// fails, not needs_review.
func TestDefect6SignedFailedDuringThePaymentCall(t *testing.T) {
	t.Parallel()
	wire := &flowtest.Wire{}
	b := flowtest.Setup(t, flowtest.Options{Intercept: wire.Intercept, Signed: true, ProviderTimeout: 20 * time.Second})
	payment := wire.HoldNext(snapcart.Name, flowtest.OpPayment, nil)
	t.Cleanup(func() { payment.Release(false) })
	// Scenario 22: Snapcart accepts, then reports FAILED (signed callback).
	p := buy(t, b, "defect-6", sandbox.KindNamed("snapcart-pulsa"), "22")
	payment.Wait(t, settle)
	waitUntil(t, func() string { return "the FAILED callback never came: " + describe(t, b, p.ID) }, func() bool {
		return count(t, b, "SELECT count(*) FROM callbacks WHERE reference = $1 AND action <> 'received'", p.ID.String()) > 0
	})
	payment.Release(false) // the answer is lost
	waitUntil(t, func() string { return describe(t, b, p.ID) }, func() bool {
		return flow.Status(b.Purchase(t, p.ID).Status) != flow.StatusPaying
	})
	b.Clock.Advance(2 * time.Hour) // past STATUS_DEADLINE
	waitUntil(t, func() string { return describe(t, b, p.ID) }, func() bool {
		st := flow.Status(b.Purchase(t, p.ID).Status)
		return st.Terminal() || st == flow.StatusNeedsReview
	})
	end := b.Purchase(t, p.ID)
	if flow.Status(end.Status) != flow.StatusFailed || deref(end.FailureCode) != "transaction_failed" || b.Charges(t, end) != 0 {
		t.Fatalf("the signed FAILED heard during the call was thrown away: %s", describe(t, b, p.ID))
	}
}

// Defect 7: Resolve to failed needs force (and a note) when the fresh
// lookup could not answer — it timed out, or the provider refused it.
func TestDefect7ResolveFailedNeedsForceWhenTheLookupCouldNotAnswer(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		act  flowtest.Act
	}{{"timeout", flowtest.Drop}, {"refusal", flowtest.Spoil}} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			wire := &flowtest.Wire{}
			b := flowtest.Setup(t, flowtest.Options{Intercept: wire.Intercept})
			ctx := context.Background()
			p := reviewed(t, b, "defect-7", sandbox.KindNamed("klikoo-pulsa"))
			wire.On(klikoo.Name, flowtest.OpLookup, nil, -1, c.act)
			got, err := b.Svc.Resolve(ctx, p.ID, flow.ResolveRequest{Status: flow.StatusFailed, Note: "gave up", Operator: "ops"})
			if !errors.Is(err, flow.ErrInvalidState) || flow.Status(b.Purchase(t, p.ID).Status) != flow.StatusNeedsReview {
				t.Fatalf("failed without force after a lookup %s: %v, %s; want refused, still needs_review", c.name, err, got.Status)
			}
			got, err = b.Svc.Resolve(ctx, p.ID, flow.ResolveRequest{Status: flow.StatusFailed, Note: "Klikoo confirmed no charge", Force: true, Operator: "ops"})
			if err != nil || flow.Status(got.Status) != flow.StatusFailed {
				t.Fatalf("failed with force: %v, %s", err, got.Status)
			}
		})
	}
}

// Defect 8 (invariant 5): what a provider sends is sanitized before it is
// stored. Answers with an HTTP status above 599 and NUL bytes and invalid
// UTF-8 in their codes and messages (simkit's garbage fault, here on every
// Klikoo call) are recorded like any other answer, no step errors on them,
// and once Klikoo answers properly again the purchase goes on to its end.
func TestDefect8GarbageAnswersAreRecorded(t *testing.T) {
	t.Parallel()
	b := flowtest.Setup(t, flowtest.Options{})
	ctx := context.Background()
	b.Sims.Klikoo.Faults().Set(simkit.Faults{GarbageRate: 1})
	p := buy(t, b, "defect-8", sandbox.KindNamed("klikoo-pulsa"), "00")
	calls := func() int {
		return count(t, b, "SELECT count(*) FROM provider_calls WHERE purchase_id = $1", p.ID)
	}
	waitUntil(t, func() string { return describe(t, b, p.ID) }, func() bool {
		return calls() >= 2 || len(jobErrors(t, b, p.ID, "")) > 0
	})
	if errs := jobErrors(t, b, p.ID, ""); len(errs) > 0 {
		t.Fatalf("a garbage answer made a step fail: %v; %s", errs, describe(t, b, p.ID))
	}
	var unsanitized int
	if err := b.Pool.QueryRow(ctx, `SELECT count(*) FROM provider_calls WHERE purchase_id = $1
		AND (http_status > 599 OR strpos(code, U&'\FFFD') = 0 AND code <> '' AND code !~ '^[0-9A-Za-z]*$')`, p.ID).Scan(&unsanitized); err != nil {
		t.Fatal(err)
	}
	if unsanitized > 0 {
		t.Fatalf("%d garbage answers stored as received", unsanitized)
	}
	b.Sims.Klikoo.Faults().Set(simkit.Faults{})
	if end := waitFor(t, b, p.ID, flow.StatusSucceeded); b.Charges(t, end) != 1 {
		t.Fatalf("charged %d times", b.Charges(t, end))
	}
}

// Defect 9 (invariant 6): a payment answer that arrives after the purchase
// ended another way, and contradicts that end — a definitive refusal of
// the first call (no money moved) for a purchase a signed callback
// completed — is recorded as a contradiction and alerted, not applied.
func TestDefect9LatePaymentAnswerContradicts(t *testing.T) {
	t.Parallel()
	wire := &flowtest.Wire{}
	b := flowtest.Setup(t, flowtest.Options{Intercept: wire.Intercept, Signed: true, ProviderTimeout: 20 * time.Second})
	ctx := context.Background()
	payment := wire.HoldNext(snapcart.Name, flowtest.OpPayment, nil)
	t.Cleanup(func() { payment.Release(false) })
	// Scenario 12: Snapcart refuses the payment (402 insufficient balance).
	p := buy(t, b, "defect-9", sandbox.KindNamed("snapcart-pulsa"), "12")
	payment.Wait(t, settle)
	body, sig := signedSnapcart(b, b.Purchase(t, p.ID), "200", "Transaction successful", "SN-D9")
	if action, err := b.Svc.HandleCallback(ctx, snapcart.Name, body, sig); err != nil || action != flow.CallbackApplied {
		t.Fatalf("signed success: %q %v", action, err)
	}
	payment.Release(true) // the refusal arrives after the purchase succeeded
	waitUntil(t, func() string { return describe(t, b, p.ID) }, func() bool {
		return len(eventsNamed(t, b, p.ID, "provider_call", "payment: failed")) > 0 &&
			count(t, b, `SELECT count(*) FROM river_job WHERE kind = 'purchase_payment' AND args->>'purchase_id' = $1 AND state <> 'completed'`, p.ID.String()) == 0
	})
	if got := b.Purchase(t, p.ID); flow.Status(got.Status) != flow.StatusSucceeded {
		t.Fatalf("the late refusal was applied: %s", describe(t, b, p.ID))
	}
	if !hasAlert(t, b, p.ID, "contradiction") {
		t.Fatalf("a refusal of the first payment call after a success raised no contradiction: %s", describe(t, b, p.ID))
	}
}

// repeatWindow pauses the flow's workers at their first query of the
// purchases table after the transaction that decided the repeat commits —
// whichever step makes the repeat next reads or locks the purchase there —
// so the test can end the purchase in between.
type repeatWindow struct {
	mu        sync.Mutex
	armed     bool      // the lookup whose answer decides the repeat is on its way
	conn      *pgx.Conn // the connection of that lookup's transaction
	committed bool      // that transaction committed
	paused    bool      // a query was paused
	sql       string    // the paused query
	stop      chan struct{}
	resume    chan struct{}
}

func (w *repeatWindow) arm() {
	w.mu.Lock()
	w.armed = true
	w.mu.Unlock()
}

// TraceQueryStart implements pgx.QueryTracer.
func (w *repeatWindow) TraceQueryStart(ctx context.Context, conn *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	sql := strings.TrimSpace(data.SQL)
	w.mu.Lock()
	switch {
	case w.armed && w.conn == nil && strings.Contains(sql, "purchases") && strings.Contains(sql, "FOR UPDATE"):
		w.conn = conn
	case w.conn == conn && !w.committed && strings.EqualFold(sql, "commit"):
		w.committed = true
	case w.committed && !w.paused && strings.Contains(sql, "purchases"):
		w.paused, w.sql = true, sql
		w.mu.Unlock()
		close(w.stop)
		<-w.resume
		return ctx
	}
	w.mu.Unlock()
	return ctx
}

// TraceQueryEnd implements pgx.QueryTracer.
func (w *repeatWindow) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// Defect 10: the repeat is decided in a transaction, and made by a step
// that finds the purchase still open and the repeat still due: when the
// purchase ends after the repeat was decided and before the call (here a
// signed FAILED from Snapcart), no payment call is made. Scenario 32,
// Snapcart two-step: the first payment never reached Snapcart; a repeat
// would be processed and charged.
func TestDefect10NoRepeatForAnEndedPurchase(t *testing.T) {
	t.Parallel()
	win := &repeatWindow{stop: make(chan struct{}), resume: make(chan struct{})}
	t.Cleanup(func() {
		select {
		case <-win.resume:
		default:
			close(win.resume)
		}
	})
	wire := &flowtest.Wire{}
	lookups := 0
	wire.Observe(func(c flowtest.Call) {
		if c.Op == flowtest.OpLookup {
			if lookups++; lookups == 2 { // not_found twice: this answer decides the repeat
				win.arm()
			}
		}
	})
	first := wire.HoldNext(snapcart.Name, flowtest.OpLookup, nil)
	b := flowtest.Setup(t, flowtest.Options{Intercept: wire.Intercept, Signed: true, WorkerTracer: win})
	ctx := context.Background()
	p := buy(t, b, "defect-10", sandbox.KindNamed("snapcart-bill"), "32")
	first.Wait(t, settle)
	b.Clock.Advance(time.Minute) // PAYMENT_REPEAT_MIN_AGE is past for the second lookup
	first.Release(true)
	select {
	case <-win.stop:
	case <-time.After(settle):
		t.Fatalf("the repeat was never decided: %s", describe(t, b, p.ID))
	}
	decided := b.Purchase(t, p.ID)
	body, sig := signedSnapcart(b, decided, "400", "Transaction failed", "")
	action, err := b.Svc.HandleCallback(ctx, snapcart.Name, body, sig)
	if err != nil || action != flow.CallbackApplied || flow.Status(b.Purchase(t, p.ID).Status) != flow.StatusFailed {
		t.Fatalf("signed FAILED: %q %v; %s", action, err, describe(t, b, p.ID))
	}
	close(win.resume)
	waitUntil(t, func() string { return describe(t, b, p.ID) }, func() bool {
		return count(t, b, `SELECT count(*) FROM river_job WHERE args->>'purchase_id' = $1 AND state IN ('available', 'running', 'retryable')`, p.ID.String()) == 0
	})
	end := b.Purchase(t, p.ID)
	if n := len(wire.Calls(snapcart.Name, flowtest.OpPayment)); n != 1 || b.Charges(t, end) != 0 {
		t.Fatalf("the repeat decided before the purchase failed was sent after it (the step paused at %q): %d payment calls, %d charges for a %s purchase",
			strings.SplitN(win.sql, "\n", 2)[0], n, b.Charges(t, end), end.Status)
	}
}

// Defect 11: an inquiry moves no money, so it is retried over a window of
// time (INQUIRY_RETRY_WINDOW), not a small count that a crash also spends:
// unanswered six times within a 10-minute window, it still waits for the
// provider and succeeds once it answers; unanswered past the window, it
// fails provider_unavailable.
func TestDefect11InquiryRetriesOverAWindow(t *testing.T) {
	t.Parallel()
	wire := &flowtest.Wire{}
	const window = 10 * time.Minute
	// The unanswered inquiries must not trip Snapcart out of the second
	// purchase's route (routing's health rule).
	b := flowtest.Setup(t, flowtest.Options{Intercept: wire.Intercept, InquiryRetryWindow: window, ProviderTripAfter: -1})
	k := sandbox.KindNamed("snapcart-bill")
	wire.On(snapcart.Name, flowtest.OpInquiry, nil, -1, flowtest.Drop)
	p := buy(t, b, "defect-11-outage", k, "00")
	unknown := func(id fmt.Stringer) int {
		return count(t, b, `SELECT count(*) FROM provider_calls WHERE purchase_id = $1 AND operation = 'inquiry' AND outcome = 'unknown'`, id.String())
	}
	waitUntil(t, func() string { return describe(t, b, p.ID) }, func() bool {
		return unknown(p.ID) >= 6 || flow.Status(b.Purchase(t, p.ID).Status).Terminal()
	})
	if got := b.Purchase(t, p.ID); flow.Status(got.Status).Terminal() {
		t.Fatalf("the inquiry gave up after %d unknown answers within %s, inside its %s window: %s",
			unknown(p.ID), b.Clock.Now().Sub(got.CreatedAt).Round(time.Millisecond), window, describe(t, b, p.ID))
	}
	wire.Clear() // the provider is back
	if end := waitFor(t, b, p.ID, flow.StatusSucceeded); b.Charges(t, end) != 1 {
		t.Fatalf("charged %d times", b.Charges(t, end))
	}

	cust, _, _ := k.Ident(1, "00")
	wire.On(snapcart.Name, flowtest.OpInquiry, func(c flowtest.Call) bool { return strings.Contains(string(c.Body), cust) }, -1, flowtest.Drop)
	q := buyWith(t, b, "defect-11-down", k, "00", func(r *flow.CreateRequest) { r.CustomerNumber = cust })
	waitUntil(t, func() string { return describe(t, b, q.ID) }, func() bool { return unknown(q.ID) > 0 })
	b.Clock.Advance(window + time.Minute)
	if end := waitFor(t, b, q.ID, flow.StatusFailed); deref(end.FailureCode) != "provider_unavailable" || end.PaymentAttempts != 0 {
		t.Fatalf("%s, want failed provider_unavailable past the window", describe(t, b, q.ID))
	}
}
