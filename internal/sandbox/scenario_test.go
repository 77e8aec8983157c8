package sandbox

import (
	"testing"

	"github.com/ppob-orchestrator/orchestrator/internal/flow"
	"github.com/ppob-orchestrator/orchestrator/internal/providers"
)

// Every kind's identifiers play the scenario they are made for, differ for
// every sequence number and scenario code, and the kinds name products of
// the demo catalog.
func TestIdentPlaysItsScenario(t *testing.T) {
	t.Parallel()
	catalog := map[[2]string]flow.CatalogEntry{} // (code, provider) → offer
	for _, e := range Catalog() {
		catalog[[2]string{e.Code, e.Provider}] = e
	}
	for _, k := range Kinds {
		e, ok := catalog[[2]string{k.Product, k.Provider}]
		if !ok {
			t.Errorf("%s: product %s of %s is not in the demo catalog", k.Name, k.Product, k.Provider)
		}
		if k.Then != nil {
			if then, ok := catalog[[2]string{k.Then.Product, k.Then.Provider}]; !ok || then.Priority <= e.Priority {
				t.Errorf("%s: the second offer %s at %s is not in the demo catalog after the first (%+v)", k.Name, k.Then.Product, k.Then.Provider, then)
			}
		}
		seen := map[string]bool{}
		for seq := range 3 {
			for _, sc := range append([]string{""}, Scenarios...) {
				cust, user, zone := k.Ident(seq, sc)
				id := cust
				if e.Family.UsesUserID() {
					id = user
					if cust != "" || user == "" || zone == "" {
						t.Errorf("%s: a game voucher needs user_id and zone_id, got %q %q %q", k.Name, cust, user, zone)
					}
				}
				if got := providers.Scenario(id); got != Code(sc) {
					t.Errorf("%s seq %d: %q plays scenario %q, want %q", k.Name, seq, id, got, Code(sc))
				}
				if sc != "13max" && seen[id] { // "13max" plays 13 with a max_price
					t.Errorf("%s: identifier %s made twice", k.Name, id)
				}
				seen[id] = true
			}
		}
	}
}

// The expected ends of docs/simulators.md's table, per kind.
func TestExpected(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		kind, scenario string
		want           End
	}{
		{"klikoo-pln", "00", End{flow.StatusSucceeded, "", 1}},
		{"klikoo-pln", "", End{flow.StatusSucceeded, "", 1}},
		{"snapcart-pulsa", "01", End{flow.StatusSucceeded, "", 1}},
		{"snapcart-voucher", "11", End{flow.StatusFailed, "customer_not_found", 0}},
		{"klikoo-pulsa", "12", End{flow.StatusFailed, "insufficient_balance", 0}},
		{"klikoo-pln", "13", End{flow.StatusSucceeded, "", 1}},
		{"klikoo-pln", "13max", End{flow.StatusFailed, "price_exceeds_max", 0}},
		{"snapcart-bill", "13max", End{flow.StatusFailed, "price_exceeds_max", 0}},
		{"klikoo-pulsa", "13max", End{flow.StatusSucceeded, "", 1}},
		{"snapcart-pulsa", "22", End{flow.StatusFailed, "transaction_failed", 0}},
		{"snapcart-bill", "32", End{flow.StatusSucceeded, "", 1}},
		{"snapcart-pulsa", "32", End{flow.StatusNeedsReview, "", 0}},
		{"snapcart-voucher", "32", End{flow.StatusNeedsReview, "", 0}},
		{"klikoo-pulsa", "41", End{flow.StatusNeedsReview, "", 0}},
		{"snapcart-pulsa", "31", End{flow.StatusSucceeded, "", 1}},
		// Single-offer products meet routing's scenarios at their one provider.
		{"klikoo-pulsa", "15", End{flow.StatusFailed, "product_unavailable", 0}},
		{"snapcart-pulsa", "15", End{flow.StatusSucceeded, "", 1}},
		{"snapcart-bill", "16", End{flow.StatusFailed, "product_unavailable", 0}},
		{"klikoo-pln", "16", End{flow.StatusSucceeded, "", 1}},
		{"klikoo-pln", "17", End{flow.StatusFailed, "product_unavailable", 0}},
		// docs/routing.md's table, for both routed products.
		{"routed-pulsa", "15", End{flow.StatusSucceeded, "", 1}},
		{"routed-pulsa", "16", End{flow.StatusSucceeded, "", 1}},
		{"routed-data", "16", End{flow.StatusSucceeded, "", 1}},
		{"routed-pulsa", "17", End{flow.StatusFailed, "product_unavailable", 0}},
		{"routed-data", "17", End{flow.StatusFailed, "product_unavailable", 0}},
		{"routed-data", "12", End{flow.StatusFailed, "insufficient_balance", 0}},
		// Both of DATA-TSEL-5GB's offers cost more than 13max's max_price:
		// it fails over once and fails with the last attempt's reason.
		{"routed-data", "13max", End{flow.StatusFailed, "price_exceeds_max", 0}},
		{"routed-pulsa", "13max", End{flow.StatusSucceeded, "", 1}},
		// Reasons any provider would share, and money that may have moved,
		// never leave the first offer.
		{"routed-pulsa", "11", End{flow.StatusFailed, "customer_not_found", 0}},
		{"routed-data", "22", End{flow.StatusFailed, "transaction_failed", 0}},
		{"routed-data", "32", End{flow.StatusNeedsReview, "", 0}},
		{"routed-pulsa", "32", End{flow.StatusSucceeded, "", 1}},
	} {
		if got := KindNamed(c.kind).Expected(c.scenario); got != c.want {
			t.Errorf("%s/%s: %+v, want %+v", c.kind, c.scenario, got, c.want)
		}
	}
	for _, c := range []struct{ kind, scenario, at string }{
		{"routed-pulsa", "00", "routed-pulsa"},
		{"routed-pulsa", "15", "routed-pulsa@snapcart"},
		{"routed-pulsa", "12", "routed-pulsa@snapcart"},
		{"routed-pulsa", "35", "routed-pulsa"},
		{"routed-data", "16", "routed-data@klikoo"},
		{"routed-data", "15", "routed-data"},
		{"klikoo-pulsa", "15", "klikoo-pulsa"},
	} {
		if got := KindNamed(c.kind).At(c.scenario).Name; got != c.at {
			t.Errorf("%s/%s ends at %s, want %s", c.kind, c.scenario, got, c.at)
		}
	}
	if p := MaxPrice("13max"); p == nil || *p >= 999999 {
		t.Errorf("13max carries max_price %v, want one below the inquiry's 999999", p)
	}
	if MaxPrice("13") != nil {
		t.Error("13 carries a max_price")
	}
}
