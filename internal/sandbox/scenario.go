package sandbox

import (
	"fmt"
	"strings"

	"github.com/ppob-orchestrator/orchestrator/internal/flow"
	"github.com/ppob-orchestrator/orchestrator/internal/providers/klikoo"
	"github.com/ppob-orchestrator/orchestrator/internal/providers/snapcart"
)

// Kind is a way of buying from the simulators: a product of the demo
// catalog, of one provider, with or without an inquiry that prices it, and
// for Snapcart two-step (the inquiry's request_id) or one-step. The flow's
// scenario test, the reconciliation's acceptance test and the chaos run all
// buy these kinds.
type Kind struct {
	Name     string // e.g. "klikoo-pln"
	Product  string // the catalog code
	Provider string // klikoo.Name or snapcart.Name
	// Inquiry reports that the product's inquiry prices the purchase:
	// scenario 13 acts on it, and the purchase can wait for a manual
	// confirmation.
	Inquiry bool
	// Inquires reports that the product runs an inquiry at all, one that
	// prices it (Inquiry) or only validates the customer (a game voucher's
	// player): an inquiry that gets no answer can give up on either.
	Inquires bool
	// OneStep is a Snapcart payment without a request_id: never repeated,
	// never looked up when its answer is lost
	// (docs/invariants.md#3-unknown-is-not-failed).
	OneStep bool
	// Token is a PLN token: success needs the 20-digit token (invariant 11).
	Token bool
	// Then is the offer a purchase fails over to, for a product with two
	// offers (docs/routing.md): this kind describes the first offer, Then
	// the second. Nil for a product with one offer.
	Then *Kind

	prefix string // of the customer number, or of the game user_id
	userID bool   // identified by user_id and zone_id (game voucher)
	price  int64  // the offer's catalog price, where scenario 13max's max_price is below it
}

// Kinds are the kinds of purchase, covering both providers: Klikoo with
// and without inquiry, Snapcart two-step and one-step (a pulse top-up and a
// game voucher), and the two products both simulators sell (routed to
// Klikoo first, and to Snapcart first).
var Kinds = []Kind{
	{Name: "klikoo-pln", Product: "PLN20", Provider: klikoo.Name, Inquiry: true, Inquires: true, Token: true, prefix: "55"},
	{Name: "klikoo-pulsa", Product: "S10", Provider: klikoo.Name, prefix: "0812"},
	{Name: "snapcart-bill", Product: "TELKOM_POSTPAID", Provider: snapcart.Name, Inquiry: true, Inquires: true, prefix: "0813"},
	{Name: "snapcart-pulsa", Product: "TSEL10", Provider: snapcart.Name, OneStep: true, prefix: "0814"},
	{Name: "snapcart-voucher", Product: "ML-DIAMONDS-86", Provider: snapcart.Name, OneStep: true, Inquires: true, prefix: "PLAYER", userID: true},
	{Name: "routed-pulsa", Product: "PULSA-TSEL-10K", Provider: klikoo.Name, prefix: "0815",
		Then: &Kind{Name: "routed-pulsa@snapcart", Product: "PULSA-TSEL-10K", Provider: snapcart.Name, OneStep: true, prefix: "0815"}},
	{Name: "routed-data", Product: "DATA-TSEL-5GB", Provider: snapcart.Name, OneStep: true, prefix: "0816", price: 52000,
		Then: &Kind{Name: "routed-data@klikoo", Product: "DATA-TSEL-5GB", Provider: klikoo.Name, prefix: "0816", price: 51500}},
}

// KindNamed returns the kind called name; it panics for an unknown name
// (a mistake in a test).
func KindNamed(name string) Kind {
	for _, k := range Kinds {
		if k.Name == name {
			return k
		}
	}
	panic("sandbox: no kind " + name)
}

// Scenarios are the scenarios of docs/simulators.md's table that the
// simulators play through the flow without routing, plus "13max": scenario 13
// with a max_price (MaxPrice) below the inquiry's price.
var Scenarios = []string{"00", "01", "11", "12", "13", "13max", "14", "15", "16", "17", "21", "22", "23", "24", "31", "32", "33", "34", "35", "41", "51", "52", "61"}

// maxPriceOf13 is the max_price of scenario "13max": below the 999999 its
// inquiry answers, above every demo product's price.
const maxPriceOf13 = 50000

// Code returns the two digits the simulators read for scenario ("13max"
// plays 13; "" plays none).
func Code(scenario string) string { return strings.TrimSuffix(scenario, "max") }

// MaxPrice returns the max_price a purchase of scenario carries, or nil.
func MaxPrice(scenario string) *int64 {
	if !strings.HasSuffix(scenario, "max") {
		return nil
	}
	p := int64(maxPriceOf13)
	return &p
}

// Ident returns the identifier fields of the seq-th purchase of kind k
// playing scenario: a customer number (or game user_id with zone SEA)
// unique per kind and seq, ending in 99XX for scenario XX
// (docs/simulators.md#scenarios), or in four other digits for scenario "".
func (k Kind) Ident(seq int, scenario string) (customer, user, zone string) {
	id := fmt.Sprintf("%s%05d%04d", k.prefix, seq, 1000+seq%8000)
	if xx := Code(scenario); xx != "" {
		id = fmt.Sprintf("%s%05d99%s", k.prefix, seq, xx)
	}
	if k.userID {
		return "", id, "SEA"
	}
	return id, "", ""
}

// End is how a purchase must end: its status, its failure code when it
// failed, and how many times the provider charged its reference (0 or 1).
type End struct {
	Status  flow.Status
	Failure string
	Charges int
}

// Expected is the "expected end" of scenario for a purchase of kind k
// (docs/simulators.md's table, and docs/routing.md's for a product with two
// offers), when no fault or crash loses an answer ("" and unlisted scenarios
// succeed). A purchase whose first offer ends for a reason another offer may
// not share ends as the second offer's kind would. The chaos run adds the ends
// a lost answer allows on top of it.
func (k Kind) Expected(scenario string) End {
	return k.At(scenario).own(scenario)
}

// At is the kind of offer a purchase of kind k playing scenario ends at:
// k itself, or (failed over) its Then.
func (k Kind) At(scenario string) Kind {
	for k.Then != nil && k.own(scenario).FailsOver() {
		k = *k.Then
	}
	return k
}

// FailsOver reports whether an offer's end moves a purchase to the next
// offer (docs/routing.md): failures another provider may not share.
func (e End) FailsOver() bool {
	switch e.Failure {
	case "product_unavailable", "insufficient_balance", "price_exceeds_max", "provider_unavailable", "provider_refused":
		return e.Status == flow.StatusFailed
	}
	return false
}

// own is the end of scenario at this offer alone.
func (k Kind) own(scenario string) End {
	succeeded := End{Status: flow.StatusSucceeded, Charges: 1}
	closed := End{Status: flow.StatusFailed, Failure: "product_unavailable"}
	switch scenario {
	case "11":
		return End{Status: flow.StatusFailed, Failure: "customer_not_found"}
	case "12":
		return End{Status: flow.StatusFailed, Failure: "insufficient_balance"}
	case "13max":
		if k.Inquiry || k.price > maxPriceOf13 {
			return End{Status: flow.StatusFailed, Failure: "price_exceeds_max"}
		}
	case "15":
		if k.Provider == klikoo.Name {
			return closed
		}
	case "16":
		if k.Provider == snapcart.Name {
			return closed
		}
	case "17":
		return closed
	case "22":
		return End{Status: flow.StatusFailed, Failure: "transaction_failed"}
	case "32":
		if k.OneStep {
			return End{Status: flow.StatusNeedsReview}
		}
	case "41":
		return End{Status: flow.StatusNeedsReview}
	}
	return succeeded
}
