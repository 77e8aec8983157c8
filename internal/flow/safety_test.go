package flow_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/ppob-orchestrator/orchestrator/internal/flow"
	"github.com/ppob-orchestrator/orchestrator/internal/flowtest"
	"github.com/ppob-orchestrator/orchestrator/internal/providers/klikoo"
	"github.com/ppob-orchestrator/orchestrator/internal/providers/simkit"
	"github.com/ppob-orchestrator/orchestrator/internal/providers/snapcart"
	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

func create(t *testing.T, b *flowtest.Env, ref, product, customer string) store.Purchase {
	t.Helper()
	req := flow.CreateRequest{ClientID: b.ClientID, ReferenceID: ref, ProductCode: product, CustomerNumber: customer, AllowRepeat: true}
	if product == "ML-DIAMONDS-86" {
		req.CustomerNumber, req.UserID, req.ZoneID = "", customer, "SEA"
	}
	p, _, err := b.Svc.Create(context.Background(), req)
	if err != nil {
		t.Fatalf("create %s: %v", ref, err)
	}
	return p
}

func waitStatus(t *testing.T, b *flowtest.Env, id uuid.UUID, want flow.Status) store.Purchase {
	t.Helper()
	flowtest.WaitFor(t, 60*time.Second, func() string {
		p := b.Purchase(t, id)
		return fmt.Sprintf("purchase %s is %s (%s), want %s", id, p.Status, deref(p.FailureCode), want)
	}, func() bool { return flow.Status(b.Purchase(t, id).Status) == want })
	return b.Purchase(t, id)
}

func paymentCalls(t *testing.T, b *flowtest.Env, id uuid.UUID) int {
	t.Helper()
	var n int
	if err := b.Pool.QueryRow(context.Background(), "SELECT count(*) FROM provider_calls WHERE purchase_id = $1 AND operation = 'payment'", id).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// crashAfterIntent puts a purchase where a payment job that crashed mid-call
// leaves it: paying, reference fixed, one attempt committed and in flight.
func crashAfterIntent(t *testing.T, b *flowtest.Env, id uuid.UUID, amount int64) string {
	t.Helper()
	ref := uuid.NewString()
	if _, err := b.Pool.Exec(context.Background(), `UPDATE purchases SET status = 'paying', amount = $2,
		provider_reference = $3, payment_attempts = 1, payment_in_flight = true, payment_last_sent_at = now(),
		deadline_at = now() + interval '1 hour' WHERE id = $1`, id, amount, ref); err != nil {
		t.Fatal(err)
	}
	return ref
}

// Invariant 2: a payment job that finds its attempt already in flight (it
// crashed, or River delivered it twice) does not call: the purchase goes to
// processing, lookups find nothing, and only the sanctioned repeat — same
// reference — buys, once.
func TestRestartedPaymentJobNeverCallsAgain(t *testing.T) {
	t.Parallel()
	b := flowtest.Setup(t, flowtest.Options{NoStart: true})
	ctx := context.Background()
	p := create(t, b, "crash-1", "S10", "081211112222")
	ref := crashAfterIntent(t, b, p.ID, 10150)
	if err := b.Svc.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Svc.Stop(context.Background()) })

	end := waitStatus(t, b, p.ID, flow.StatusSucceeded)
	events, _ := b.Q.EventListByPurchase(ctx, p.ID)
	sawUnknown := false
	for _, e := range events {
		sawUnknown = sawUnknown || e.Name == "payment_outcome_unknown"
	}
	if !sawUnknown {
		t.Fatal("no payment_outcome_unknown event: the restarted job did not take the unknown path")
	}
	if deref(end.ProviderReference) != ref {
		t.Fatalf("provider reference changed from %s to %s", ref, deref(end.ProviderReference))
	}
	// One call only — the sanctioned repeat after two not_found lookups.
	if n := paymentCalls(t, b, p.ID); n != 1 {
		t.Fatalf("%d payment calls recorded, want exactly the one repeat", n)
	}
	if c := b.Charges(t, end); c != 1 {
		t.Fatalf("charged %d times", c)
	}
}

// Every step runs twice (River delivers at least once): a second delivery of
// any step of a finished purchase changes nothing.
func TestJobsDeliveredTwiceChangeNothing(t *testing.T) {
	t.Parallel()
	b := flowtest.Setup(t, flowtest.Options{})
	ctx := context.Background()
	p := create(t, b, "twice-1", "PLN20", "551234560001")
	done := waitStatus(t, b, p.ID, flow.StatusSucceeded)
	// The purchase settles before its last event: the simulator's SUCCESS
	// callback comes a second after the payment, and the lookup it
	// triggers may be mid-call when another one ends the purchase (it then
	// records its call). Wait for both, so only a re-delivery can add one.
	var before []store.PurchaseEvent
	flowtest.WaitFor(t, 30*time.Second, func() string { return "the callback never came or a job never finished" }, func() bool {
		var open int
		_ = b.Pool.QueryRow(ctx, "SELECT count(*) FROM river_job WHERE state NOT IN ('completed', 'discarded', 'cancelled')").Scan(&open)
		before, _ = b.Q.EventListByPurchase(ctx, p.ID)
		for _, e := range before {
			if e.Kind == "callback" {
				return open == 0
			}
		}
		return false
	})

	// Deliver every completed step of the purchase again.
	client := b.Svc.River()
	jobs, err := client.JobList(ctx, river.NewJobListParams().States(rivertype.JobStateCompleted).First(100))
	if err != nil {
		t.Fatal(err)
	}
	retried := 0
	for _, j := range jobs.Jobs {
		if _, err := client.JobRetry(ctx, j.ID); err != nil {
			t.Fatal(err)
		}
		retried++
	}
	if retried < 3 {
		t.Fatalf("only %d completed steps to deliver again, want inquiry, payment and lookup", retried)
	}
	flowtest.WaitFor(t, 30*time.Second, func() string { return "the re-delivered jobs never finished" }, func() bool {
		var open int
		_ = b.Pool.QueryRow(ctx, "SELECT count(*) FROM river_job WHERE state NOT IN ('completed', 'discarded', 'cancelled')").Scan(&open)
		return open == 0
	})
	after := b.Purchase(t, p.ID)
	events, _ := b.Q.EventListByPurchase(ctx, p.ID)
	if !after.UpdatedAt.Equal(done.UpdatedAt) || len(events) != len(before) {
		var added []string
		for _, e := range events[min(len(before), len(events)):] {
			added = append(added, e.Kind+" "+e.Name+" at "+e.CreatedAt.String())
		}
		t.Fatalf("a second delivery changed the purchase: updated %v → %v, events %d → %d, added %v (completed at %v)",
			done.UpdatedAt, after.UpdatedAt, len(before), len(events), added, deref(done.CompletedAt))
	}
	if c := b.Charges(t, after); c != 1 {
		t.Fatalf("charged %d times", c)
	}
}

// Two services (as two processes) on one database share the work: every
// purchase ends once, charged once, with a valid path.
func TestTwoWorkersRace(t *testing.T) {
	t.Parallel()
	b := flowtest.Setup(t, flowtest.Options{})
	second := flowtest.Second(t, b)
	if err := second.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = second.Stop(context.Background()) })
	var ids []uuid.UUID
	for i := range 40 {
		product, cust := "S10", fmt.Sprintf("0812%08d", i)
		if i%2 == 1 {
			product, cust = "TELKOM_POSTPAID", fmt.Sprintf("0813%08d", i)
		}
		ids = append(ids, create(t, b, fmt.Sprintf("race-%d", i), product, cust).ID)
	}
	for _, id := range ids {
		p := waitStatus(t, b, id, flow.StatusSucceeded)
		if c := b.Charges(t, p); c != 1 {
			t.Fatalf("%s charged %d times", id, c)
		}
		checkPath(t, b, id.String(), p)
	}
	// Both did the work: River records which client attempted each job.
	steps := map[string]int{}
	rows, err := b.Pool.Query(context.Background(), `SELECT unnest(attempted_by), count(*) FROM river_job
		WHERE kind LIKE 'purchase_%' GROUP BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var client string
		var n int
		if err := rows.Scan(&client, &n); err != nil {
			t.Fatal(err)
		}
		steps[client] = n
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*flow.Service{b.Svc, second} {
		if steps[c.River().ID()] == 0 {
			t.Fatalf("service %s ran no purchase step (steps per client: %v)", c.River().ID(), steps)
		}
	}
}

// Confirming the same purchase many times at once moves it once.
func TestConcurrentConfirmsMoveOnce(t *testing.T) {
	t.Parallel()
	b := flowtest.Setup(t, flowtest.Options{})
	ctx := context.Background()
	p, _, err := b.Svc.Create(ctx, flow.CreateRequest{ClientID: b.ClientID, ReferenceID: "manual-1", ProductCode: "PLN20", CustomerNumber: "551234560002", Confirmation: "manual"})
	if err != nil {
		t.Fatal(err)
	}
	waitStatus(t, b, p.ID, flow.StatusAwaitingConfirmation)
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := b.Svc.Confirm(ctx, b.ClientID, p.ID)
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("a repeated confirm failed: %v", err)
		}
	}
	end := waitStatus(t, b, p.ID, flow.StatusSucceeded)
	var confirms int
	_ = b.Pool.QueryRow(ctx, "SELECT count(*) FROM purchase_events WHERE purchase_id = $1 AND name = 'confirm'", p.ID).Scan(&confirms)
	if confirms != 1 || b.Charges(t, end) != 1 {
		t.Fatalf("%d confirm events, %d charges; want 1 and 1", confirms, b.Charges(t, end))
	}
	// Confirmed before: answers as it is now. Cancel after paying: refused.
	if _, err := b.Svc.Confirm(ctx, b.ClientID, p.ID); err != nil {
		t.Fatalf("confirm after success: %v", err)
	}
	if _, err := b.Svc.Cancel(ctx, b.ClientID, p.ID); !errors.Is(err, flow.ErrInvalidState) {
		t.Fatalf("cancel after paying: %v, want ErrInvalidState", err)
	}
	// Another client sees nothing.
	if _, err := b.Svc.Confirm(ctx, uuid.New(), p.ID); !errors.Is(err, flow.ErrNotFound) {
		t.Fatalf("confirm by another client: %v, want ErrNotFound", err)
	}
}

// Cancel works before any payment call; an unconfirmed purchase expires.
func TestCancelAndExpiry(t *testing.T) {
	t.Parallel()
	b := flowtest.Setup(t, flowtest.Options{InquiryTTL: time.Minute})
	ctx := context.Background()
	mk := func(ref, cust string) store.Purchase {
		p, _, err := b.Svc.Create(ctx, flow.CreateRequest{ClientID: b.ClientID, ReferenceID: ref, ProductCode: "PLN20", CustomerNumber: cust, Confirmation: "manual"})
		if err != nil {
			t.Fatal(err)
		}
		return waitStatus(t, b, p.ID, flow.StatusAwaitingConfirmation)
	}
	c := mk("cancel-1", "551234560003")
	got, err := b.Svc.Cancel(ctx, b.ClientID, c.ID)
	if err != nil || flow.Status(got.Status) != flow.StatusCanceled {
		t.Fatalf("cancel: %v %s", err, got.Status)
	}
	if _, err := b.Svc.Confirm(ctx, b.ClientID, c.ID); !errors.Is(err, flow.ErrInvalidState) {
		t.Fatalf("confirm after cancel: %v", err)
	}
	e := mk("expire-1", "551234560004")
	b.Clock.Advance(2 * time.Minute)
	if _, err := b.Svc.Confirm(ctx, b.ClientID, e.ID); !errors.Is(err, flow.ErrInvalidState) {
		t.Fatalf("confirm after expiry: %v", err)
	}
	end := waitStatus(t, b, e.ID, flow.StatusFailed)
	if deref(end.FailureCode) != "inquiry_expired" || b.Charges(t, end) != 0 || b.Charges(t, c) != 0 {
		t.Fatalf("expired: %s, charges %d/%d", deref(end.FailureCode), b.Charges(t, end), b.Charges(t, c))
	}
}

// A signed callback may complete a purchase still in paying (its call in
// flight); the payment job then finds it moved and does nothing. A repeat of
// the same callback is a duplicate; a later FAILED is a contradiction. Each
// callback's row is written once, with what was done with it: a trigger
// refuses any update.
func TestSignedCallbackBeforeTheAnswer(t *testing.T) {
	t.Parallel()
	b := flowtest.Setup(t, flowtest.Options{NoStart: true, Signed: true})
	ctx := context.Background()
	if _, err := b.Pool.Exec(ctx, `
		CREATE FUNCTION callbacks_written_once() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN RAISE EXCEPTION 'callback % updated', OLD.id; END $$;
		CREATE TRIGGER callbacks_written_once BEFORE UPDATE ON callbacks FOR EACH ROW EXECUTE FUNCTION callbacks_written_once();`); err != nil {
		t.Fatal(err)
	}
	p := create(t, b, "cb-1", "TSEL10", "081233330001")
	ref := p.ID.String()
	if _, err := b.Pool.Exec(ctx, `UPDATE purchases SET status = 'paying', amount = 10150, provider_reference = $2,
		payment_attempts = 1, payment_in_flight = true, payment_last_sent_at = now() WHERE id = $1`, p.ID, ref); err != nil {
		t.Fatal(err)
	}
	secret := []byte(b.Creds.SnapcartCallbackSecret)
	body := func(code, msg string) []byte {
		return fmt.Appendf(nil, `{"request_id":"01JABCDEFGHJKMNPQRSTVWXYZ0","reference_id":%q,"product_code":"TSEL10","bill_amount":10150,"bill_number":"081233330001","status_code":%q,"status_message":%q,"biller_code":%q,"biller_message":%q,"serial_number":"SN-1"}`,
			ref, code, msg, code, msg)
	}
	ok := body("200", "Transaction successful")
	action, err := b.Svc.HandleCallback(ctx, snapcart.Name, ok, snapcart.SignCallback(secret, ok))
	if err != nil || action != flow.CallbackApplied {
		t.Fatalf("signed success: %q %v", action, err)
	}
	if got := flow.Status(b.Purchase(t, p.ID).Status); got != flow.StatusSucceeded {
		t.Fatalf("after a signed success the purchase is %s", got)
	}
	if action, _ := b.Svc.HandleCallback(ctx, snapcart.Name, ok, snapcart.SignCallback(secret, ok)); action != flow.CallbackDuplicate {
		t.Fatalf("same callback again: %q", action)
	}
	bad := body("400", "Transaction failed")
	if action, _ := b.Svc.HandleCallback(ctx, snapcart.Name, bad, snapcart.SignCallback(secret, bad)); action != flow.CallbackContradiction {
		t.Fatalf("failed after success: %q", action)
	}
	forged := body("400", "Transaction failed ")
	if action, _ := b.Svc.HandleCallback(ctx, snapcart.Name, forged, "00"+snapcart.SignCallback(secret, forged)[2:]); action != flow.CallbackContradiction {
		t.Fatalf("an unauthenticated report contradicting a terminal purchase is still recorded: %q", action)
	}
	other := bytes.Replace(ok, []byte(ref), []byte(uuid.NewString()), 1)
	if action, _ := b.Svc.HandleCallback(ctx, snapcart.Name, other, snapcart.SignCallback(secret, other)); action != flow.CallbackUnmatched {
		t.Fatalf("a callback for no purchase: %q", action)
	}
	if action, _ := b.Svc.HandleCallback(ctx, snapcart.Name, []byte("not json"), ""); action != flow.CallbackUnreadable {
		t.Fatalf("an unreadable callback: %q", action)
	}
	var stored string
	if err := b.Pool.QueryRow(ctx, `SELECT string_agg(concat_ws(' ', action, outcome, purchase_id = $1), ', ' ORDER BY id) FROM callbacks`, p.ID).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if want := "applied succeeded t, contradiction failed t, contradiction failed t, unmatched succeeded, unreadable unknown"; stored != want {
		t.Fatalf("callbacks stored as %q, want %q", stored, want)
	}
	// The payment job, running now, finds the purchase moved and never calls.
	if err := b.Svc.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Svc.Stop(context.Background()) })
	flowtest.WaitFor(t, 30*time.Second, func() string { return "payment job never finished" }, func() bool {
		var open int
		_ = b.Pool.QueryRow(ctx, "SELECT count(*) FROM river_job WHERE state NOT IN ('completed', 'discarded', 'cancelled')").Scan(&open)
		return open == 0
	})
	if n := paymentCalls(t, b, p.ID); n != 0 {
		t.Fatalf("%d payment calls after the purchase was complete", n)
	}
	if got := flow.Status(b.Purchase(t, p.ID).Status); got != flow.StatusSucceeded {
		t.Fatalf("the contradiction was applied: %s", got)
	}
}

// A callback for no purchase of ours is stored and marked unmatched.
func TestUnmatchedCallback(t *testing.T) {
	t.Parallel()
	b := flowtest.Setup(t, flowtest.Options{NoStart: true})
	body := []byte(`{"response_code":"200022000","response_message":"Sukses","partner_reference_id":"not-ours","transaction_id":"1","amount":"1000","transaction_status":"SUCCESS","sn":"x","value":"1","product_code":"S10"}`)
	action, err := b.Svc.HandleCallback(context.Background(), klikoo.Name, body, "")
	if err != nil || action != flow.CallbackUnmatched {
		t.Fatalf("%q %v", action, err)
	}
	if _, err := b.Svc.HandleCallback(context.Background(), "acme", body, ""); !errors.Is(err, flow.ErrNotFound) {
		t.Fatalf("unknown provider: %v", err)
	}
}

// The sweeper re-drives a purchase whose job went missing, and only once.
func TestSweeperRedrivesLostJobs(t *testing.T) {
	t.Parallel()
	b := flowtest.Setup(t, flowtest.Options{NoStart: true})
	ctx := context.Background()
	p := create(t, b, "sweep-1", "S10", "081211113333")
	if _, err := b.Pool.Exec(ctx, "DELETE FROM river_job"); err != nil {
		t.Fatal(err)
	}
	if n, err := b.Svc.Sweep(ctx); err != nil || n != 0 {
		t.Fatalf("a fresh purchase was swept: %d %v", n, err)
	}
	b.Clock.Advance(10 * time.Minute)
	if n, err := b.Svc.Sweep(ctx); err != nil || n != 1 {
		t.Fatalf("sweep re-drove %d (%v), want 1", n, err)
	}
	if n, err := b.Svc.Sweep(ctx); err != nil || n != 0 {
		t.Fatalf("second sweep re-drove %d (%v), want 0: the job exists", n, err)
	}
	if err := b.Svc.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Svc.Stop(context.Background()) })
	if c := b.Charges(t, waitStatus(t, b, p.ID, flow.StatusSucceeded)); c != 1 {
		t.Fatalf("charged %d times", c)
	}
}

// Invariant 12: a call refused before anything happened (here: a wrong client
// secret, so a bad signature) never fails the purchase early: the step backs
// off and alerts; it fails only at its deadline, provider_refused
// (docs/api.md#failure-codes: every call was refused before anything
// happened).
func TestRefusedCallsBackOffUntilTheDeadline(t *testing.T) {
	t.Parallel()
	b := flowtest.Setup(t, flowtest.Options{BadKlikooSecret: true})
	ctx := context.Background()
	p := create(t, b, "refused-1", "S10", "081211114444")
	flowtest.WaitFor(t, 30*time.Second, func() string { return "no provider_refused alert" }, func() bool {
		var n int
		_ = b.Pool.QueryRow(ctx, "SELECT count(*) FROM alerts WHERE purchase_id = $1 AND kind = 'provider_refused'", p.ID).Scan(&n)
		return n == 1
	})
	mid := b.Purchase(t, p.ID)
	if flow.Status(mid.Status) != flow.StatusPaying || mid.PaymentUncertain {
		t.Fatalf("a refused payment moved the purchase to %s (uncertain=%v)", mid.Status, mid.PaymentUncertain)
	}
	b.Clock.Advance(2 * time.Hour)
	end := waitStatus(t, b, p.ID, flow.StatusFailed)
	if deref(end.FailureCode) != "provider_refused" || b.Charges(t, end) != 0 {
		t.Fatalf("failure %q, charges %d", deref(end.FailureCode), b.Charges(t, end))
	}
}

// Resolve: only from needs_review; failed is refused while the provider says
// pending, unless forced with a note; succeeded needs the serial (for a PLN
// token, one holding the token).
func TestResolve(t *testing.T) {
	t.Parallel()
	b := flowtest.Setup(t, flowtest.Options{})
	ctx := context.Background()
	p := create(t, b, "review-1", "PLN20", "551234569941")
	waitStatus(t, b, p.ID, flow.StatusProcessing)
	if _, err := b.Svc.Resolve(ctx, p.ID, flow.ResolveRequest{Status: flow.StatusFailed, Note: "x"}); !errors.Is(err, flow.ErrInvalidState) {
		t.Fatalf("resolve from processing: %v", err)
	}
	b.Clock.Advance(2 * time.Hour)
	waitStatus(t, b, p.ID, flow.StatusNeedsReview)
	var verr *flow.ValidationError
	if _, err := b.Svc.Resolve(ctx, p.ID, flow.ResolveRequest{Status: flow.StatusSucceeded, Note: "paid"}); !errors.As(err, &verr) {
		t.Fatalf("succeeded without serial: %v", err)
	}
	if _, err := b.Svc.Resolve(ctx, p.ID, flow.ResolveRequest{Status: flow.StatusSucceeded, Note: "paid", SerialNumber: "123"}); !errors.As(err, &verr) {
		t.Fatalf("PLN succeeded without a token: %v", err)
	}
	if _, err := b.Svc.Resolve(ctx, p.ID, flow.ResolveRequest{Status: flow.StatusFailed, Note: "gave up"}); !errors.Is(err, flow.ErrInvalidState) {
		t.Fatalf("failed while the provider says pending: %v", err)
	}
	got, err := b.Svc.Resolve(ctx, p.ID, flow.ResolveRequest{Status: flow.StatusFailed, Note: "Klikoo support confirmed no charge, ticket 77", Force: true, Operator: "ops"})
	if err != nil || flow.Status(got.Status) != flow.StatusFailed || deref(got.FailureCode) != "resolved_by_operator" {
		t.Fatalf("forced fail: %v %s %s", err, got.Status, deref(got.FailureCode))
	}
	var notes int
	_ = b.Pool.QueryRow(ctx, "SELECT count(*) FROM purchase_events WHERE purchase_id = $1 AND actor = 'operator' AND data->>'note' LIKE 'Klikoo support%'", p.ID).Scan(&notes)
	if notes < 1 {
		t.Fatal("the operator's note is not in the audit trail")
	}
}

// A signed callback that ends a purchase cancels its sleeping lookup in the
// same transaction: the lookup never wakes to call the provider for an ended
// purchase (a first lookup run calls without reading the purchase first).
func TestCallbackCancelsTheSleepingLookup(t *testing.T) {
	t.Parallel()
	// Scenario 51: lookups say pending until the (signed) callback is
	// sent. The simulator's callback is caught and handed over while the
	// lookup sleeps on its 3 s interval, well within the test's wait.
	caught := &flowtest.Callbacks{Hold: true}
	t.Cleanup(caught.AnswerAll)
	b := flowtest.Setup(t, flowtest.Options{Signed: true, LookupBackoff: []time.Duration{100 * time.Millisecond, 3 * time.Second},
		CallbackHandler: flowtest.CallbackHandler(caught)})
	ctx := context.Background()
	p := create(t, b, "cancel-1", "TELKOM_POSTPAID", "081312349951")
	cb := caught.Next(t, snapcart.Name, 1, 60*time.Second)
	var (
		job         int64
		scheduledAt time.Time
	)
	sleeping := func() bool {
		var state string
		err := b.Pool.QueryRow(ctx, `SELECT id, state::text, scheduled_at FROM river_job WHERE kind = 'purchase_lookup' AND args->>'purchase_id' = $1
			ORDER BY id DESC LIMIT 1`, p.ID.String()).Scan(&job, &state, &scheduledAt)
		// Asleep on the long interval, with time to spare for the callback.
		return err == nil && b.Purchase(t, p.ID).Lookups >= 2 && (state == "available" || state == "scheduled") &&
			time.Until(scheduledAt) > 1500*time.Millisecond
	}
	flowtest.WaitFor(t, 60*time.Second, func() string { return "the lookup never slept on its long interval" }, sleeping)
	action, err := b.Svc.HandleCallback(ctx, snapcart.Name, cb.Body, cb.Signature)
	if err != nil || action != flow.CallbackApplied {
		t.Fatalf("signed success: %q %v", action, err)
	}
	cb.Answer()
	done := b.Purchase(t, p.ID)
	if flow.Status(done.Status) != flow.StatusSucceeded {
		t.Fatalf("after the signed callback the purchase is %s", done.Status)
	}
	var state string
	if err := b.Pool.QueryRow(ctx, `SELECT state::text FROM river_job WHERE id = $1`, job).Scan(&state); err != nil || state != "cancelled" {
		t.Fatalf("the sleeping lookup is %q (%v), want cancelled", state, err)
	}
	// Wait until the lookup's time has come and no lookup of the purchase
	// is due or running: a lookup that was not cancelled has run by then.
	flowtest.WaitFor(t, 60*time.Second, func() string { return "a lookup of the ended purchase is still due or running" }, func() bool {
		return time.Now().After(scheduledAt) && count(t, b, `SELECT count(*) FROM river_job WHERE kind = 'purchase_lookup'
			AND args->>'purchase_id' = $1 AND state IN ('available', 'running', 'retryable', 'scheduled', 'pending') AND scheduled_at <= now()`, p.ID.String()) == 0
	})
	for _, e := range timeline(t, b, p.ID) {
		if e.Kind == "provider_call" && strings.HasPrefix(e.Name, "lookup: ") && e.CreatedAt.After(deref(done.CompletedAt)) {
			t.Fatalf("a lookup called after the purchase ended: %s at %s", e.Name, e.CreatedAt)
		}
	}
}

// A first inquiry calls before it commits anything: a cancel while the call
// is in flight finds the purchase received and wins; the answer is recorded
// and changes nothing, and no payment follows.
func TestCancelDuringTheFirstInquiryCall(t *testing.T) {
	t.Parallel()
	b := flowtest.Setup(t, flowtest.Options{})
	ctx := context.Background()
	// Under the provider timeout of the tests (700 ms): each call is slow, not lost.
	b.Sims.Klikoo.Faults().Set(simkit.Faults{LatencyMS: 400})
	p := create(t, b, "cancel-inflight-1", "PLN20", "551234560007")
	jobState := func() string {
		var st string
		err := b.Pool.QueryRow(ctx, `SELECT state::text FROM river_job WHERE kind = 'purchase_inquiry' AND args->>'purchase_id' = $1`, p.ID.String()).Scan(&st)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	flowtest.WaitFor(t, 30*time.Second, func() string { return "inquiry job is " + jobState() }, func() bool { return jobState() == "running" })
	if got := b.Purchase(t, p.ID); flow.Status(got.Status) != flow.StatusReceived {
		t.Fatalf("during the first inquiry call the purchase is %s, want received (nothing committed before the call)", got.Status)
	}
	got, err := b.Svc.Cancel(ctx, b.ClientID, p.ID)
	if err != nil || flow.Status(got.Status) != flow.StatusCanceled {
		t.Fatalf("cancel during the call: %v %s", err, got.Status)
	}
	flowtest.WaitFor(t, 30*time.Second, func() string { return "inquiry job is " + jobState() }, func() bool { return jobState() == "completed" })
	end := b.Purchase(t, p.ID)
	if flow.Status(end.Status) != flow.StatusCanceled || end.InquiryAttempts != 0 || b.Charges(t, end) != 0 || paymentCalls(t, b, p.ID) != 0 {
		t.Fatalf("after the answer: %s, %d inquiry attempts counted, %d charges, %d payment calls; want canceled and nothing else",
			end.Status, end.InquiryAttempts, b.Charges(t, end), paymentCalls(t, b, p.ID))
	}
	events, err := b.Q.EventListByPurchase(ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	var statuses []string
	inquiries := 0
	for _, e := range events {
		switch {
		case e.Kind == "status":
			statuses = append(statuses, e.Name)
		case e.Kind == "provider_call" && strings.HasPrefix(e.Name, "inquiry: "):
			inquiries++
		}
	}
	if strings.Join(statuses, ",") != "cancel" || inquiries != 1 {
		t.Fatalf("status changes %v and %d inquiry calls recorded; want only the cancel, and the one call", statuses, inquiries)
	}
}
