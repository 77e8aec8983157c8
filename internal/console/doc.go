// Package console is the operators' web console (docs/console.md): sign-in
// with a server-side session, CSRF and same-origin checks on every POST,
// strict security headers, and server-rendered pages — Overview, Purchases,
// Purchase, Needs review, Reconciliation, Providers, Webhooks — with River
// UI mounted under /console/river/ behind the same session.
//
// Pages are html/template files and static assets embedded from this
// package; they work with JavaScript off (htmx, vendored in static/, only
// refreshes and searches in place). Every read is an sqlc query of
// internal/store (queries/console.sql, queries/console_webhooks.sql);
// decisions on purchases and providers go through package flow, which
// audits them with the operator's name; a webhook delivery is sent again
// through package webhook, and the console records who did it in
// admin_events. The package holds a pgx pool only to hand it to store and
// recon.
package console
