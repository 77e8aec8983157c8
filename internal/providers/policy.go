package providers

import (
	"slices"
	"strconv"
)

// Policy is what the flow must know of a provider to keep its invariants
// (docs/invariants.md, 1 and 3), as data: each provider package exports its
// own, and the flow reads it instead of comparing provider names. A third
// aggregator brings its Policy with its client.
type Policy struct {
	// Name is the provider's name as stored in products, purchases and
	// callbacks ("klikoo").
	Name string
	// PaymentReference is how OUR payment reference is made: generated
	// once, stored before the first payment call, reused on every repeat.
	PaymentReference ReferenceKind
	// InquiryReference is what each inquiry call sends as its reference.
	InquiryReference ReferenceKind
	// Dedupe is what the provider recognises a repeated payment by. A
	// payment whose outcome is unknown is repeated only where a repeat can
	// never charge twice (invariant 3).
	Dedupe Dedupe
	// LookupBy is what a status lookup of a payment needs.
	LookupBy LookupKey
	// SignatureHeader is the HTTP header of a callback that carries its
	// signature ("" when the provider signs none: its callbacks are hints).
	SignatureHeader string
	// NumberLength bounds the customer number of some families (Snapcart's
	// bill numbers: 8–18 characters); a family not listed has no bound
	// beyond the API's own.
	NumberLength map[Family]Length
}

// ReferenceKind is how a reference is made.
type ReferenceKind string

// The reference kinds.
const (
	// ReferenceRandom: a fresh UUID v4 (Klikoo's partner_reference_id).
	ReferenceRandom ReferenceKind = "random_uuid"
	// ReferencePurchaseID: our purchase id (Snapcart's reference_id).
	ReferencePurchaseID ReferenceKind = "purchase_id"
)

// Dedupe says what a provider recognises a repeated payment by.
type Dedupe string

// The dedupe rules.
const (
	// DedupeNone: every payment that arrives may charge (never repeat).
	DedupeNone Dedupe = "none"
	// DedupeReference: a repeat with the same reference never charges
	// again (Klikoo answers 409xx6563).
	DedupeReference Dedupe = "reference"
	// DedupeRequestID: a repeat carrying the inquiry's request id never
	// charges again; a one-step payment without one is not deduped
	// (Snapcart).
	DedupeRequestID Dedupe = "request_id"
)

// LookupKey says what a status lookup needs.
type LookupKey string

// The lookup keys.
const (
	// LookupByReference: our reference finds the payment (Klikoo's
	// history search).
	LookupByReference LookupKey = "reference"
	// LookupByRequestID: only the provider's request id finds it, learned
	// from the inquiry or the payment answer (Snapcart).
	LookupByRequestID LookupKey = "request_id"
)

// Length is an inclusive range of lengths.
type Length struct{ Min, Max int }

// Repeatable reports whether a payment whose outcome is unknown may be sent
// again with the same reference: only when the provider dedupes it.
// inquiryRequestID is the request id the purchase's inquiry returned, if any.
func (p Policy) Repeatable(inquiryRequestID string) bool {
	switch p.Dedupe {
	case DedupeReference:
		return true
	case DedupeRequestID:
		return inquiryRequestID != ""
	}
	return false
}

// CanLookup reports whether a lookup can find a payment, given the request
// id learned so far ("" when none).
func (p Policy) CanLookup(requestID string) bool {
	switch p.LookupBy {
	case LookupByReference:
		return true
	case LookupByRequestID:
		return requestID != ""
	}
	return false
}

// CheckNumber says why a customer number of family f does not suit this
// provider, or "".
func (p Policy) CheckNumber(f Family, number string) string {
	l, ok := p.NumberLength[f]
	if !ok || (len(number) >= l.Min && len(number) <= l.Max) {
		return ""
	}
	return "must be " + strconv.Itoa(l.Min) + "-" + strconv.Itoa(l.Max) + " characters for " + p.Name
}

// Valid reports whether every rule of p has a known value.
func (p Policy) Valid() bool {
	return p.Name != "" &&
		slices.Contains([]ReferenceKind{ReferenceRandom, ReferencePurchaseID}, p.PaymentReference) &&
		slices.Contains([]ReferenceKind{ReferenceRandom, ReferencePurchaseID}, p.InquiryReference) &&
		slices.Contains([]Dedupe{DedupeNone, DedupeReference, DedupeRequestID}, p.Dedupe) &&
		slices.Contains([]LookupKey{LookupByReference, LookupByRequestID}, p.LookupBy)
}
