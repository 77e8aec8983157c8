package flow_test

// The safety net of issue 12: what a purchase does with each kind of answer
// — from lookups, callbacks, repeats and operators — through the flow's
// public surface (Create, Confirm, Resolve, HandleCallback, Sweep, the
// workers) against the simulators over real HTTP. Answers are lost, held or
// refused on the wire (flowtest.Wire) and callbacks caught and handed over
// when the test chooses (flowtest.Callbacks): the simulators answer, the
// test only decides when and whether the flow hears it.

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ppob-orchestrator/orchestrator/internal/flow"
	"github.com/ppob-orchestrator/orchestrator/internal/flowtest"
	"github.com/ppob-orchestrator/orchestrator/internal/providers/klikoo"
	"github.com/ppob-orchestrator/orchestrator/internal/providers/snapcart"
	"github.com/ppob-orchestrator/orchestrator/internal/sandbox"
	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

// settle is how long a test waits for a condition: generous, for a loaded
// 2-core machine; a passing test waits only as long as the flow needs.
const settle = 60 * time.Second

// never is a lookup schedule whose lookups do not come within a test: only
// the lookups a test triggers run.
var never = []time.Duration{time.Hour}

func waitUntil(t *testing.T, what func() string, cond func() bool) {
	t.Helper()
	flowtest.WaitFor(t, settle, what, cond)
}

// buy creates a purchase of kind k playing scenario (seq 0), automatic.
func buy(t *testing.T, b *flowtest.Env, ref string, k sandbox.Kind, scenario string) store.Purchase {
	t.Helper()
	return buyWith(t, b, ref, k, scenario, func(*flow.CreateRequest) {})
}

func buyWith(t *testing.T, b *flowtest.Env, ref string, k sandbox.Kind, scenario string, edit func(*flow.CreateRequest)) store.Purchase {
	t.Helper()
	cust, user, zone := k.Ident(0, scenario)
	req := flow.CreateRequest{
		ClientID: b.ClientID, ReferenceID: ref, ProductCode: k.Product,
		CustomerNumber: cust, UserID: user, ZoneID: zone, MaxPrice: sandbox.MaxPrice(scenario), AllowRepeat: true,
	}
	edit(&req)
	p, created, err := b.Svc.Create(context.Background(), req)
	if err != nil || !created {
		t.Fatalf("create %s: created=%v err=%v", ref, created, err)
	}
	return p
}

// describe is a purchase as a failure message shows it: status, failure,
// and its timeline.
func describe(t *testing.T, b *flowtest.Env, id uuid.UUID) string {
	t.Helper()
	p := b.Purchase(t, id)
	var tl []string
	for _, e := range timeline(t, b, id) {
		tl = append(tl, e.Kind+" "+e.Name)
	}
	return fmt.Sprintf("purchase %s is %s (failure %q); timeline: %s", id, p.Status, deref(p.FailureCode), strings.Join(tl, "; "))
}

func timeline(t *testing.T, b *flowtest.Env, id uuid.UUID) []store.PurchaseEvent {
	t.Helper()
	events, err := b.Q.EventListByPurchase(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return events
}

// eventsNamed returns the purchase's events of kind and name.
func eventsNamed(t *testing.T, b *flowtest.Env, id uuid.UUID, kind, name string) []store.PurchaseEvent {
	t.Helper()
	var out []store.PurchaseEvent
	for _, e := range timeline(t, b, id) {
		if e.Kind == kind && e.Name == name {
			out = append(out, e)
		}
	}
	return out
}

// statusPath lists the purchase's statuses in order, from received.
func statusPath(t *testing.T, b *flowtest.Env, id uuid.UUID) []string {
	t.Helper()
	path := []string{string(flow.StatusReceived)}
	for _, e := range timeline(t, b, id) {
		if e.Kind == "status" && e.ToStatus != nil {
			path = append(path, string(*e.ToStatus))
		}
	}
	return path
}

// waitFor waits until the purchase is want, failing at once when it ends
// otherwise (a terminal status never changes).
func waitFor(t *testing.T, b *flowtest.Env, id uuid.UUID, want flow.Status) store.Purchase {
	t.Helper()
	waitUntil(t, func() string { return describe(t, b, id) + "; want " + string(want) }, func() bool {
		st := flow.Status(b.Purchase(t, id).Status)
		return st == want || st.Terminal()
	})
	p := b.Purchase(t, id)
	if flow.Status(p.Status) != want {
		t.Fatalf("%s; want %s", describe(t, b, id), want)
	}
	return p
}

func count(t *testing.T, b *flowtest.Env, query string, args ...any) int {
	t.Helper()
	var n int
	if err := b.Pool.QueryRow(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// openLookups counts the purchase's lookup jobs that may still run.
func openLookups(t *testing.T, b *flowtest.Env, id uuid.UUID) int {
	t.Helper()
	return count(t, b, `SELECT count(*) FROM river_job WHERE kind = 'purchase_lookup' AND args->>'purchase_id' = $1
		AND state NOT IN ('completed', 'cancelled', 'discarded')`, id.String())
}

// klikooSecret authenticates Klikoo callbacks in tests that give Klikoo a
// callback signature (Klikoo documents none: the flow's verifier map is
// per provider, so a test can).
var klikooSecret = []byte("test secret of signed klikoo callbacks")

func signKlikoo(body []byte) string {
	m := hmac.New(sha256.New, klikooSecret)
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

var signedKlikoo = map[string]func([]byte, string) bool{
	klikoo.Name: func(body []byte, sig string) bool { return hmac.Equal([]byte(sig), []byte(signKlikoo(body))) },
}

// signedSnapcart is a Snapcart callback body reporting status for p,
// signed with the simulators' secret.
func signedSnapcart(b *flowtest.Env, p store.Purchase, code, message, serial string) ([]byte, string) {
	body := fmt.Appendf(nil, `{"request_id":%q,"reference_id":%q,"product_code":%q,"bill_amount":%d,"bill_number":%q,"status_code":%q,"status_message":%q,"biller_code":%q,"biller_message":%q,"serial_number":%q}`,
		deref(p.ProviderRequestID), deref(p.ProviderReference), p.ProductCode, deref(p.Amount), deref(p.CustomerNumber), code, message, code, message, serial)
	return body, snapcartSign(b, body)
}

// An unauthenticated callback is only a hint: the lookup it triggers is
// applied only when the provider's answer carries our reference, our
// product and our amount. Otherwise the answer is noted
// (lookup_answer_ignored) and the purchase does not move. (No simulator
// answers about our reference with another product: the purchase keeps
// the provider product code it paid with, and both simulators echo it.)
func TestHintedLookupIgnoresAnswersNotOurs(t *testing.T) {
	t.Parallel()
	// setup buys a Snapcart purchase in scenario 24 (the first lookup
	// answers SUCCESS) whose regular lookups never come within the test,
	// and returns it in processing with the simulator's first callback,
	// caught and not yet delivered. before runs before the purchase.
	setup := func(t *testing.T, o flowtest.Options, k sandbox.Kind, ref string, before func(*flowtest.Env)) (*flowtest.Env, store.Purchase, *flowtest.Callback) {
		caught := &flowtest.Callbacks{}
		o.LookupBackoff, o.CallbackHandler = never, flowtest.CallbackHandler(caught)
		b := flowtest.Setup(t, o)
		before(b)
		p := buy(t, b, ref, k, "24")
		waitFor(t, b, p.ID, flow.StatusProcessing)
		return b, b.Purchase(t, p.ID), caught.Next(t, snapcart.Name, 1, settle)
	}
	// hint hands the callback to the flow unauthenticated and waits for the
	// lookup it triggers to be recorded.
	hint := func(t *testing.T, b *flowtest.Env, p store.Purchase, cb *flowtest.Callback) string {
		action, err := b.Svc.HandleCallback(context.Background(), snapcart.Name, cb.Body, cb.Signature)
		if err != nil || action != flow.CallbackLookupTriggered {
			t.Fatalf("unsigned callback: %q %v, want %q", action, err, flow.CallbackLookupTriggered)
		}
		waitUntil(t, func() string { return describe(t, b, p.ID) }, func() bool {
			return len(eventsNamed(t, b, p.ID, "note", "lookup_answer_ignored")) > 0 ||
				flow.Status(b.Purchase(t, p.ID).Status) != flow.StatusProcessing
		})
		if got := b.Purchase(t, p.ID); flow.Status(got.Status) != flow.StatusProcessing {
			t.Fatalf("the hinted lookup's answer moved the purchase: %s", describe(t, b, p.ID))
		}
		if n := len(eventsNamed(t, b, p.ID, "provider_call", "lookup: succeeded")); n != 1 {
			t.Fatalf("%d lookups answered SUCCESS, want the one hinted: %s", n, describe(t, b, p.ID))
		}
		var why struct {
			Why     string `json:"why"`
			Outcome string `json:"outcome"`
		}
		_ = json.Unmarshal(eventsNamed(t, b, p.ID, "note", "lookup_answer_ignored")[0].Data, &why)
		if why.Outcome != "succeeded" {
			t.Errorf("the ignored answer is noted as %q, want succeeded", why.Outcome)
		}
		return why.Why
	}

	t.Run("amount", func(t *testing.T) {
		t.Parallel()
		// Our catalog says 12000; Snapcart charges its own 10150 for a
		// one-step payment, and its answer says so.
		k := sandbox.KindNamed("snapcart-pulsa")
		b, p, cb := setup(t, flowtest.Options{}, k, "hint-amount", func(b *flowtest.Env) { seedPrice(t, b, k.Product, 12000) })
		if why := hint(t, b, p, cb); !strings.Contains(why, "amount 10150, ours is 12000") {
			t.Errorf("noted why %q, want the amounts named", why)
		}
	})
	t.Run("reference", func(t *testing.T) {
		t.Parallel()
		// The provider answers our lookup about another transaction: the
		// wire sends our request_id's lookup to another purchase's.
		wire := &flowtest.Wire{}
		k := sandbox.KindNamed("snapcart-bill")
		b, p, cb := setup(t, flowtest.Options{Intercept: wire.Intercept}, k, "hint-reference", func(*flowtest.Env) {})
		other := buyWith(t, b, "hint-other", k, "24", func(r *flow.CreateRequest) { r.CustomerNumber, _, _ = k.Ident(1, "24") })
		other = waitFor(t, b, other.ID, flow.StatusProcessing)
		wire.Redirect(snapcart.Name, flowtest.OpLookup, deref(p.ProviderRequestID), deref(other.ProviderRequestID))
		if why := hint(t, b, p, cb); !strings.Contains(why, "answer names reference") {
			t.Errorf("noted why %q, want the references named", why)
		}
	})
}

// catalogEntry returns the demo catalog's entry for code.
func catalogEntry(t *testing.T, code string) flow.CatalogEntry {
	t.Helper()
	for _, e := range sandbox.Catalog() {
		if e.Code == code {
			return e
		}
	}
	t.Fatalf("no product %s in the demo catalog", code)
	return flow.CatalogEntry{}
}

// seedPrice sets our catalog price of code, fetched now (0: no price).
func seedPrice(t *testing.T, b *flowtest.Env, code string, price int64) {
	t.Helper()
	e := catalogEntry(t, code)
	e.Price = price
	if err := flow.SeedCatalog(context.Background(), b.Q, []flow.CatalogEntry{e}, b.Clock.Now()); err != nil {
		t.Fatal(err)
	}
}

// snapcartSign signs a callback body as the Snapcart simulator does.
func snapcartSign(b *flowtest.Env, body []byte) string {
	return snapcart.SignCallback([]byte(b.Creds.SnapcartCallbackSecret), body)
}

// A signed callback naming a purchase that has made no payment call moves
// nothing: before the payment intent there is no provider reference to
// match it by, so it is stored and matched to nothing; the purchase then
// goes on as if it never came.
func TestSignedCallbackBeforeAnyPayment(t *testing.T) {
	t.Parallel()
	b := flowtest.Setup(t, flowtest.Options{Signed: true})
	ctx := context.Background()
	k := sandbox.KindNamed("snapcart-bill")
	p := buyWith(t, b, "early-cb", k, "00", func(r *flow.CreateRequest) { r.Confirmation = "manual" })
	p = waitFor(t, b, p.ID, flow.StatusAwaitingConfirmation)
	before := len(timeline(t, b, p.ID))
	// What Snapcart would send for it, with our purchase id as reference_id.
	early := p
	early.ProviderReference, early.Amount = ptr(p.ID.String()), p.InquiryAmount
	body, sig := signedSnapcart(b, early, "200", "Transaction successful", "SN-EARLY")
	action, err := b.Svc.HandleCallback(ctx, snapcart.Name, body, sig)
	if err != nil || (action != flow.CallbackUnmatched && action != flow.CallbackIgnored) {
		t.Fatalf("a signed callback before any payment: %q %v, want unmatched or ignored", action, err)
	}
	if got := b.Purchase(t, p.ID); flow.Status(got.Status) != flow.StatusAwaitingConfirmation || len(timeline(t, b, p.ID)) != before {
		t.Fatalf("a callback before any payment changed the purchase: %s", describe(t, b, p.ID))
	}
	if n := openLookups(t, b, p.ID); n != 0 {
		t.Fatalf("a callback before any payment queued %d lookups", n)
	}
	if _, err := b.Svc.Confirm(ctx, b.ClientID, p.ID); err != nil {
		t.Fatal(err)
	}
	end := waitFor(t, b, p.ID, flow.StatusSucceeded)
	if c := b.Charges(t, end); c != 1 {
		t.Fatalf("charged %d times", c)
	}
}

// A signed REFUND for a purchase never confirmed as succeeded is not a
// failure: it raises refund_before_success, and the purchase stays open.
// Klikoo documents no signature; the flow's verifiers are per provider, so
// the test gives Klikoo one and signs the simulator's own REFUND callback
// (scenario 24).
func TestSignedRefundBeforeSuccess(t *testing.T) {
	t.Parallel()
	caught := &flowtest.Callbacks{}
	b := flowtest.Setup(t, flowtest.Options{LookupBackoff: never, CallbackHandler: flowtest.CallbackHandler(caught), CallbackVerifiers: signedKlikoo})
	p := buy(t, b, "refund-early", sandbox.KindNamed("klikoo-pulsa"), "24")
	waitFor(t, b, p.ID, flow.StatusProcessing)
	cb := caught.Next(t, klikoo.Name, 1, settle)
	if !strings.Contains(string(cb.Body), `"REFUND"`) {
		t.Fatalf("scenario 24's Klikoo callback is not a REFUND: %s", cb.Body)
	}
	action, err := b.Svc.HandleCallback(context.Background(), klikoo.Name, cb.Body, signKlikoo(cb.Body))
	if err != nil || action != flow.CallbackIgnored {
		t.Fatalf("signed REFUND: %q %v, want %q", action, err, flow.CallbackIgnored)
	}
	if !hasAlert(t, b, p.ID, "refund_before_success") {
		t.Fatalf("no refund_before_success alert: %s", describe(t, b, p.ID))
	}
	if got := b.Purchase(t, p.ID); flow.Status(got.Status) != flow.StatusProcessing {
		t.Fatalf("a REFUND before success moved the purchase: %s", describe(t, b, p.ID))
	}
}

// Invariant 4: once a payment attempt ended unknown, a rejected repeat
// proves only that the repeat moved no money. The purchase stays open and,
// unresolved at its deadline, ends in needs_review — never failed.
func TestRejectedRepeatLeavesThePurchaseOpen(t *testing.T) {
	t.Parallel()
	wire := &flowtest.Wire{}
	b := flowtest.Setup(t, flowtest.Options{Intercept: wire.Intercept})
	// Scenario 11 without inquiry: Klikoo refuses the buy (404027011); the
	// first refusal is lost on its way back.
	wire.On(klikoo.Name, flowtest.OpPayment, nil, 1, flowtest.Lose)
	p := buy(t, b, "repeat-refused", sandbox.KindNamed("klikoo-pulsa"), "11")
	waitFor(t, b, p.ID, flow.StatusProcessing)
	b.Clock.Advance(time.Minute) // PAYMENT_REPEAT_MIN_AGE is past for every lookup
	waitUntil(t, func() string { return describe(t, b, p.ID) }, func() bool {
		return len(eventsNamed(t, b, p.ID, "note", "payment_repeat_rejected")) >= 2 || flow.Status(b.Purchase(t, p.ID).Status).Terminal()
	})
	if got := b.Purchase(t, p.ID); flow.Status(got.Status) != flow.StatusProcessing || !got.PaymentUncertain {
		t.Fatalf("after rejected repeats: %s (uncertain=%v), want processing", describe(t, b, p.ID), got.PaymentUncertain)
	}
	payments := wire.Calls(klikoo.Name, flowtest.OpPayment)
	ours := `"partner_reference_id":"` + deref(b.Purchase(t, p.ID).ProviderReference) + `"`
	for _, c := range payments {
		if !strings.Contains(string(c.Body), ours) {
			t.Fatalf("a payment call without our reference %s: %s", ours, c.Body)
		}
	}
	if len(payments) < 3 {
		t.Fatalf("%d payment calls, want the first and at least two repeats", len(payments))
	}
	b.Clock.Advance(2 * time.Hour)
	end := waitFor(t, b, p.ID, flow.StatusNeedsReview)
	if c := b.Charges(t, end); c != 0 {
		t.Fatalf("charged %d times", c)
	}
}

// A repeat whose job dies while the call is in flight (here: the service
// stops and cancels its jobs mid-call, so the answer is never recorded, as
// after a crash) is never sent again: its outcome is unknown, and lookups
// go on — they find the charge it made.
func TestRepeatInFlightWhenItsJobDied(t *testing.T) {
	t.Parallel()
	wire := &flowtest.Wire{}
	b := flowtest.Setup(t, flowtest.Options{Intercept: wire.Intercept, ProviderTimeout: 20 * time.Second})
	ctx := context.Background()
	// Scenario 32: the first buy is dropped before Klikoo processes it;
	// two not_found lookups later comes the sanctioned repeat.
	p := buy(t, b, "repeat-crash", sandbox.KindNamed("klikoo-pulsa"), "32")
	waitFor(t, b, p.ID, flow.StatusProcessing)
	repeat := wire.HoldNext(klikoo.Name, flowtest.OpPayment, nil)
	t.Cleanup(func() { repeat.Release(false) })
	b.Clock.Advance(time.Minute)
	repeat.Wait(t, settle)
	if got := b.Purchase(t, p.ID); !got.PaymentInFlight || got.PaymentAttempts != 2 {
		t.Fatalf("the repeat is in flight but the purchase says in_flight=%v attempts=%d", got.PaymentInFlight, got.PaymentAttempts)
	}
	stop, cancel := context.WithTimeout(ctx, settle)
	defer cancel()
	if err := b.Svc.River().StopAndCancel(stop); err != nil {
		t.Fatal(err)
	}
	// A new process takes over.
	next := flowtest.Second(t, b)
	if err := next.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = next.Stop(context.Background()) })
	end := waitFor(t, b, p.ID, flow.StatusSucceeded)
	if n := len(wire.Calls(klikoo.Name, flowtest.OpPayment)); n != 2 {
		t.Fatalf("%d payment calls reached Klikoo, want the first and the one repeat", n)
	}
	if len(eventsNamed(t, b, p.ID, "note", "payment_repeat_outcome_unknown")) != 1 || !end.PaymentUncertain {
		t.Fatalf("the dead repeat was not settled as unknown: %s", describe(t, b, p.ID))
	}
	if c := b.Charges(t, end); c != 1 {
		t.Fatalf("charged %d times", c)
	}
}
