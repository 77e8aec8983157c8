package snapcartsim

import (
	"fmt"
	"net/http"

	"github.com/ppob-orchestrator/orchestrator/internal/providers"
)

// InquiryMode says whether a product needs an inquiry before its payment.
type InquiryMode string

// The inquiry modes of the catalog.
const (
	InquiryRequired InquiryMode = "required" // two-step: the payment needs the inquiry's request_id
	InquiryOptional InquiryMode = "optional" // validation only (game vouchers); the payment is one-step
	InquiryNone     InquiryMode = "none"     // one-step, and the inquiry endpoint refuses the product
)

// Product is one product of the simulator's catalog, exported so the app
// can seed a demo catalog that matches it.
type Product struct {
	Code    string           // product_code
	Name    string           // display name
	Type    string           // catalog type: pulsa, paket-data, game-voucher, bpjs, postpaid
	Family  providers.Family // the family the flow uses
	Inquiry InquiryMode
	// Price is our buy price: the bill amount an inquiry answers for billing
	// products, the item price otherwise. It is what the simulator charges.
	Price    int64
	ItemID   int    // the item's id in the catalog
	ItemCode string // the item's item_code
	// ZoneRequired says whether a game voucher needs zone_id.
	ZoneRequired bool
	// Inactive products are listed with active false and refused with 404.
	Inactive bool
}

// Products returns the simulator's default catalog: two-step billing
// products TELKOM_POSTPAID (the seed's), PDAM_KOTA and BPJS_KES; game
// vouchers ML-DIAMONDS-86 and FF-DIAMONDS-100 (inquiry optional, validating
// user_id and zone_id); pulsa TSEL10 and XL25, and data TSEL-DATA-5GB (no
// inquiry). The slice is fresh on every call.
func Products() []Product {
	return []Product{
		{Code: "TELKOM_POSTPAID", Name: "Telkom Indihome / Telepon", Type: "postpaid", Family: providers.FamilyPostpaid, Inquiry: InquiryRequired, Price: 5500, ItemID: 101, ItemCode: "TELKOM_POSTPAID"},
		{Code: "PDAM_KOTA", Name: "PDAM Kota", Type: "postpaid", Family: providers.FamilyPostpaid, Inquiry: InquiryRequired, Price: 87500, ItemID: 102, ItemCode: "PDAM_KOTA"},
		{Code: "BPJS_KES", Name: "BPJS Kesehatan", Type: "bpjs", Family: providers.FamilyBPJS, Inquiry: InquiryRequired, Price: 150000, ItemID: 201, ItemCode: "BPJS_KES"},
		{Code: "ML-DIAMONDS-86", Name: "Mobile Legends 86 Diamonds", Type: "game-voucher", Family: providers.FamilyGameVoucher, Inquiry: InquiryOptional, Price: 21500, ItemID: 301, ItemCode: "ML86", ZoneRequired: true},
		{Code: "FF-DIAMONDS-100", Name: "Free Fire 100 Diamonds", Type: "game-voucher", Family: providers.FamilyGameVoucher, Inquiry: InquiryOptional, Price: 15200, ItemID: 302, ItemCode: "FF100"},
		{Code: "TSEL10", Name: "Telkomsel Pulsa 10.000", Type: "pulsa", Family: providers.FamilyPulsa, Inquiry: InquiryNone, Price: 10150, ItemID: 401, ItemCode: "TSEL10"},
		{Code: "XL25", Name: "XL Pulsa 25.000", Type: "pulsa", Family: providers.FamilyPulsa, Inquiry: InquiryNone, Price: 24900, ItemID: 402, ItemCode: "XL25"},
		{Code: "TSEL-DATA-5GB", Name: "Telkomsel Data 5 GB 30 hari", Type: "paket-data", Family: providers.FamilyPaketData, Inquiry: InquiryNone, Price: 52000, ItemID: 501, ItemCode: "TSELD5"},
	}
}

// validate checks a catalog entry, naming the bad field.
func (p Product) validate() error {
	switch {
	case p.Code == "" || len(p.Code) > 64:
		return fmt.Errorf("product %q: Code must be 1-64 characters", p.Code)
	case p.Type == "":
		return fmt.Errorf("product %s: Type is required", p.Code)
	case p.Price < 0:
		return fmt.Errorf("product %s: Price must not be negative", p.Code)
	case p.ItemCode == "":
		return fmt.Errorf("product %s: ItemCode is required", p.Code)
	}
	switch p.Inquiry {
	case InquiryRequired, InquiryOptional, InquiryNone:
	default:
		return fmt.Errorf("product %s: Inquiry must be required, optional or none, got %q", p.Code, p.Inquiry)
	}
	if p.Inquiry == InquiryRequired && p.Family.UsesUserID() {
		return fmt.Errorf("product %s: a game voucher cannot require an inquiry", p.Code)
	}
	return nil
}

// simCatalogProduct is a product in the catalog answers.
type simCatalogProduct struct {
	ProductCode string `json:"product_code"`
	Name        string `json:"name"`
	Type        string `json:"type"`
	Active      bool   `json:"active"`
	Inquiry     string `json:"inquiry"`
}

// simCatalogItem is one item in GET {catalog}{type}/{code}/items.
type simCatalogItem struct {
	ID       int    `json:"id"`
	ItemCode string `json:"item_code"`
	Name     string `json:"name"`
	Price    int64  `json:"price"`
}

func catalogEntry(p Product) simCatalogProduct {
	return simCatalogProduct{ProductCode: p.Code, Name: p.Name, Type: p.Type, Active: !p.Inactive, Inquiry: string(p.Inquiry)}
}

// handleCatalogList answers GET {catalog}{type}: every product of the type.
func (s *Simulator) handleCatalogList(w http.ResponseWriter, r *http.Request) {
	typ := r.PathValue("type")
	list := []simCatalogProduct{}
	for _, p := range s.catalog {
		if p.Type == typ {
			list = append(list, catalogEntry(p))
		}
	}
	if len(list) == 0 && !s.types[typ] {
		writeStatus(w, http.StatusNotFound, "404", "Catalog type not found", "Unknown catalog type")
		return
	}
	writeAnswer(w, http.StatusOK, simAnswer{Data: list, StatusCode: "200", StatusMessage: "Success"})
}

// handleCatalogProduct answers GET {catalog}{type}/{code}.
func (s *Simulator) handleCatalogProduct(w http.ResponseWriter, r *http.Request) {
	p, ok := s.catalogProduct(r)
	if !ok {
		writeProductNotFound(w)
		return
	}
	writeAnswer(w, http.StatusOK, simAnswer{Data: catalogEntry(p), StatusCode: "200", StatusMessage: "Success"})
}

// handleCatalogItems answers GET {catalog}{type}/{code}/items.
func (s *Simulator) handleCatalogItems(w http.ResponseWriter, r *http.Request) {
	p, ok := s.catalogProduct(r)
	if !ok {
		writeProductNotFound(w)
		return
	}
	items := []simCatalogItem{{ID: p.ItemID, ItemCode: p.ItemCode, Name: p.Name, Price: p.Price}}
	writeAnswer(w, http.StatusOK, simAnswer{Data: items, StatusCode: "200", StatusMessage: "Success"})
}

// catalogProduct finds the product a catalog path names, type included.
func (s *Simulator) catalogProduct(r *http.Request) (Product, bool) {
	p, ok := s.products[r.PathValue("code")]
	return p, ok && p.Type == r.PathValue("type")
}
