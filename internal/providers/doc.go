// Package providers holds what every provider client shares: the normalized
// Outcome of a call, the request and answer types the flow works with, the
// audit record of an HTTP exchange, and strict parsers for rupiah amounts and
// PLN serial numbers.
//
// Each provider lives in its own sub-package (klikoo, snapcart) with a
// concrete *Client; those packages import this one and never each other, the
// flow, the store or the API. Each provider's simulator is a package of its
// own beside the client (klikoo/klikoosim, snapcart/snapcartsim) that never
// imports the client, sharing only simkit with the other simulator
// (docs/simulators.md). docs/providers.md describes both providers as
// implemented; the invariants cited by number are those of
// docs/invariants.md.
package providers
