// Package recon builds the reconciliation report from the database's
// reconciliation views (migrations/00003_reconciliation.sql): what is stuck,
// what needs review, contradicting provider reports, double payments, price
// discrepancies, daily totals per provider and product beside the observed
// deposit movement, callbacks that matched no purchase, and webhook deliveries
// that ran out of retries (migrations/00005_webhooks.sql). The views are the
// definition; this package reads them in one snapshot and prints them.
package recon
