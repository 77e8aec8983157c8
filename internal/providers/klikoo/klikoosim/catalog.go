package klikoosim

import (
	"bytes"
	"encoding/json"
	"net/http"
	"sort"
	"strings"

	"github.com/ppob-orchestrator/orchestrator/internal/providers"
)

// Product is one product of the simulator's catalog.
type Product struct {
	Code     string
	Name     string
	Category string           // Klikoo's category, as the product list shows it
	Family   providers.Family // how the rest of the app treats it
	// AgentPrice is our buy price (the product list's agent_price). For
	// postpaid and bpjs it is Klikoo's fee on top of the bill.
	AgentPrice int64
	// AdminFee is added to an inquiry's amount to make its total.
	AdminFee int64
	Enabled  bool
}

// Product returns p as a providers.Product.
func (p Product) Product() providers.Product {
	return providers.Product{Code: p.Code, Name: p.Name, Category: p.Category, Price: p.AgentPrice, Enabled: p.Enabled}
}

// HasInquiry reports whether Klikoo answers an inquiry for p: the prepaid
// inquiry for PLN and e-wallets, the postpaid inquiry for bills.
func (p Product) HasInquiry() bool {
	switch p.Family {
	case providers.FamilyPLNPrepaid, providers.FamilyEWallet, providers.FamilyPostpaid, providers.FamilyBPJS:
		return true
	}
	return false
}

// Products returns the simulator's catalog, ordered by code: a demo
// catalog the rest of the app may seed from. Each call returns a new slice.
// Two of its products are also sold by the Snapcart simulator, the pairs a
// route between the providers is built from (docs/simulators.md): S10 is
// Snapcart's TSEL10 and SDATA5GB is Snapcart's TSEL-DATA-5GB.
func Products() []Product {
	ps := []Product{
		{Code: "PLN20", Name: "PLN 20.000", Category: "PLN", Family: providers.FamilyPLNPrepaid, AgentPrice: 20500, AdminFee: 46, Enabled: true},
		{Code: "PLN50", Name: "PLN 50.000", Category: "PLN", Family: providers.FamilyPLNPrepaid, AgentPrice: 50500, AdminFee: 46, Enabled: true},
		{Code: "PLN100", Name: "PLN 100.000", Category: "PLN", Family: providers.FamilyPLNPrepaid, AgentPrice: 100500, AdminFee: 46, Enabled: true},
		{Code: "OVO10", Name: "OVO 10.000", Category: "E-Wallet", Family: providers.FamilyEWallet, AgentPrice: 10900, Enabled: true},
		{Code: "GOPAY10", Name: "GoPay 10.000", Category: "E-Wallet", Family: providers.FamilyEWallet, AgentPrice: 10900, Enabled: true},
		{Code: "DN1", Name: "DANA 10.000", Category: "E-Wallet", Family: providers.FamilyEWallet, AgentPrice: 10900, Enabled: true},
		{Code: "MAX5000", Name: "Maxim 5.000", Category: "E-Wallet", Family: providers.FamilyEWallet, AgentPrice: 5800, Enabled: true},
		{Code: "S5", Name: "Telkomsel 5.000", Category: "Pulsa", Family: providers.FamilyPulsa, AgentPrice: 5300, Enabled: false},
		{Code: "S10", Name: "Telkomsel 10.000", Category: "Pulsa", Family: providers.FamilyPulsa, AgentPrice: 10150, Enabled: true},
		{Code: "S25", Name: "Telkomsel 25.000", Category: "Pulsa", Family: providers.FamilyPulsa, AgentPrice: 25100, Enabled: true},
		{Code: "SDATA5GB", Name: "Telkomsel Data 5 GB 30 Hari", Category: "Paket Data", Family: providers.FamilyPaketData, AgentPrice: 51500, Enabled: true},
		{Code: "TELKOMPSTN", Name: "Telkom PSTN", Category: "Postpaid", Family: providers.FamilyPostpaid, AgentPrice: 2500, AdminFee: 1000, Enabled: true},
		{Code: "PDAM", Name: "PDAM", Category: "Postpaid", Family: providers.FamilyPostpaid, AgentPrice: 2000, AdminFee: 1000, Enabled: true},
		{Code: "BPJSKS", Name: "BPJS Kesehatan", Category: "BPJS", Family: providers.FamilyBPJS, AgentPrice: 2500, AdminFee: 1000, Enabled: true},
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i].Code < ps[j].Code })
	return ps
}

// simProductItem is one item of the product list answer.
type simProductItem struct {
	Code       string `json:"code"`
	Name       string `json:"name"`
	Category   string `json:"category"`
	Enable     bool   `json:"enable"`
	AgentPrice int64  `json:"agent_price"`
}

// handleProducts serves POST /v1/open-api/products: search terms match as
// case-insensitive substrings of code, name or category; sort by code, name,
// category or agent_price, asc or desc.
func (s *Simulator) handleProducts(w http.ResponseWriter, _ *http.Request, body []byte) {
	const svc = "04"
	var q struct {
		Limit  int `json:"limit"`
		Page   int `json:"page"`
		Search []struct {
			Field string `json:"field"`
			Value string `json:"value"`
		} `json:"search"`
		Sort struct {
			Field string `json:"field"`
			Value string `json:"value"`
		} `json:"sort"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&q); err != nil {
		reply(w, "400"+svc+"6510", "Invalid request body", nil)
		return
	}
	if q.Limit < 1 || q.Limit > 100 || q.Page < 1 {
		reply(w, "400"+svc+"6510", "limit must be 1..100 and page at least 1", nil)
		return
	}
	items := make([]simProductItem, 0)
	for _, p := range Products() {
		keep := true
		for _, t := range q.Search {
			var v string
			switch t.Field {
			case "code":
				v = p.Code
			case "name":
				v = p.Name
			case "category":
				v = p.Category
			default:
				reply(w, "400"+svc+"6510", "Unknown search field "+t.Field, nil)
				return
			}
			keep = keep && strings.Contains(strings.ToLower(v), strings.ToLower(t.Value))
		}
		if keep {
			items = append(items, simProductItem{Code: p.Code, Name: p.Name, Category: p.Category, Enable: p.Enabled, AgentPrice: p.AgentPrice})
		}
	}
	less := map[string]func(a, b simProductItem) bool{
		"":            func(a, b simProductItem) bool { return a.Code < b.Code },
		"code":        func(a, b simProductItem) bool { return a.Code < b.Code },
		"name":        func(a, b simProductItem) bool { return a.Name < b.Name },
		"category":    func(a, b simProductItem) bool { return a.Category < b.Category },
		"agent_price": func(a, b simProductItem) bool { return a.AgentPrice < b.AgentPrice },
	}[q.Sort.Field]
	if less == nil || (q.Sort.Value != "" && q.Sort.Value != "asc" && q.Sort.Value != "desc") {
		reply(w, "400"+svc+"6510", "Invalid sort", nil)
		return
	}
	sort.SliceStable(items, func(i, j int) bool {
		if q.Sort.Value == "desc" {
			return less(items[j], items[i])
		}
		return less(items[i], items[j])
	})
	total := len(items)
	start := min((q.Page-1)*q.Limit, total)
	end := min(start+q.Limit, total)
	reply(w, "200"+svc+"2000", "Sukses", map[string]any{
		"page": q.Page, "limit": q.Limit, "total": total, "items": items[start:end],
	})
}
