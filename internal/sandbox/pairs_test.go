package sandbox_test

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/ppob-orchestrator/orchestrator/internal/flow"
	"github.com/ppob-orchestrator/orchestrator/internal/providers"
	"github.com/ppob-orchestrator/orchestrator/internal/providers/klikoo/klikoosim"
	"github.com/ppob-orchestrator/orchestrator/internal/sandbox"
)

// routingPairs are the products both simulators sell, each under its own
// code (docs/simulators.md, "Products both simulators sell"): what a
// product with an offer at each provider is built from.
var routingPairs = []struct {
	name             string
	klikoo, snapcart string
	family           providers.Family
}{
	{"Telkomsel 10.000", "S10", "TSEL10", providers.FamilyPulsa},
	{"Telkomsel data 5 GB", "SDATA5GB", "TSEL-DATA-5GB", providers.FamilyPaketData},
}

// TestBothSimulatorsSellTheRoutingPairs: each pair is listed, enabled and
// priced by both simulators' catalogs as the clients read them, sits in the
// demo catalog under both codes with the same family and no inquiry, and
// can be bought to SUCCESS at each provider.
func TestBothSimulatorsSellTheRoutingPairs(t *testing.T) {
	t.Parallel()
	creds, err := sandbox.NewCredentials()
	if err != nil {
		t.Fatalf("credentials: %v", err)
	}
	sims, err := sandbox.NewSims(creds, sandbox.Options{})
	if err != nil {
		t.Fatalf("simulators: %v", err)
	}
	ks, ss := httptest.NewServer(sims.Klikoo), httptest.NewServer(sims.Snapcart)
	t.Cleanup(func() { ks.Close(); ss.Close(); sims.Close() })
	k, s, err := sandbox.Clients(creds, sandbox.ClientOptions{
		KlikooBaseURL: ks.URL + klikoosim.DefaultPrefix, SnapcartBaseURL: ss.URL, Timeout: 10 * time.Second,
	})
	if err != nil {
		t.Fatalf("clients: %v", err)
	}
	ctx := context.Background()
	kList, res := k.Products(ctx)
	if res.Outcome != providers.Succeeded {
		t.Fatalf("klikoo products: %v", res)
	}
	sList, res := s.Products(ctx)
	if res.Outcome != providers.Succeeded {
		t.Fatalf("snapcart products: %v", res)
	}
	catalog := map[string]flow.CatalogEntry{}
	for _, e := range sandbox.Catalog() {
		catalog[e.Provider+"/"+e.Code] = e
	}
	for _, pair := range routingPairs {
		kp, sp := find(kList, pair.klikoo), find(sList, pair.snapcart)
		if kp == nil || sp == nil || !kp.Enabled || !sp.Enabled || kp.Price <= 0 || sp.Price <= 0 {
			t.Fatalf("%s: klikoo %+v, snapcart %+v; want both listed, enabled and priced", pair.name, kp, sp)
		}
		ke, se := catalog["klikoo/"+pair.klikoo], catalog["snapcart/"+pair.snapcart]
		if ke.Family != pair.family || se.Family != pair.family || ke.Inquiry != "none" || se.Inquiry != "none" {
			t.Fatalf("%s: demo catalog %+v and %+v, want family %s without inquiry at both", pair.name, ke, se, pair.family)
		}

		kRef := uuid.NewString()
		pay := k.Pay(ctx, providers.PaymentRequest{Reference: kRef, ProductCode: kp.Code, Family: pair.family, CustomerNumber: "081234567801", Amount: kp.Price})
		if pay.Outcome != providers.Pending {
			t.Fatalf("%s at klikoo: %v", pair.name, pay.Result)
		}
		succeeds(t, pair.name+" at klikoo", func() providers.Status {
			return k.Lookup(ctx, providers.LookupRequest{Reference: kRef, TransactionID: pay.TransactionID, CreatedAt: time.Now()})
		})

		sRef := "pair-" + uuid.NewString()
		spay := s.Pay(ctx, providers.PaymentRequest{Reference: sRef, ProductCode: sp.Code, Family: pair.family, CustomerNumber: "081234567801", ItemCode: sp.ItemCode, Amount: sp.Price})
		if spay.Outcome != providers.Pending {
			t.Fatalf("%s at snapcart: %v", pair.name, spay.Result)
		}
		succeeds(t, pair.name+" at snapcart", func() providers.Status {
			return s.Lookup(ctx, providers.LookupRequest{Reference: sRef, RequestID: spay.RequestID})
		})
		if c, _ := sims.Klikoo.Ledger().Get(kRef); c.Count != 1 || c.Amount != kp.Price {
			t.Fatalf("%s: klikoo charged %+v, want once %d", pair.name, c, kp.Price)
		}
		if c, _ := sims.Snapcart.Ledger().Get(sRef); c.Count != 1 || c.Amount != sp.Price {
			t.Fatalf("%s: snapcart charged %+v, want once %d", pair.name, c, sp.Price)
		}
	}
}

func find(ps []providers.Product, code string) *providers.Product {
	for i := range ps {
		if ps[i].Code == code {
			return &ps[i]
		}
	}
	return nil
}

// succeeds looks a purchase up until it succeeds with a serial number; the
// default customer number is pending for one lookup, then SUCCESS.
func succeeds(t *testing.T, what string, lookup func() providers.Status) {
	t.Helper()
	var st providers.Status
	for range 3 {
		if st = lookup(); st.Outcome == providers.Succeeded && st.SerialNumber != "" {
			return
		}
	}
	t.Fatalf("%s: last lookup %v, want succeeded with a serial", what, st.Result)
}
