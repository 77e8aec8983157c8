// Package klikoosim is a simulator of Klikoo's Open API (B2B): an
// http.Handler that speaks the same wire format as the klikoo client —
// RSA-signed access-token requests, HMAC-SHA512 request signatures, WIB
// timestamps, Klikoo's response codes — with a ledger of charges, the
// scenarios chosen by the customer's number, unsigned callbacks, and the
// /_sim/ control routes of simkit. It is what `orchestrator dev` and
// `orchestrator sim`, the tests, the chaos test and the benchmark buy from.
//
// The simulator is an independent implementation of the wire format: it
// verifies signatures, parses bodies and builds answers with its own code and
// never imports the client, so a test of the client against it checks the
// client against a second reading of the protocol (and both against the
// signature test vectors of the testvectors package).
//
// docs/simulators.md describes every scenario, what this simulator answers
// in each, the control routes and the knobs.
package klikoosim
