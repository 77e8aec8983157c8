package chaos

import (
	"context"
	"strings"
	"testing"

	"github.com/ppob-orchestrator/orchestrator/internal/flow"
	"github.com/ppob-orchestrator/orchestrator/internal/flowtest"
	"github.com/ppob-orchestrator/orchestrator/internal/providers/klikoo"
	"github.com/ppob-orchestrator/orchestrator/internal/providers/simkit"
	"github.com/ppob-orchestrator/orchestrator/internal/providers/snapcart"
	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

// Verify finds what chaos must never see: a reference charged twice, a
// purchase left open, a purchase that ended otherwise than expected.
func TestVerifyFindsProblems(t *testing.T) {
	t.Parallel()
	b := flowtest.Setup(t, flowtest.Options{NoStart: true})
	ctx := context.Background()
	p, _, err := b.Svc.Create(ctx, flow.CreateRequest{ClientID: b.ClientID, ReferenceID: "verify-1", ProductCode: "S10", CustomerNumber: "081234560001"})
	if err != nil {
		t.Fatal(err)
	}
	ledgers := map[string]simkit.LedgerView{
		klikoo.Name:   {Charges: []simkit.Charge{{Reference: "someone-else", Amount: 10000, Count: 2}}},
		snapcart.Name: {},
	}
	f, err := Verify(ctx, b.Pool, ledgers, func(store.Purchase) (Expectation, bool) {
		return Expectation{Status: flow.StatusSucceeded, Charges: 1}, true
	})
	if err != nil {
		t.Fatal(err)
	}
	if f.OK() || f.Purchases != 1 || f.DoubleCharges != 1 || f.Lost != 1 || f.WrongEnds != 1 || f.InvalidPaths != 0 {
		t.Fatalf("findings %+v, want 1 purchase, 1 double charge, 1 lost, 1 wrong end", f)
	}
	if all := strings.Join(f.Problems, "\n"); !strings.Contains(all, p.ID.String()) || !strings.Contains(all, "charged 2 times") {
		t.Errorf("problems do not name the purchase and the double charge:\n%s", all)
	}

	// The same purchase, expected where it is, is fine.
	f, err = Verify(ctx, b.Pool, map[string]simkit.LedgerView{}, func(store.Purchase) (Expectation, bool) {
		return Expectation{Status: flow.StatusReceived}, true
	})
	if err != nil {
		t.Fatal(err)
	}
	if f.WrongEnds != 0 || f.DoubleCharges != 0 || f.Lost != 1 {
		t.Errorf("findings %+v, want only the open purchase", f)
	}
}
