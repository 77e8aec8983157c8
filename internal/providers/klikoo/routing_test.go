package klikoo

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/ppob-orchestrator/orchestrator/internal/providers"
	"github.com/ppob-orchestrator/orchestrator/internal/providers/klikoo/klikoosim"
)

// TestRoutingScenariosEveryProduct plays Klikoo's side of the routing
// scenarios, and the insufficient deposit, for every product the simulator
// sells (docs/simulators.md): 15 and 17 close the product (400026525 on the
// inquiry and on the buy: failed product_unavailable), 16 is the default
// success, 12 refuses the buy for our deposit (403026514: failed
// insufficient_balance). Only 16 charges.
func TestRoutingScenariosEveryProduct(t *testing.T) {
	t.Parallel()
	for _, sp := range klikoosim.Products() {
		if !sp.Enabled {
			continue
		}
		for _, sc := range []string{"12", "15", "16", "17"} {
			t.Run(sp.Code+"/"+sc, func(t *testing.T) {
				t.Parallel()
				e := setup(t)
				ctx := context.Background()
				value := "0812345699" + sc
				closed := sc == "15" || sc == "17"
				amount := sp.AgentPrice
				if sp.HasInquiry() {
					inq := e.client.Inquiry(ctx, providers.InquiryRequest{
						ProductCode: sp.Code, Family: sp.Family, CustomerNumber: value, Period: "1",
						Amount: sp.AgentPrice, Reference: uuid.NewString(),
					})
					switch {
					case closed:
						if inq.Outcome != F || inq.Reason != providers.ReasonProductUnavailable || lastCall(t, inq.Result).Code != "400026525" {
							t.Fatalf("inquiry: %v code %s, want failed product_unavailable 400026525", inq.Result, lastCall(t, inq.Result).Code)
						}
					case inq.Outcome != S:
						t.Fatalf("inquiry: %v", inq.Result)
					default:
						amount = inq.Amount
					}
				}
				ref := uuid.NewString()
				pay := e.client.Pay(ctx, providers.PaymentRequest{
					Reference: ref, ProductCode: sp.Code, Family: sp.Family, CustomerNumber: value,
					Phone: "081234567890", Amount: amount,
				})
				wantCode, wantReason := "", providers.ReasonNone
				switch {
				case closed:
					wantCode, wantReason = "400026525", providers.ReasonProductUnavailable
				case sc == "12":
					wantCode, wantReason = "403026514", providers.ReasonInsufficientBal
				}
				if wantCode == "" {
					if pay.Outcome != P {
						t.Fatalf("buy: %v", pay.Result)
					}
					if outs, _ := e.lookups(ref, pay.TransactionID, 2); !sameOutcomes(outs, []providers.Outcome{P, S}) {
						t.Fatalf("lookups %v, want the default pending then succeeded", outs)
					}
					if c := e.charge(ref); c.Count != 1 || c.Amount != amount {
						t.Fatalf("charge %+v, want one of %d", c, amount)
					}
					return
				}
				if pay.Outcome != F || pay.Reason != wantReason || lastCall(t, pay.Result).Code != wantCode {
					t.Fatalf("buy: %v code %s, want failed %s %s", pay.Result, lastCall(t, pay.Result).Code, wantReason, wantCode)
				}
				if e.charge(ref).Count != 0 || e.sim.Ledger().Balance() != klikoosim.DefaultBalance {
					t.Fatalf("a refused buy charged: %+v", e.charge(ref))
				}
				if st := e.lookup(ref, ""); st.Outcome != NF {
					t.Fatalf("lookup of a refused buy: %v", st.Result)
				}
			})
		}
	}
}
