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
	// never looked up when its answer is lost (flow.md invariant 3).
	OneStep bool
	// Token is a PLN token: success needs the 20-digit token (invariant 11).
	Token bool

	prefix string // of the customer number, or of the game user_id
	userID bool   // identified by user_id and zone_id (game voucher)
}

// Kinds are the five kinds of purchase, covering both providers: Klikoo
// with and without inquiry, Snapcart two-step and one-step (a pulse top-up
// and a game voucher).
var Kinds = []Kind{
	{Name: "klikoo-pln", Product: "PLN20", Provider: klikoo.Name, Inquiry: true, Inquires: true, Token: true, prefix: "55"},
	{Name: "klikoo-pulsa", Product: "S10", Provider: klikoo.Name, prefix: "0812"},
	{Name: "snapcart-bill", Product: "TELKOM_POSTPAID", Provider: snapcart.Name, Inquiry: true, Inquires: true, prefix: "0813"},
	{Name: "snapcart-pulsa", Product: "TSEL10", Provider: snapcart.Name, OneStep: true, prefix: "0814"},
	{Name: "snapcart-voucher", Product: "ML-DIAMONDS-86", Provider: snapcart.Name, OneStep: true, Inquires: true, prefix: "PLAYER", userID: true},
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

// Scenarios are the scenarios of providers.md's table that the simulators
// play through the flow without routing, plus "13max": scenario 13 with a
// max_price (MaxPrice) below the inquiry's price.
var Scenarios = []string{"00", "01", "11", "12", "13", "13max", "14", "21", "22", "23", "24", "31", "32", "33", "34", "35", "41", "51", "52", "61"}

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
// unique per kind and seq, ending in 99XX for scenario XX (providers.md
// "Simulators"), or in four other digits for scenario "".
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

// Expected is providers.md's "expected end" of scenario for a purchase of
// kind k, when no fault or crash loses an answer ("" and unlisted
// scenarios succeed). The chaos run adds the ends a lost answer allows on
// top of it.
func (k Kind) Expected(scenario string) End {
	succeeded := End{Status: flow.StatusSucceeded, Charges: 1}
	switch scenario {
	case "11":
		return End{Status: flow.StatusFailed, Failure: "customer_not_found"}
	case "12":
		return End{Status: flow.StatusFailed, Failure: "insufficient_balance"}
	case "13max":
		if k.Inquiry {
			return End{Status: flow.StatusFailed, Failure: "price_exceeds_max"}
		}
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
