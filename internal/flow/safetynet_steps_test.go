package flow_test

import (
	"context"
	"encoding/json"
	"errors"
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

// reviewed buys k in scenario 41 (pending forever) and waits until it is
// needs_review past its deadline.
func reviewed(t *testing.T, b *flowtest.Env, ref string, k sandbox.Kind) store.Purchase {
	t.Helper()
	p := buy(t, b, ref, k, "41")
	waitFor(t, b, p.ID, flow.StatusProcessing)
	b.Clock.Advance(2 * time.Hour)
	return waitFor(t, b, p.ID, flow.StatusNeedsReview)
}

// reviewedUnheard buys k in scenario with every lookup dropped before it
// reaches the provider, lets the deadline pass and stops the workers: a
// needs_review purchase whose first lookup the provider hears is the one
// an operator's Resolve makes.
func reviewedUnheard(t *testing.T, b *flowtest.Env, wire *flowtest.Wire, ref string, k sandbox.Kind, scenario string) store.Purchase {
	t.Helper()
	wire.On(k.Provider, flowtest.OpLookup, nil, -1, flowtest.Drop)
	p := buy(t, b, ref, k, scenario)
	waitFor(t, b, p.ID, flow.StatusProcessing)
	b.Clock.Advance(2 * time.Hour)
	p = waitFor(t, b, p.ID, flow.StatusNeedsReview)
	if err := b.Svc.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	wire.Clear()
	return p
}

func result(t *testing.T, p store.Purchase) map[string]string {
	t.Helper()
	var r map[string]string
	if err := json.Unmarshal(p.Result, &r); err != nil {
		t.Fatalf("result %s: %v", p.Result, err)
	}
	return r
}

// Resolve to succeeded while the provider still says pending: the operator's
// serial number is the result (for a PLN token, the token read from it),
// the price is the amount paid, and the event names the operator and note.
func TestResolveSucceededWithASerial(t *testing.T) {
	t.Parallel()
	b := flowtest.Setup(t, flowtest.Options{})
	ctx := context.Background()
	for _, c := range []struct {
		kind, serial, token string
	}{
		{"klikoo-pulsa", "41000000012345", ""},
		{"klikoo-pln", "1234-5678-9012-3456-7890/PELANGGAN 9941/R1/2200VA/13.8", "12345678901234567890"},
	} {
		p := reviewed(t, b, "resolve-ok-"+c.kind, sandbox.KindNamed(c.kind))
		got, err := b.Svc.Resolve(ctx, p.ID, flow.ResolveRequest{
			Status: flow.StatusSucceeded, SerialNumber: c.serial, Note: "provider support confirmed the sale, ticket 12", Operator: "ops-1",
		})
		if err != nil || flow.Status(got.Status) != flow.StatusSucceeded {
			t.Fatalf("%s: resolve succeeded: %v, %s", c.kind, err, describe(t, b, p.ID))
		}
		r := result(t, got)
		if r["serial_number"] != c.serial || r["token"] != c.token || deref(got.Price) != deref(got.Amount) {
			t.Errorf("%s: result %v price %d, want serial %q token %q at the amount %d", c.kind, r, deref(got.Price), c.serial, c.token, deref(got.Amount))
		}
		resolved := eventsNamed(t, b, p.ID, "status", "resolved")
		if len(resolved) != 1 || resolved[0].Actor != "operator" || !strings.Contains(string(resolved[0].Data), "ticket 12") || !strings.Contains(string(resolved[0].Data), "ops-1") {
			t.Errorf("%s: resolved events %v, want one by the operator with the note", c.kind, resolved)
		}
		checkPath(t, b, c.kind, got)
	}
}

// Resolve's fresh lookup decides when the provider has settled the
// purchase: asked to fail a purchase the provider now reports SUCCESS, the
// operator is refused and the purchase succeeds with the provider's serial.
func TestResolveFreshLookupDecides(t *testing.T) {
	t.Parallel()
	wire := &flowtest.Wire{}
	b := flowtest.Setup(t, flowtest.Options{Intercept: wire.Intercept})
	ctx := context.Background()
	// Scenario 24 answers SUCCESS to the first lookup that reaches Klikoo.
	p := reviewedUnheard(t, b, wire, "resolve-decided", sandbox.KindNamed("klikoo-pulsa"), "24")
	got, err := b.Svc.Resolve(ctx, p.ID, flow.ResolveRequest{Status: flow.StatusFailed, Note: "looks lost", Operator: "ops-2"})
	if !errors.Is(err, flow.ErrInvalidState) || !strings.Contains(err.Error(), "succeeded") {
		t.Fatalf("resolve failed against a provider SUCCESS: %v, want a refusal naming it", err)
	}
	if flow.Status(got.Status) != flow.StatusSucceeded || result(t, got)["serial_number"] == "" || b.Charges(t, got) != 1 {
		t.Fatalf("the provider's SUCCESS did not decide: %s", describe(t, b, p.ID))
	}
	if len(eventsNamed(t, b, p.ID, "note", "resolve_requested")) != 1 || len(eventsNamed(t, b, p.ID, "status", "resolved")) != 0 {
		t.Fatalf("want the request audited and the decision the provider's: %s", describe(t, b, p.ID))
	}
}

// Invariant 8 for a product without an inquiry: the catalog price is the
// amount. Above max_price it fails price_exceeds_max; unknown (no price
// even after a refresh) and without max_price it fails product_unavailable
// — both before any payment call.
func TestPriceGuardWithoutInquiry(t *testing.T) {
	t.Parallel()
	wire := &flowtest.Wire{}
	b := flowtest.Setup(t, flowtest.Options{Intercept: wire.Intercept})
	k := sandbox.KindNamed("klikoo-pulsa")
	above := buyWith(t, b, "guard-above", k, "00", func(r *flow.CreateRequest) { r.MaxPrice = ptr(int64(5000)) })

	// A product the provider's list does not price: the refresh leaves it
	// without a price.
	ghost := catalogEntry(t, k.Product)
	ghost.Code, ghost.ProviderProductCode, ghost.Price = "GHOST10", "GHOST10", 0
	if err := flow.SeedCatalog(context.Background(), b.Q, []flow.CatalogEntry{ghost}, b.Clock.Now()); err != nil {
		t.Fatal(err)
	}
	unknown := buyWith(t, b, "guard-unknown", k, "00", func(r *flow.CreateRequest) { r.ProductCode = "GHOST10" })

	for _, c := range []struct {
		id      uuid.UUID
		failure string
	}{{above.ID, "price_exceeds_max"}, {unknown.ID, "product_unavailable"}} {
		end := waitFor(t, b, c.id, flow.StatusFailed)
		if deref(end.FailureCode) != c.failure || end.PaymentAttempts != 0 || end.Amount != nil {
			t.Errorf("failed %q with %d payment attempts, amount %v; want %q before any payment", deref(end.FailureCode), end.PaymentAttempts, end.Amount, c.failure)
		}
		checkPath(t, b, c.failure, end)
	}
	if n := len(wire.Calls("", flowtest.OpPayment)); n != 0 {
		t.Fatalf("%d payment calls", n)
	}
	if n := len(wire.Calls(klikoo.Name, flowtest.OpProducts)); n == 0 {
		t.Fatal("the unknown price was never refreshed")
	}
}

// An inquiry gives up: when it keeps going unanswered, it fails
// provider_unavailable; when the provider keeps refusing it (invariant 12),
// provider_refused at the inquiry's deadline. Nothing is paid either way.
func TestInquiryGivesUp(t *testing.T) {
	t.Parallel()
	wire := &flowtest.Wire{}
	b := flowtest.Setup(t, flowtest.Options{Intercept: wire.Intercept})
	wire.On(snapcart.Name, flowtest.OpInquiry, nil, -1, flowtest.Drop)
	wire.On(klikoo.Name, flowtest.OpInquiry, nil, -1, flowtest.Spoil)
	unanswered := buy(t, b, "inquiry-unanswered", sandbox.KindNamed("snapcart-bill"), "00")
	refused := buy(t, b, "inquiry-refused", sandbox.KindNamed("klikoo-pln"), "00")
	waitUntil(t, func() string { return describe(t, b, unanswered.ID) + "; " + describe(t, b, refused.ID) }, func() bool {
		return len(eventsNamed(t, b, unanswered.ID, "provider_call", "inquiry: unknown")) > 0 && hasAlert(t, b, refused.ID, "provider_refused")
	})
	if got := b.Purchase(t, refused.ID); flow.Status(got.Status) != flow.StatusInquiring {
		t.Fatalf("a refused inquiry did not back off: %s", describe(t, b, refused.ID))
	}
	// Past any retry window and the inquiry's deadline.
	b.Clock.Advance(2 * time.Hour)
	for _, c := range []struct {
		id            uuid.UUID
		failure, call string
	}{{unanswered.ID, "provider_unavailable", "inquiry: unknown"}, {refused.ID, "provider_refused", "inquiry: rejected"}} {
		end := waitFor(t, b, c.id, flow.StatusFailed)
		if deref(end.FailureCode) != c.failure || end.PaymentAttempts != 0 {
			t.Errorf("%s", describe(t, b, c.id))
		}
		for _, e := range timeline(t, b, c.id) {
			if e.Kind == "provider_call" && !strings.HasPrefix(e.Name, "token: ") && e.Name != c.call {
				t.Errorf("want only %q calls: %s", c.call, describe(t, b, c.id))
			}
		}
		checkPath(t, b, c.failure, end)
	}
	if n := len(wire.Calls("", flowtest.OpPayment)); n != 0 {
		t.Fatalf("%d payment calls", n)
	}
}

// A lookup's answers that decide nothing leave the purchase open: a REFUND
// for a purchase never confirmed as succeeded (scenario 24 whose first
// SUCCESS answer was lost) raises refund_before_success; a refused lookup
// raises provider_refused — and lookups go on.
func TestLookupRefundAndRefusalKeepThePurchaseOpen(t *testing.T) {
	t.Parallel()
	wire := &flowtest.Wire{}
	caught := &flowtest.Callbacks{} // no hints: only the regular lookups speak
	b := flowtest.Setup(t, flowtest.Options{Intercept: wire.Intercept, CallbackHandler: flowtest.CallbackHandler(caught)})
	k := sandbox.KindNamed("klikoo-pulsa")

	wire.On(klikoo.Name, flowtest.OpLookup, nil, 1, flowtest.Lose) // the first lookup, before the other purchase
	refunded := buy(t, b, "lookup-refund", k, "24")
	waitUntil(t, func() string { return describe(t, b, refunded.ID) }, func() bool { return hasAlert(t, b, refunded.ID, "refund_before_success") })
	if got := b.Purchase(t, refunded.ID); flow.Status(got.Status) != flow.StatusProcessing || b.Charges(t, got) != 1 {
		t.Fatalf("a REFUND before success moved the purchase: %s", describe(t, b, refunded.ID))
	}

	// Every lookup of the next purchase is refused (a spoiled signature).
	other := deref(b.Purchase(t, refunded.ID).ProviderTransactionID)
	if other == "" {
		t.Fatal("the first purchase has no Klikoo transaction id to tell its lookups apart")
	}
	wire.On(klikoo.Name, flowtest.OpLookup, func(c flowtest.Call) bool { return !strings.Contains(c.Path, other) }, -1, flowtest.Spoil)
	p := buyWith(t, b, "lookup-refused", k, "", func(r *flow.CreateRequest) { r.CustomerNumber, _, _ = k.Ident(1, "") })
	waitUntil(t, func() string { return describe(t, b, p.ID) }, func() bool {
		return len(eventsNamed(t, b, p.ID, "provider_call", "lookup: rejected")) >= 2
	})
	if got := b.Purchase(t, p.ID); flow.Status(got.Status) != flow.StatusProcessing || !hasAlert(t, b, p.ID, "provider_refused") {
		t.Fatalf("refused lookups: %s, want processing with a provider_refused alert", describe(t, b, p.ID))
	}
	wire.Clear()
	if end := waitFor(t, b, p.ID, flow.StatusSucceeded); b.Charges(t, end) != 1 {
		t.Fatalf("charged %d times", b.Charges(t, end))
	}
}

// The expire job fails a purchase still awaiting confirmation at
// INQUIRY_TTL by itself, with nobody calling Confirm: inquiry_expired,
// nothing paid, and a later confirm is refused.
func TestExpireJobExpiresUnconfirmedPurchase(t *testing.T) {
	t.Parallel()
	b := flowtest.Setup(t, flowtest.Options{InquiryTTL: 2 * time.Second})
	p := buyWith(t, b, "expire-job", sandbox.KindNamed("klikoo-pln"), "00", func(r *flow.CreateRequest) { r.Confirmation = "manual" })
	waitFor(t, b, p.ID, flow.StatusAwaitingConfirmation)
	end := waitFor(t, b, p.ID, flow.StatusFailed)
	if deref(end.FailureCode) != "inquiry_expired" || end.PaymentAttempts != 0 || len(eventsNamed(t, b, p.ID, "status", "expire")) != 1 {
		t.Fatalf("%s, want expired by the expire job", describe(t, b, p.ID))
	}
	if _, err := b.Svc.Confirm(context.Background(), b.ClientID, p.ID); !errors.Is(err, flow.ErrInvalidState) {
		t.Fatalf("confirm after expiry: %v", err)
	}
}

// The sweeper re-drives a purchase whose job went missing, in every status
// that is not terminal, and the purchase reaches its end. Each case drives
// its purchase there through the flow, stops the workers, loses the job
// (deleting River's row: staging a lost job, which nothing else can), lets
// the purchase go stale, sweeps, and starts a new process.
func TestSweeperRedrivesEveryOpenStatus(t *testing.T) {
	t.Parallel()
	cases := []struct {
		status flow.Status
		opts   func(*flowtest.Options, *flowtest.Wire, *flowtest.Callbacks)
		// reach creates the purchase and brings it to status; the
		// workers run unless opts set NoStart.
		reach func(t *testing.T, b *flowtest.Env, w *flowtest.Wire, cb *flowtest.Callbacks) store.Purchase
		// stale is how far the clock moves before the sweep.
		stale time.Duration
		// before runs after the sweep, before the new process starts.
		before  func(t *testing.T, b *flowtest.Env, w *flowtest.Wire, cb *flowtest.Callbacks)
		end     flow.Status
		failure string
		charges int
	}{{
		status: flow.StatusReceived,
		opts:   func(o *flowtest.Options, _ *flowtest.Wire, _ *flowtest.Callbacks) { o.NoStart = true },
		reach: func(t *testing.T, b *flowtest.Env, _ *flowtest.Wire, _ *flowtest.Callbacks) store.Purchase {
			return buy(t, b, "sweep-received", sandbox.KindNamed("snapcart-bill"), "00")
		},
		stale: 10 * time.Minute, end: flow.StatusSucceeded, charges: 1,
	}, {
		status: flow.StatusInquiring,
		reach: func(t *testing.T, b *flowtest.Env, _ *flowtest.Wire, _ *flowtest.Callbacks) store.Purchase {
			// Scenario 14: the inquiry times out twice, then answers.
			p := buy(t, b, "sweep-inquiring", sandbox.KindNamed("snapcart-bill"), "14")
			return waitFor(t, b, p.ID, flow.StatusInquiring)
		},
		// Stale, and still inside the inquiry's retry window.
		stale: time.Minute, end: flow.StatusSucceeded, charges: 1,
	}, {
		status: flow.StatusAwaitingConfirmation,
		reach: func(t *testing.T, b *flowtest.Env, _ *flowtest.Wire, _ *flowtest.Callbacks) store.Purchase {
			p := buyWith(t, b, "sweep-awaiting", sandbox.KindNamed("klikoo-pln"), "00", func(r *flow.CreateRequest) { r.Confirmation = "manual" })
			return waitFor(t, b, p.ID, flow.StatusAwaitingConfirmation)
		},
		// Past INQUIRY_TTL (1 h): the re-driven expire job ends it.
		stale: 2 * time.Hour, end: flow.StatusFailed, failure: "inquiry_expired",
	}, {
		status: flow.StatusPaying,
		opts: func(o *flowtest.Options, w *flowtest.Wire, _ *flowtest.Callbacks) {
			o.Intercept, o.ProviderTimeout = w.Intercept, 20*time.Second
		},
		reach: func(t *testing.T, b *flowtest.Env, w *flowtest.Wire, _ *flowtest.Callbacks) store.Purchase {
			// The payment call is in flight (Klikoo processed it, its
			// answer held) when the process stops and cancels its jobs.
			h := w.HoldNext(klikoo.Name, flowtest.OpPayment, nil)
			t.Cleanup(func() { h.Release(false) })
			p := buy(t, b, "sweep-paying", sandbox.KindNamed("klikoo-pulsa"), "00")
			h.Wait(t, settle)
			return b.Purchase(t, p.ID)
		},
		stale: 10 * time.Minute, end: flow.StatusSucceeded, charges: 1,
	}, {
		status: flow.StatusProcessing,
		opts: func(o *flowtest.Options, _ *flowtest.Wire, cb *flowtest.Callbacks) {
			o.LookupBackoff, o.CallbackHandler = never, flowtest.CallbackHandler(cb)
		},
		reach: func(t *testing.T, b *flowtest.Env, _ *flowtest.Wire, _ *flowtest.Callbacks) store.Purchase {
			// Scenario 24: the first lookup answers SUCCESS; it is an hour away.
			p := buy(t, b, "sweep-processing", sandbox.KindNamed("klikoo-pulsa"), "24")
			return waitFor(t, b, p.ID, flow.StatusProcessing)
		},
		stale: 2 * time.Hour, end: flow.StatusSucceeded, charges: 1,
	}, {
		status: flow.StatusNeedsReview,
		opts: func(o *flowtest.Options, _ *flowtest.Wire, cb *flowtest.Callbacks) {
			cb.Hold = true // scenario 51's lookups say pending until its callback is answered
			o.CallbackHandler = flowtest.CallbackHandler(cb)
		},
		reach: func(t *testing.T, b *flowtest.Env, _ *flowtest.Wire, cb *flowtest.Callbacks) store.Purchase {
			p := buy(t, b, "sweep-review", sandbox.KindNamed("snapcart-bill"), "51")
			waitFor(t, b, p.ID, flow.StatusProcessing)
			b.Clock.Advance(2 * time.Hour)
			return waitFor(t, b, p.ID, flow.StatusNeedsReview)
		},
		stale: 10 * time.Minute,
		before: func(t *testing.T, _ *flowtest.Env, _ *flowtest.Wire, cb *flowtest.Callbacks) {
			cb.Next(t, snapcart.Name, 1, settle).Answer() // now Snapcart reports SUCCESS
		},
		end: flow.StatusSucceeded, charges: 1,
	}}
	for _, c := range cases {
		t.Run(string(c.status), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			wire, caught := &flowtest.Wire{}, &flowtest.Callbacks{}
			t.Cleanup(caught.AnswerAll)
			o := flowtest.Options{}
			if c.opts != nil {
				c.opts(&o, wire, caught)
			}
			b := flowtest.Setup(t, o)
			p := c.reach(t, b, wire, caught)
			if flow.Status(p.Status) != c.status {
				t.Fatalf("reached %s, want %s", p.Status, c.status)
			}
			if !o.NoStart {
				stop, cancel := context.WithTimeout(ctx, settle)
				defer cancel()
				if err := b.Svc.River().StopAndCancel(stop); err != nil {
					t.Fatal(err)
				}
			}
			if got := b.Purchase(t, p.ID); flow.Status(got.Status) != c.status {
				t.Fatalf("stopping moved the purchase: %s", describe(t, b, p.ID))
			}
			// The job went missing.
			if _, err := b.Pool.Exec(ctx, "DELETE FROM river_job WHERE args->>'purchase_id' = $1", p.ID.String()); err != nil {
				t.Fatal(err)
			}
			if n, err := b.Svc.Sweep(ctx); err != nil || n != 0 {
				t.Fatalf("a purchase moved moments ago was swept: %d %v", n, err)
			}
			b.Clock.Advance(c.stale)
			if n, err := b.Svc.Sweep(ctx); err != nil || n != 1 {
				t.Fatalf("sweep re-drove %d (%v), want 1", n, err)
			}
			if n, err := b.Svc.Sweep(ctx); err != nil || n != 0 {
				t.Fatalf("a second sweep re-drove %d (%v), want 0: the job exists", n, err)
			}
			if c.before != nil {
				c.before(t, b, wire, caught)
			}
			next := flowtest.Second(t, b)
			if err := next.Start(ctx); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = next.Stop(context.Background()) })
			end := waitFor(t, b, p.ID, c.end)
			if deref(end.FailureCode) != c.failure || b.Charges(t, end) != c.charges {
				t.Fatalf("%s, charged %d times; want failure %q, %d charges", describe(t, b, p.ID), b.Charges(t, end), c.failure, c.charges)
			}
			checkPath(t, b, string(c.status), end)
		})
	}
}

// needs_review is not the end of lookups: they go on (hourly; here every
// 200 ms), a late SUCCESS completes the purchase, and at the end of the
// review window (7 days past the deadline) they stop for good, even for
// the sweeper.
func TestLookupsInReview(t *testing.T) {
	t.Parallel()
	t.Run("late success", func(t *testing.T) {
		t.Parallel()
		caught := &flowtest.Callbacks{Hold: true}
		t.Cleanup(caught.AnswerAll)
		b := flowtest.Setup(t, flowtest.Options{CallbackHandler: flowtest.CallbackHandler(caught)})
		p := buy(t, b, "review-late", sandbox.KindNamed("snapcart-bill"), "51")
		waitFor(t, b, p.ID, flow.StatusProcessing)
		b.Clock.Advance(2 * time.Hour)
		at := waitFor(t, b, p.ID, flow.StatusNeedsReview).Lookups
		waitUntil(t, func() string { return describe(t, b, p.ID) }, func() bool { return b.Purchase(t, p.ID).Lookups >= at+2 })
		if got := b.Purchase(t, p.ID); flow.Status(got.Status) != flow.StatusNeedsReview {
			t.Fatalf("%s", describe(t, b, p.ID))
		}
		caught.Next(t, snapcart.Name, 1, settle).Answer() // Snapcart now reports SUCCESS
		end := waitFor(t, b, p.ID, flow.StatusSucceeded)
		if path := statusPath(t, b, p.ID); path[len(path)-2] != string(flow.StatusNeedsReview) || b.Charges(t, end) != 1 {
			t.Fatalf("path %v, %d charges; want needs_review → succeeded, charged once", path, b.Charges(t, end))
		}
	})
	t.Run("window ends", func(t *testing.T) {
		t.Parallel()
		b := flowtest.Setup(t, flowtest.Options{})
		p := reviewed(t, b, "review-over", sandbox.KindNamed("klikoo-pulsa"))
		b.Clock.Advance(8 * 24 * time.Hour)
		waitUntil(t, func() string { return describe(t, b, p.ID) }, func() bool { return openLookups(t, b, p.ID) == 0 })
		if got := b.Purchase(t, p.ID); flow.Status(got.Status) != flow.StatusNeedsReview {
			t.Fatalf("%s", describe(t, b, p.ID))
		}
		b.Clock.Advance(time.Hour)
		if n, err := b.Svc.Sweep(context.Background()); err != nil || n != 0 {
			t.Fatalf("the sweeper re-drove %d purchases past their review window (%v)", n, err)
		}
		if n := openLookups(t, b, p.ID); n != 0 {
			t.Fatalf("%d lookups wait after the review window", n)
		}
		// The sweeper's read leaves it out: purchases past their window
		// would otherwise take the places of its batch, ahead of those
		// whose lookup went missing. Read with the window reaching back
		// further, it is there.
		now := b.Clock.Now()
		for _, c := range []struct {
			from time.Time
			want int
		}{{now.Add(-7 * 24 * time.Hour), 0}, {now.Add(-30 * 24 * time.Hour), 1}} {
			rows, err := b.Q.PurchaseListStale(context.Background(), store.PurchaseListStaleParams{
				Statuses: []string{string(flow.StatusNeedsReview)}, Before: now, RowLimit: 1000, ReviewFrom: c.from,
			})
			if err != nil || len(rows) != c.want {
				t.Fatalf("stale needs_review purchases with the window from %s: %d (%v), want %d", c.from, len(rows), err, c.want)
			}
		}
	})
}
