package snapcart

import (
	"testing"

	"github.com/ppob-orchestrator/orchestrator/internal/providers"
	"github.com/ppob-orchestrator/orchestrator/internal/providers/snapcart/snapcartsim"
)

// TestRoutingScenariosEveryProduct plays Snapcart's side of the routing
// scenarios, and the insufficient deposit, for every product the simulator
// sells (docs/simulators.md): 16 and 17 answer 404 "Product not found" on
// the inquiry and on the payment (failed product_unavailable), 15 is the
// default success, 12 refuses the payment for our deposit (402: failed
// insufficient_balance). Only 15 charges. A two-step product whose inquiry
// is refused never gets a request_id, so its payment cannot be sent.
func TestRoutingScenariosEveryProduct(t *testing.T) {
	t.Parallel()
	for _, sp := range snapcartsim.Products() {
		if sp.Inactive {
			continue
		}
		for _, sc := range []string{"12", "15", "16", "17"} {
			t.Run(sp.Code+"/"+sc, func(t *testing.T) {
				t.Parallel()
				b := setup(t)
				closed := sc == "16" || sc == "17"
				ref := newRef()
				req := providers.PaymentRequest{Reference: ref, ProductCode: sp.Code, Family: sp.Family, ItemCode: sp.ItemCode, Amount: sp.Price}
				inqReq := providers.InquiryRequest{ProductCode: sp.Code, Family: sp.Family, Reference: "inq-" + ref}
				if sp.Family.UsesUserID() {
					req.UserID, req.ZoneID = "551299"+sc, "2001"
					inqReq.UserID, inqReq.ZoneID = req.UserID, req.ZoneID
				} else {
					req.CustomerNumber = "0812300099" + sc
					inqReq.CustomerNumber = req.CustomerNumber
				}
				if sp.Inquiry != snapcartsim.InquiryNone {
					inq := b.client.Inquiry(ctx(t), inqReq)
					switch {
					case closed:
						if oc(inq.Result) != "failed/product_unavailable" || inq.Calls[0].HTTPStatus != 404 {
							t.Fatalf("inquiry %s (HTTP %d), want failed/product_unavailable on a 404", oc(inq.Result), inq.Calls[0].HTTPStatus)
						}
						if sp.Inquiry == snapcartsim.InquiryRequired {
							checkLedger(t, b, ref, 0, nil)
							return
						}
					case inq.Outcome != providers.Succeeded:
						t.Fatalf("inquiry %s: %q", oc(inq.Result), inq.Detail)
					case sp.Inquiry == snapcartsim.InquiryRequired:
						req.RequestID, req.Amount = inq.RequestID, inq.Amount
					}
				}
				pay := b.client.Pay(ctx(t), req)
				assertNoSecret(t, pay.Result)
				want, status := "pending", 200
				switch {
				case closed:
					want, status = "failed/product_unavailable", 404
				case sc == "12":
					want, status = "failed/insufficient_balance", 402
				}
				if oc(pay.Result) != want || pay.Calls[len(pay.Calls)-1].HTTPStatus != status {
					t.Fatalf("payment %s (HTTP %d), want %s on a %d", oc(pay.Result), pay.Calls[len(pay.Calls)-1].HTTPStatus, want, status)
				}
				if pay.Outcome != providers.Pending {
					checkLedger(t, b, ref, 0, nil)
					if b.sim.Ledger().Balance() != snapcartsim.DefaultBalance {
						t.Fatalf("a refused payment moved the deposit to %d", b.sim.Ledger().Balance())
					}
					return
				}
				lookups := pollLookups(t, b, ref, pay.RequestID, expect{}, &[]string{want}, nil)
				if got := statusOutcomes(lookups); !equal(got, []string{sP, sS}) {
					t.Fatalf("lookups %v, want the default pending then succeeded", got)
				}
				checkLedger(t, b, ref, 1, &req.Amount)
			})
		}
	}
}
