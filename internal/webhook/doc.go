// Package webhook tells clients how their purchases move (docs/webhooks.md):
// each client's endpoints with their signing secrets (sealed with
// AES-256-GCM under WEBHOOK_SECRET_KEY), the transactional outbox the flow
// hands every status change to (Enqueue: one message per subscribed
// endpoint, in the transaction of the change), and the River jobs that
// deliver them on a queue of their own — signed the Standard Webhooks way,
// retried on a fixed schedule, at most a few attempts in flight per
// endpoint, never to a private address unless allowed — with every attempt
// recorded, manual retry and recovery, and the cleanup of what outlived
// WEBHOOK_RETENTION.
//
// The flow never imports this package; cmd/orchestrator hands the flow a
// *Service as its flow.Outbox and runs the delivery workers on the flow's
// River client.
package webhook
