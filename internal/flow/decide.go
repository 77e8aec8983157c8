package flow

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/ppob-orchestrator/orchestrator/internal/providers"
	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

// This file and the other decide*.go files are the purchase's pure core:
// what a step does with what it learned is a function of the purchase, the
// answer, the time, the provider's policy and the rules, returning a Step
// (a plan). They do no I/O: no context, no SQL, no River, no clock, no
// randomness (decide_test.go holds them to it). The workers and actions
// beside them read, call the provider, and execute the Step in one
// transaction (exec.go).

// Rules are the durations a decision applies: the configuration, as
// docs/configuration.md describes it.
type Rules struct {
	StatusDeadline      time.Duration
	PaymentRepeatMinAge time.Duration
	InquiryTTL          time.Duration
	InquiryRetryWindow  time.Duration
	PriceRefreshWindow  time.Duration
	// FailoverRefusedAfter is how long a step refused before anything
	// happened (invariant 12) waits before another offer is tried.
	FailoverRefusedAfter time.Duration
	// LookupBackoff is the snooze schedule of status lookups; its last
	// value repeats until the status deadline.
	LookupBackoff []time.Duration
	// ReviewLookupEvery and ReviewLookupFor: a needs_review purchase is
	// looked up this often, for this long after its deadline.
	ReviewLookupEvery time.Duration
	ReviewLookupFor   time.Duration
	// StepBackoff doubles up to StepBackoffMax between retries of a step
	// that was refused or got no answer.
	StepBackoff    time.Duration
	StepBackoffMax time.Duration
}

// Step is what a decision plans, for the executor to carry out in one
// transaction: the status changes in order (each with its audit event and
// its webhook message), the purchase's fields as the step leaves them, the
// notes and alerts, the jobs to queue, and whether the current job runs
// again later. A Step never calls anything; it is data.
type Step struct {
	// Purchase is the purchase as the step leaves it.
	Purchase store.Purchase
	// Moves are the status changes, in order.
	Moves []Move
	// Notes are timeline entries that change no status.
	Notes []Note
	// Alerts are raised for operators (once per purchase and kind).
	Alerts []Alert
	// Jobs are queued in the step's transaction.
	Jobs []Job
	// Snooze, when positive, runs the current job again after it instead
	// of completing it.
	Snooze time.Duration
	// Call is set by a payment intent: the job makes the payment call now,
	// after the intent commits.
	Call bool
	// Refusal says why an action (confirm, cancel, resolve) was refused;
	// the Step may still change things (an expiry, a provider's word).
	Refusal string
	// AskNext: the decision would fail over and needs the next offer
	// (NextOffer); the shell reads it and decides again. Nothing else of such a
	// Step is carried out.
	AskNext bool
	// Ended is the attempt a failover ended, to record; Failover says what
	// the failover was.
	Ended    *EndedAttempt
	Failover *Failover
	// Err is a decision that asked for an impossible move: a bug, which
	// the executor refuses to carry out.
	Err error

	now time.Time
}

// Move is one status change: the event, its name and data in the
// timeline, who made it, and the purchase as the change writes it.
type Move struct {
	Event    Event
	Name     string // the event's name in the timeline (default: Event)
	Actor    string // system, client, operator or provider
	Data     map[string]any
	Purchase store.Purchase
}

// Note is a timeline entry that changes no status.
type Note struct {
	Name  string
	Actor string // default system
	Data  map[string]any
}

// Alert is something an operator must look at. Provider is the provider
// it concerns when not the purchase's current one.
type Alert struct {
	Kind     string
	Provider string
	Message  string
	Data     map[string]any
}

// JobKind is a step the flow can queue.
type JobKind string

// The jobs a Step may queue.
const (
	JobPayment JobKind = "payment"
	JobLookup  JobKind = "lookup"
	JobExpire  JobKind = "expire"
	JobInquiry JobKind = "inquiry"
)

// Job is a job to queue: its kind, how long from now it runs, and for a
// lookup whether it is a single look (a callback's hint) or the check of an
// attempt the purchase moved on from, and for a payment whether it is the
// sanctioned repeat (of which payment attempt). Every job carries the
// purchase's attempt as the step leaves it.
type Job struct {
	Kind   JobKind
	After  time.Duration
	Once   bool
	Repeat int // a payment job that repeats as this payment attempt (0: not a repeat)
	Check  int // a lookup of this ended attempt (0: of the current one)
}

// Price is the catalog's price of a product as a decision sees it: Amount
// (0 when the catalog has none) and whether it was fetched within
// PRICE_MAX_AGE (the shell refreshes a stale price before deciding).
type Price struct {
	Amount int64
	Fresh  bool
}

// newStep starts a Step that leaves p as it is.
func newStep(p store.Purchase, now time.Time) Step {
	return Step{Purchase: p, now: now}
}

// move changes the status by ev, recording the purchase as it is now under
// the new status. A move the machine does not allow marks the Step as a
// bug (Err) and changes nothing.
func (st *Step) move(ev Event, name, actor string, data map[string]any) {
	if st.Err != nil {
		return
	}
	from := Status(st.Purchase.Status)
	to, err := Next(from, ev)
	if err != nil {
		st.Err = fmt.Errorf("purchase %s: %w", st.Purchase.ID, err)
		return
	}
	p := &st.Purchase
	p.Status = store.PurchaseStatus(to)
	p.UpdatedAt = st.now
	p.RetrySince = nil // a new status is a new step: its retry window starts afresh
	if to.Terminal() {
		p.CompletedAt = ptr(st.now)
		p.PaymentInFlight = false
	}
	if actor == "" {
		actor = "system"
	}
	if name == "" {
		name = string(ev)
	}
	if data == nil {
		data = map[string]any{}
	}
	st.Moves = append(st.Moves, Move{Event: ev, Name: name, Actor: actor, Data: data, Purchase: *p})
}

func (st *Step) note(name string, data map[string]any) {
	st.Notes = append(st.Notes, Note{Name: name, Actor: "system", Data: data})
}

func (st *Step) alert(kind, message string, data map[string]any) {
	st.Alerts = append(st.Alerts, Alert{Kind: kind, Message: message, Data: data})
}

func (st *Step) queue(j Job) { st.Jobs = append(st.Jobs, j) }

// fail moves the purchase to failed with a failure code and message.
func (st *Step) fail(code, message string, data map[string]any) {
	st.Purchase.FailureCode, st.Purchase.FailureMessage = ptr(code), ptr(message)
	if data == nil {
		data = map[string]any{}
	}
	data["failure_code"] = code
	st.move(EventFail, "", "", data)
}

// Terminal reports whether the step ends the purchase.
func (st Step) Terminal() bool { return Status(st.Purchase.Status).Terminal() }

// Events lists the step's status events by name, in order (for tests and logs).
func (st Step) Events() []string {
	out := make([]string, len(st.Moves))
	for i, m := range st.Moves {
		out[i] = m.Name
	}
	return out
}

// retrying marks the step as failing to proceed since now, unless it was
// already, and reports for how long it has been.
func (st *Step) retrying() time.Duration {
	if st.Purchase.RetrySince == nil {
		st.Purchase.RetrySince = ptr(st.now)
	}
	return st.now.Sub(*st.Purchase.RetrySince)
}

// backoff returns the n-th (from 1) delay of a doubling schedule.
func backoff(first, max time.Duration, n int) time.Duration {
	d := first
	for i := 1; i < n && d < max; i++ {
		d *= 2
	}
	return min(d, max)
}

// fixPayment commits what the payment will send: the amount and OUR
// provider reference (invariant 1: made once, by the provider's rule, and
// reused on every repeat), and starts the status deadline. fresh is a new
// random reference, used when the policy asks for one.
func fixPayment(p *store.Purchase, amount int64, fresh string, now time.Time, pol providers.Policy, r Rules) {
	p.Amount = ptr(amount)
	if p.ProviderReference == nil {
		ref := p.ID.String()
		if pol.PaymentReference == providers.ReferenceRandom {
			ref = fresh
		}
		p.ProviderReference = ptr(ref)
	}
	p.DeadlineAt = ptr(now.Add(r.StatusDeadline))
}

// by says how a success was heard, for succeed.
type by struct {
	via    string // "lookup", "signed callback", "payment answer", "operator", …
	name   string // the status event's name (default: succeed)
	actor  string // default system
	serial string // an operator's serial number, used where the provider's lacks the token
	note   string // an operator's note, kept with the result
	data   map[string]any
}

// succeed completes the purchase on a provider's SUCCESS for our reference,
// reached via a lookup, a callback or a payment answer (or an operator's
// resolve). A token product whose serial number holds no 20-digit token is
// not done (invariant 11): it stays, with an alert — unless an operator's
// serial holds the token. It reports whether the purchase completed.
func (st *Step) succeed(rep providers.Status, how by) bool {
	p := &st.Purchase
	r := resultData{SerialNumber: rep.SerialNumber, ProviderTransactionID: rep.TransactionID, CustomerName: rep.CustomerName, Note: how.note}
	if r.SerialNumber == "" {
		r.SerialNumber = how.serial
	}
	if r.ProviderTransactionID == "" {
		r.ProviderTransactionID = deref(p.ProviderTransactionID)
	}
	if providers.Family(p.Family) == providers.FamilyPLNPrepaid {
		tok, err := providers.ParsePLNSerial(r.SerialNumber)
		if err != nil && how.serial != "" {
			r.SerialNumber = how.serial
			tok, err = providers.ParsePLNSerial(how.serial)
		}
		if err != nil {
			st.alert("missing_token", "the provider reports success without a 20-digit token; waiting for it", map[string]any{"via": how.via})
			return false
		}
		r.Token, r.Tariff, r.Power, r.KWh = tok.Token, tok.Tariff, tok.Power, tok.KWh
		if tok.CustomerName != "" {
			r.CustomerName = tok.CustomerName
		}
	}
	price := rep.Amount
	if price <= 0 {
		price = deref(p.Amount)
	}
	p.Price = ptr(price)
	p.Result = mustJSON(r)
	p.PaymentInFlight = false
	if r.ProviderTransactionID != "" {
		p.ProviderTransactionID = ptr(r.ProviderTransactionID)
	}
	data := map[string]any{}
	for k, v := range how.data {
		data[k] = v
	}
	data["via"], data["price"] = how.via, price
	st.move(EventSucceed, how.name, how.actor, data)
	if p.MaxPrice != nil && price > *p.MaxPrice {
		st.alert("price_above_max", fmt.Sprintf("succeeded at %d, above max_price %d", price, *p.MaxPrice), nil)
	}
	return true
}

// contradicts reports whether a provider's report contradicts a terminal
// purchase (invariant 6): FAILED or REFUND after SUCCESS, SUCCESS after
// FAILED (or after a cancel).
func contradicts(status Status, o providers.Outcome) bool {
	if !status.Terminal() {
		return false
	}
	if status == StatusSucceeded {
		return o == providers.Failed || o == providers.Refunded
	}
	return o == providers.Succeeded
}

// contradiction records a report that contradicts the terminal purchase:
// a note and an alert, never applied. It reports whether o contradicted.
func (st *Step) contradiction(o providers.Outcome, raw, source string) bool {
	status := Status(st.Purchase.Status)
	if !contradicts(status, o) {
		return false
	}
	st.note("contradiction", map[string]any{"status": status, "reported": o, "raw_status": raw, "source": source})
	st.alert("contradiction", fmt.Sprintf("%s reports %s for a %s purchase (not applied)", st.Purchase.Provider, o, status),
		map[string]any{"reported": o, "raw_status": raw, "source": source})
	return true
}

// earlierReports raises the contradiction of callbacks received before the
// purchase ended that report the opposite end (a FAILED or REFUND hint,
// then a lookup saying SUCCESS): reports that disagree are an operator's
// business even when they arrived in the "wrong" order. The executor calls
// it once a step ends a purchase, with the outcomes of its stored
// callbacks.
func earlierReports(p store.Purchase, outcomes []providers.Outcome, now time.Time) Step {
	st := newStep(p, now)
	for _, o := range outcomes {
		if st.contradiction(o, "callback "+string(o), "earlier callback") {
			break
		}
	}
	return st
}

// inquiryData is the purchases.inquiry column.
type inquiryData struct {
	CustomerName string            `json:"customer_name,omitempty"`
	Amount       int64             `json:"amount"`
	Total        int64             `json:"total,omitempty"`
	Details      map[string]string `json:"details,omitempty"`
	// RequestID is a request_id the inquiry returned (a two-step flow).
	RequestID string `json:"request_id,omitempty"`
}

// resultData is the purchases.result column.
type resultData struct {
	SerialNumber          string `json:"serial_number,omitempty"`
	Token                 string `json:"token,omitempty"`
	CustomerName          string `json:"customer_name,omitempty"`
	Tariff                string `json:"tariff,omitempty"`
	Power                 string `json:"power,omitempty"`
	KWh                   string `json:"kwh,omitempty"`
	ProviderTransactionID string `json:"provider_transaction_id,omitempty"`
	Note                  string `json:"note,omitempty"`
}

func inquiryOf(p *store.Purchase) inquiryData {
	var d inquiryData
	if len(p.Inquiry) > 0 {
		_ = json.Unmarshal(p.Inquiry, &d)
	}
	return d
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("flow: marshal %T: %v", v, err))
	}
	return b
}

func ptr[T any](v T) *T { return &v }

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
