// Package snapcart owns everything about the Snapcart PPOB aggregator: a
// wire-exact Client that turns Snapcart's answers into the normalized
// providers types, and a Simulator (an http.Handler) that speaks the same wire
// format independently, for development, tests, chaos runs and benchmarks.
//
// The wire format and the classification rules are those of
// shared/spec/providers.md ("Snapcart PPOB"). Classification is done by
// explicit tables per operation (classify.go), on status_code together with
// status_message and data.biller_code/biller_message, never on the code alone.
//
// In this package a transaction's id is Snapcart's request_id: Payment.RequestID,
// Payment.TransactionID and Status.TransactionID all carry it, because it is the
// key of Payment Status and of callbacks (providers.Status has no RequestID
// field). Snapcart's order_id and payment_id stay in the raw bodies of the
// audit Calls.
//
// The API key travels only in the x-api-key header and is scrubbed from every
// recorded body, detail and error; callback secrets and signatures are never
// recorded or logged.
package snapcart
