package snapcart

import "github.com/ppob-orchestrator/orchestrator/internal/providers"

// Policy is what the flow must know of Snapcart (docs/providers.md#snapcart):
// reference_id is our purchase id, also on inquiries (Snapcart echoes it).
// Snapcart dedupes payments by the request_id of a two-step flow (its docs
// call it the key for status checks and idempotency) but charges every
// one-step payment (no request_id) it receives, so only a two-step payment
// is ever repeated; a lookup needs the request_id, which a one-step payment
// learns only from its answer. Bill numbers are 8–18 characters.
var Policy = providers.Policy{
	Name:             Name,
	PaymentReference: providers.ReferencePurchaseID,
	InquiryReference: providers.ReferencePurchaseID,
	Dedupe:           providers.DedupeRequestID,
	LookupBy:         providers.LookupByRequestID,
	SignatureHeader:  "X-Signature",
	NumberLength: map[providers.Family]providers.Length{
		providers.FamilyPostpaid: {Min: 8, Max: 18},
		providers.FamilyBPJS:     {Min: 8, Max: 18},
	},
}
