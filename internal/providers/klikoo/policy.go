package klikoo

import "github.com/ppob-orchestrator/orchestrator/internal/providers"

// Name is Klikoo's name as the flow stores it.
const Name = providerName

// Policy is what the flow must know of Klikoo (docs/providers.md#klikoo):
// partner_reference_id is a fresh UUID v4 of ours, for the payment and for
// each inquiry apart; Klikoo dedupes buys by it (a repeat answers
// 409xx6563 and never charges), and its history search finds a payment by
// it alone.
var Policy = providers.Policy{
	Name:             Name,
	PaymentReference: providers.ReferenceRandom,
	InquiryReference: providers.ReferenceRandom,
	Dedupe:           providers.DedupeReference,
	LookupBy:         providers.LookupByReference,
}
