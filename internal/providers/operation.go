package providers

import "time"

// Family is a product family; it decides which identifier a product needs and
// which provider endpoint serves its inquiry.
type Family string

// The product families of the catalog.
const (
	FamilyPLNPrepaid  Family = "pln_prepaid"  // Klikoo PLN tokens: inquiry optional, token in the serial
	FamilyEWallet     Family = "ewallet"      // Klikoo OVO, GoPay, DANA, Maxim: inquiry optional
	FamilyPulsa       Family = "pulsa"        // phone credit: no inquiry
	FamilyPaketData   Family = "paket_data"   // data packages: no inquiry
	FamilyPostpaid    Family = "postpaid"     // Telkom, PDAM, PLN postpaid: inquiry required
	FamilyBPJS        Family = "bpjs"         // BPJS: inquiry required, needs phone and period
	FamilyGameVoucher Family = "game_voucher" // user_id + zone_id; Snapcart validates by inquiry
)

// Families lists every family, for validation and documentation.
var Families = []Family{FamilyPLNPrepaid, FamilyEWallet, FamilyPulsa, FamilyPaketData, FamilyPostpaid, FamilyBPJS, FamilyGameVoucher}

// UsesUserID reports whether the family identifies the customer by user_id and
// zone_id instead of customer_number.
func (f Family) UsesUserID() bool { return f == FamilyGameVoucher }

// Postpaid reports whether the family is a bill (inquiry against an account).
func (f Family) Postpaid() bool { return f == FamilyPostpaid || f == FamilyBPJS }

// InquiryRequest asks a provider to validate a customer and price a product.
type InquiryRequest struct {
	ProductCode    string // the provider's product code
	Family         Family
	CustomerNumber string // meter, phone, account or bill number
	Phone          string // the end customer's phone (Klikoo msidn)
	UserID, ZoneID string // game vouchers
	Period         string // BPJS billing period
	Amount         int64  // our buy price from the catalog (Klikoo prepaid inquiry sends it)
	SellingPrice   int64  // the client's selling price, or Amount
	// Reference is a fresh reference for this inquiry only (Klikoo: a UUID v4,
	// never the payment's; Snapcart: echoed back, optional).
	Reference string
}

// Inquiry is the answer of an inquiry.
type Inquiry struct {
	Result
	CustomerName string
	Amount       int64 // the price the provider will charge us
	Total        int64 // what the customer pays, fees included (0 when not given)
	// RequestID is Snapcart's request_id for a two-step flow ("" for one-step).
	RequestID string
	// Details holds product-specific enrichment (power_capacity, ign, period…).
	Details map[string]string
	// Balance is our deposit as reported alongside the answer, if any.
	Balance *int64
}

// PaymentRequest asks a provider to buy a product. Reference is OUR provider
// reference (docs/invariants.md#1-one-provider-reference-per-purchase): generated once, reused on every repeat.
type PaymentRequest struct {
	Reference      string
	ProductCode    string
	Family         Family
	CustomerNumber string
	Phone          string
	UserID, ZoneID string
	Period         string
	ItemCode       string
	Amount         int64  // what we pay the provider
	SellingPrice   int64  // the client's selling price, or Amount
	RequestID      string // Snapcart two-step request_id from the inquiry
}

// Payment is the answer of a payment call. A payment answer is an
// acknowledgement: Outcome Pending means accepted, not done.
type Payment struct {
	Result
	TransactionID string // the provider's own id (Klikoo transaction_id, Snapcart order id)
	RequestID     string // Snapcart request_id, learned here for one-step payments
	Status        Status // set when the answer already carries a final status
}

// LookupRequest asks for the status of a payment we made.
type LookupRequest struct {
	Reference     string    // OUR provider reference
	TransactionID string    // the provider's id, when a payment answer gave one
	RequestID     string    // Snapcart request_id
	CreatedAt     time.Time // when the purchase was created (Klikoo history window)
}

// Status is what a lookup or a callback reports about a transaction.
type Status struct {
	Result
	Reference     string // the reference the provider echoed (must equal ours to apply)
	TransactionID string
	ProductCode   string
	Amount        int64 // what the provider reports it deducted (0 if absent)
	SerialNumber  string
	RawStatus     string // the provider's own status word or code
	CustomerName  string
	Balance       *int64 // our deposit after the transaction, if reported
}

// Product is one item of a provider's product list.
type Product struct {
	Code     string
	Name     string
	Category string
	Price    int64 // our buy price
	Enabled  bool
	ItemCode string
}
