// Package snapcart owns everything about the Snapcart PPOB aggregator: a
// wire-exact Client that turns Snapcart's answers into the normalized
// providers types. Its simulator, an independent implementation of the same
// wire format, is the sub-package snapcartsim (docs/simulators.md).
//
// Classification is done by explicit tables per operation (classify.go), on
// status_code together with status_message and data.biller_code and
// biller_message, never on the code alone.
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
