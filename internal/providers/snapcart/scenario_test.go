package snapcart

import (
	"testing"
	"time"

	"github.com/ppob-orchestrator/orchestrator/internal/providers"
	"github.com/ppob-orchestrator/orchestrator/internal/providers/snapcart/snapcartsim"
)

// Outcome shorthands for the scenario tables.
const (
	sS   = "succeeded"
	sP   = "pending"
	sNF  = "not_found"
	sTO  = "unknown/timeout"
	sCE  = "unknown/connection_error"
	s5xx = "unknown/server_error"
	sUA  = "unknown/unreadable_answer"
	sTF  = "failed/transaction_failed"
	sCNF = "failed/customer_not_found"
	sIB  = "failed/insufficient_balance"
	sPU  = "failed/product_unavailable"
)

// expect is what a scenario must produce through the real client.
type expect struct {
	inquiry  []string // outcomes of the inquiry attempts (retried while unknown)
	amount   int64    // the inquiry's amount (two-step)
	payment  []string // outcomes of the payment calls, the sanctioned repeat included
	lookups  []string // outcomes of the status lookups until final
	fuzzy    bool     // compare lookups with repeats collapsed (timing-dependent counts)
	serials  []bool   // per lookup: serial number present (when set)
	after    []string // outcomes of extra lookups after the final one
	max      int      // stop after this many lookups (pending forever)
	charges  int      // ledger count for our reference
	callback []string // outcomes of the callbacks for our reference, in order
	// callbackFirst: a lookup says success only once the callback was sent.
	callbackFirst bool
}

// twoStep is the scenario table for a two-step product (TELKOM_POSTPAID).
var twoStep = map[string]expect{
	"":   {inquiry: []string{sS}, payment: []string{sP}, lookups: []string{sP, sS}, charges: 1, callback: []string{sS}},
	"00": {inquiry: []string{sS}, payment: []string{sP}, lookups: []string{sP, sS}, charges: 1, callback: []string{sS}},
	"01": {inquiry: []string{sS}, payment: []string{sP}, lookups: []string{sS}, serials: []bool{true}, after: []string{sS}, charges: 1, callback: []string{sS}},
	"11": {inquiry: []string{sCNF}},
	"12": {inquiry: []string{sS}, payment: []string{sIB}},
	"15": {inquiry: []string{sS}, payment: []string{sP}, lookups: []string{sP, sS}, charges: 1, callback: []string{sS}},
	"16": {inquiry: []string{sPU}},
	"17": {inquiry: []string{sPU}},
	"13": {inquiry: []string{sS}, amount: 999999, payment: []string{sP}, lookups: []string{sP, sS}, charges: 1, callback: []string{sS}},
	"14": {inquiry: []string{sTO, sTO, sS}, payment: []string{sP}, lookups: []string{sP, sS}, charges: 1, callback: []string{sS}},
	"21": {inquiry: []string{sS}, payment: []string{sP}, lookups: []string{sP, sP, sP, sS}, charges: 1, callback: []string{sS}},
	"22": {inquiry: []string{sS}, payment: []string{sP}, lookups: []string{sP, sTF}, charges: 0, callback: []string{sTF}},
	"23": {inquiry: []string{sS}, payment: []string{sP}, lookups: []string{sS, sS, sS}, serials: []bool{false, false, true}, charges: 1, callback: []string{sS}},
	"24": {inquiry: []string{sS}, payment: []string{sP}, lookups: []string{sS}, after: []string{sTF, sTF}, charges: 1, callback: []string{sS, sTF}},
	"31": {inquiry: []string{sS}, payment: []string{sTO}, lookups: []string{sP, sS}, charges: 1, callback: []string{sS}},
	"32": {inquiry: []string{sS}, payment: []string{sTO, sP}, lookups: []string{sNF, sP, sS}, fuzzy: true, charges: 1, callback: []string{sS}},
	"33": {inquiry: []string{sS}, payment: []string{s5xx}, lookups: []string{sP, sS}, charges: 1, callback: []string{sS}},
	"34": {inquiry: []string{sS}, payment: []string{sUA}, lookups: []string{sP, sS}, charges: 1, callback: []string{sS}},
	"35": {inquiry: []string{sS}, payment: []string{sTO, sP}, lookups: []string{sNF, sP, sS}, fuzzy: true, charges: 1, callback: []string{sS}},
	"41": {inquiry: []string{sS}, payment: []string{sP}, lookups: []string{sP, sP, sP, sP, sP, sP}, max: 6, charges: 0},
	"51": {inquiry: []string{sS}, payment: []string{sP}, lookups: []string{sP, sS}, fuzzy: true, charges: 1, callback: []string{sS}, callbackFirst: true},
	"52": {inquiry: []string{sS}, payment: []string{sP}, lookups: []string{sP, sS}, charges: 1, callback: []string{sS, sS, sP}},
	"61": {inquiry: []string{sS}, payment: []string{sP}, lookups: []string{sCE, sS}, fuzzy: true, charges: 1, callback: []string{sS}},
}

// oneStep is the scenario table for a one-step payment (no request_id
// before the payment). A lost answer (31–35) leaves no request_id, so only
// the signed callback resolves it.
var oneStep = map[string]expect{
	"":   {payment: []string{sP}, lookups: []string{sP, sS}, charges: 1, callback: []string{sS}},
	"00": {payment: []string{sP}, lookups: []string{sP, sS}, charges: 1, callback: []string{sS}},
	"01": {payment: []string{sP}, lookups: []string{sS}, serials: []bool{true}, after: []string{sS}, charges: 1, callback: []string{sS}},
	"11": {payment: []string{sCNF}},
	"12": {payment: []string{sIB}},
	"13": {payment: []string{sP}, lookups: []string{sP, sS}, charges: 1, callback: []string{sS}},
	"15": {payment: []string{sP}, lookups: []string{sP, sS}, charges: 1, callback: []string{sS}},
	"16": {payment: []string{sPU}},
	"17": {payment: []string{sPU}},
	"14": {payment: []string{sP}, lookups: []string{sP, sS}, charges: 1, callback: []string{sS}},
	"21": {payment: []string{sP}, lookups: []string{sP, sP, sP, sS}, charges: 1, callback: []string{sS}},
	"22": {payment: []string{sP}, lookups: []string{sP, sTF}, charges: 0, callback: []string{sTF}},
	"23": {payment: []string{sP}, lookups: []string{sS, sS, sS}, serials: []bool{false, false, true}, charges: 1, callback: []string{sS}},
	"24": {payment: []string{sP}, lookups: []string{sS}, after: []string{sTF}, charges: 1, callback: []string{sS, sTF}},
	"31": {payment: []string{sTO}, charges: 1, callback: []string{sS}},
	"32": {payment: []string{sTO}, charges: 0},
	"33": {payment: []string{s5xx}, charges: 1, callback: []string{sS}},
	"34": {payment: []string{sUA}, charges: 1, callback: []string{sS}},
	"35": {payment: []string{sTO}, charges: 1, callback: []string{sS}},
	"41": {payment: []string{sP}, lookups: []string{sP, sP, sP, sP, sP, sP}, max: 6, charges: 0},
	"51": {payment: []string{sP}, lookups: []string{sP, sS}, fuzzy: true, charges: 1, callback: []string{sS}, callbackFirst: true},
	"52": {payment: []string{sP}, lookups: []string{sP, sS}, charges: 1, callback: []string{sS, sS, sP}},
	"61": {payment: []string{sP}, lookups: []string{sCE, sS}, fuzzy: true, charges: 1, callback: []string{sS}},
}

// scenarioMods gives scenario 51 a callback delay long enough that the
// first lookups surely come before the callback.
func scenarioMods(sc string) []func(*snapcartsim.Config) {
	if sc == "51" {
		return []func(*snapcartsim.Config){func(c *snapcartsim.Config) { c.CallbackDelay = 300 * time.Millisecond }}
	}
	return nil
}

// identifier builds a customer identifier that selects scenario sc.
func identifier(prefix, sc string) string {
	if sc == "" {
		return prefix + "1234"
	}
	return prefix + "99" + sc
}

func TestScenariosTwoStep(t *testing.T) {
	t.Parallel()
	for sc, e := range twoStep {
		t.Run("scenario_"+sc, func(t *testing.T) {
			t.Parallel()
			b := setup(t, scenarioMods(sc)...)
			runTwoStep(t, b, identifier("08123000", sc), sc, e)
		})
	}
}

func TestScenariosOneStepPulsa(t *testing.T) {
	t.Parallel()
	for sc, e := range oneStep {
		t.Run("scenario_"+sc, func(t *testing.T) {
			t.Parallel()
			b := setup(t, scenarioMods(sc)...)
			req := providers.PaymentRequest{ProductCode: "TSEL10", Family: providers.FamilyPulsa, CustomerNumber: identifier("08129876", sc), Amount: 10150}
			runOneStep(t, b, req, nil, e, 10150)
		})
	}
}

func TestScenariosOneStepGameVoucher(t *testing.T) {
	t.Parallel()
	for sc, e := range oneStep {
		t.Run("scenario_"+sc, func(t *testing.T) {
			t.Parallel()
			b := setup(t, scenarioMods(sc)...)
			user := identifier("5512", sc)
			inq := &providers.InquiryRequest{ProductCode: "ML-DIAMONDS-86", Family: providers.FamilyGameVoucher, UserID: user, ZoneID: "2001", Reference: "inq-" + newRef()}
			inqWant := []string{sS}
			switch sc {
			case "11":
				inqWant = []string{sCNF}
			case "16", "17":
				inqWant = []string{sPU}
			case "14":
				inqWant = []string{sTO, sTO, sS}
			}
			e.inquiry = inqWant
			req := providers.PaymentRequest{ProductCode: "ML-DIAMONDS-86", Family: providers.FamilyGameVoucher, UserID: user, ZoneID: "2001", ItemCode: "ML86", Amount: 21500}
			runOneStep(t, b, req, inq, e, 21500)
		})
	}
}

// inquire runs an inquiry, retrying while its outcome is unknown (as the
// flow does), and checks the outcomes against want.
func inquire(t *testing.T, b bundle, req providers.InquiryRequest, want []string) providers.Inquiry {
	t.Helper()
	var (
		inq providers.Inquiry
		got []string
	)
	for range 3 {
		inq = b.client.Inquiry(ctx(t), req)
		assertNoSecret(t, inq.Result)
		got = append(got, oc(inq.Result))
		if inq.Outcome != providers.Unknown {
			break
		}
	}
	if !equal(got, want) {
		t.Fatalf("inquiry outcomes = %v, want %v (detail %q)", got, want, inq.Detail)
	}
	return inq
}

// runTwoStep drives inquiry → payment → lookups like the flow does,
// including the sanctioned repeat (same request_id) after two not_found
// lookups of an unknown payment, and checks e and the ledger.
func runTwoStep(t *testing.T, b bundle, bill, sc string, e expect) {
	ref := newRef()
	inq := inquire(t, b, providers.InquiryRequest{ProductCode: "TELKOM_POSTPAID", Family: providers.FamilyPostpaid, CustomerNumber: bill, Reference: "inq-" + ref}, e.inquiry)
	defer checkLedger(t, b, ref, e.charges, &inq.Amount)
	if inq.Outcome != providers.Succeeded {
		return
	}
	if len(inq.RequestID) != 26 {
		t.Fatalf("request_id %q is not a 26-character ULID", inq.RequestID)
	}
	wantAmount := e.amount
	if wantAmount == 0 {
		wantAmount = 5500
	}
	if inq.Amount != wantAmount || inq.Total != wantAmount {
		t.Fatalf("inquiry amount %d total %d, want %d", inq.Amount, inq.Total, wantAmount)
	}
	req := providers.PaymentRequest{Reference: ref, ProductCode: "TELKOM_POSTPAID", Family: providers.FamilyPostpaid, RequestID: inq.RequestID, Amount: inq.Amount}
	pay := b.client.Pay(ctx(t), req)
	assertNoSecret(t, pay.Result)
	pays := []string{oc(pay.Result)}
	if pay.RequestID != inq.RequestID {
		t.Fatalf("payment request_id %q, want the inquiry's %q", pay.RequestID, inq.RequestID)
	}
	if pay.Outcome == providers.Failed {
		if !equal(pays, e.payment) {
			t.Fatalf("payment outcomes = %v, want %v", pays, e.payment)
		}
		return
	}
	repeat := func() string {
		p := b.client.Pay(ctx(t), req)
		assertNoSecret(t, p.Result)
		return oc(p.Result)
	}
	lookups := pollLookups(t, b, ref, inq.RequestID, e, &pays, repeat)
	checkLookups(t, b, ref, inq.RequestID, e, lookups)
	if !equal(pays, e.payment) {
		t.Fatalf("payment outcomes = %v, want %v", pays, e.payment)
	}
	checkCallbacks(t, b, ref, e)
}

// runOneStep drives an optional inquiry, then a one-step payment, then
// lookups when the payment answer gave a request_id.
func runOneStep(t *testing.T, b bundle, req providers.PaymentRequest, inqReq *providers.InquiryRequest, e expect, price int64) {
	ref := newRef()
	req.Reference = ref
	defer checkLedger(t, b, ref, e.charges, &price)
	if inqReq != nil {
		inq := inquire(t, b, *inqReq, e.inquiry)
		if inq.Outcome != providers.Succeeded {
			return
		}
		if inq.RequestID != "" || inq.Details["ign"] == "" || inq.CustomerName != inq.Details["ign"] {
			t.Fatalf("game voucher inquiry: request_id %q ign %q name %q; want no request_id and the ign", inq.RequestID, inq.Details["ign"], inq.CustomerName)
		}
	}
	pay := b.client.Pay(ctx(t), req)
	assertNoSecret(t, pay.Result)
	pays := []string{oc(pay.Result)}
	if !equal(pays, e.payment) {
		t.Fatalf("payment outcomes = %v, want %v (detail %q)", pays, e.payment, pay.Detail)
	}
	switch pay.Outcome {
	case providers.Failed:
		return
	case providers.Pending:
		if len(pay.RequestID) != 26 || pay.TransactionID != pay.RequestID {
			t.Fatalf("acknowledged one-step payment: request_id %q transaction %q; want the 26-character request_id in both", pay.RequestID, pay.TransactionID)
		}
		lookups := pollLookups(t, b, ref, pay.RequestID, e, &pays, nil)
		checkLookups(t, b, ref, pay.RequestID, e, lookups)
	default:
		// The answer is lost: no request_id, so no lookup is possible, and
		// the client must not call it not_found.
		if pay.RequestID != "" {
			t.Fatalf("lost one-step answer yielded request_id %q", pay.RequestID)
		}
		st := b.client.Lookup(ctx(t), providers.LookupRequest{Reference: ref})
		if oc(st.Result) != "unknown/invalid_request" || len(st.Calls) != 0 {
			t.Fatalf("lookup without request_id = %s with %d calls, want unknown/invalid_request and no call", oc(st.Result), len(st.Calls))
		}
	}
	checkCallbacks(t, b, ref, e)
}

// pollLookups looks the payment up until it is final (succeeded with a
// serial number, or failed), or e.max lookups. repeat, when set, is the
// sanctioned repeat of an unknown payment after two not_found lookups.
func pollLookups(t *testing.T, b bundle, ref, requestID string, e expect, pays *[]string, repeat func() string) []providers.Status {
	t.Helper()
	var out []providers.Status
	notFound := 0
	deadline := time.Now().Add(8 * time.Second)
	for e.max == 0 || len(out) < e.max {
		if time.Now().After(deadline) {
			t.Fatalf("payment not final by the deadline; lookups so far: %v", statusOutcomes(out))
		}
		st := b.client.Lookup(ctx(t), providers.LookupRequest{Reference: ref, RequestID: requestID})
		assertNoSecret(t, st.Result)
		out = append(out, st)
		switch st.Outcome {
		case providers.NotFound:
			notFound++
			last := (*pays)[len(*pays)-1]
			if notFound >= 2 && repeat != nil && len(last) > 7 && last[:7] == "unknown" {
				*pays = append(*pays, repeat())
			}
			continue
		case providers.Failed:
			return out
		case providers.Succeeded:
			if st.SerialNumber != "" {
				return out
			}
		}
		notFound = 0
		time.Sleep(5 * time.Millisecond) // lookup interval
	}
	return out
}

func statusOutcomes(sts []providers.Status) []string {
	out := make([]string, len(sts))
	for i, s := range sts {
		out[i] = oc(s.Result)
	}
	return out
}

// checkLookups compares the lookups with e and checks what a final status
// carries.
func checkLookups(t *testing.T, b bundle, ref, requestID string, e expect, lookups []providers.Status) {
	t.Helper()
	got := statusOutcomes(lookups)
	if e.fuzzy {
		got = compress(got)
	}
	if !equal(got, e.lookups) {
		t.Fatalf("lookup outcomes = %v, want %v", got, e.lookups)
	}
	for i, want := range e.serials {
		if has := lookups[i].SerialNumber != ""; has != want {
			t.Fatalf("lookup %d serial %q, want present=%v", i, lookups[i].SerialNumber, want)
		}
	}
	last := lookups[len(lookups)-1]
	if last.Outcome == providers.Succeeded {
		if last.Reference != ref || last.TransactionID != requestID || last.Amount <= 0 || last.SerialNumber == "" {
			t.Fatalf("final status %+v: want reference %s, request_id %s, an amount and a serial", last, ref, requestID)
		}
		if e.callbackFirst && len(b.rcv.forReference(t, ref)) == 0 {
			t.Fatalf("lookup said success before the callback was received")
		}
	}
	for i, want := range e.after {
		st := b.client.Lookup(ctx(t), providers.LookupRequest{Reference: ref, RequestID: requestID})
		if oc(st.Result) != want {
			t.Fatalf("extra lookup %d = %s, want %s", i, oc(st.Result), want)
		}
	}
}

// checkCallbacks waits for the expected callbacks of ref, verifies their
// signatures and classifies them.
func checkCallbacks(t *testing.T, b bundle, ref string, e expect) {
	t.Helper()
	if len(e.callback) == 0 {
		return
	}
	got := b.rcv.waitCallbacks(t, ref, len(e.callback))
	var outs []string
	for _, cb := range got {
		if !VerifyCallback([]byte(testSecret), cb.body, cb.signature) {
			t.Fatalf("callback signature does not verify: %s", cb.body)
		}
		st, err := ParseCallback(cb.body)
		if err != nil {
			t.Fatalf("ParseCallback: %v", err)
		}
		if st.Reference != ref || len(st.TransactionID) != 26 {
			t.Fatalf("callback reference %q request_id %q, want %s and a request_id", st.Reference, st.TransactionID, ref)
		}
		if st.Outcome == providers.Succeeded && (st.SerialNumber == "" || st.Amount <= 0) {
			t.Fatalf("success callback without serial or amount: %s", cb.body)
		}
		outs = append(outs, oc(st.Result))
	}
	if !equal(outs, e.callback) {
		t.Fatalf("callback outcomes = %v, want %v", outs, e.callback)
	}
}

// checkLedger checks the ledger's record of ref: count charges of amount.
func checkLedger(t *testing.T, b bundle, ref string, count int, amount *int64) {
	t.Helper()
	if t.Failed() {
		return
	}
	c, ok := b.sim.Ledger().Get(ref)
	if count == 0 {
		if ok {
			t.Fatalf("ledger charged %s %d times (%d), want no charge", ref, c.Count, c.Amount)
		}
		return
	}
	if !ok || c.Count != count || c.Amount != int64(count)*(*amount) {
		t.Fatalf("ledger for %s = %+v (found %v), want %d charge(s) of %d", ref, c, ok, count, *amount)
	}
}
