// Package flow owns the purchase: its state machine (machine.go, pure), and
// the River jobs that drive it — inquiry, payment, status lookups, expiry,
// the sweeper, the catalog and balance checks — each committing its status
// change, its audit event and the next job in one transaction, with provider
// calls made between transactions. It also applies what the API and the
// providers bring: creation with reference_id idempotency, confirm, cancel,
// operator resolve, and callbacks.
//
// The flow declares the small Provider interface it calls; cmd/orchestrator
// hands it the concrete clients. docs/flow.md describes the machine and the
// shape of the code; the invariants its comments cite by number ("invariant
// 3") are those of docs/invariants.md.
package flow
