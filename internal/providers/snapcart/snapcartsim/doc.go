// Package snapcartsim is a simulator of Snapcart's PPOB API: an http.Handler
// that speaks the same wire format as the snapcart client — the x-api-key,
// the pre-order inquiry, payment and payment status, the catalog, callbacks
// signed with X-Signature (hex HMAC-SHA256 of the body) — with a ledger of
// charges, the scenarios chosen by the customer's identifier, and the /_sim/
// control routes of simkit. It is what `orchestrator dev` and
// `orchestrator sim`, the tests, the chaos test and the benchmark buy from.
//
// The simulator is an independent implementation of the wire format: it
// parses requests, builds answers and signs callbacks with its own code and
// never imports the client, so a test of the client against it checks the
// client against a second reading of the protocol.
//
// Snapcart dedupes a payment by the inquiry's request_id (a repeat answers
// the first acknowledgement again and never charges twice) but charges a
// one-step payment, which has no request_id, every time it arrives.
//
// docs/simulators.md describes every scenario, what this simulator answers
// in each, the control routes and the knobs.
package snapcartsim
