// Package bigtable fills a scratch database with many synthetic purchases
// (and, as asked, the attempts they failed over from and their webhook
// deliveries), fast, in SQL (INSERT … SELECT generate_series): the console's tests prove
// on it that every search uses its index, and its benchmark measures pages
// on a million rows (docs/console.md). Never point it at a real database.
package bigtable

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// FillOptions say what to insert: N purchases of ClientID buying Product
// (which must exist), the newest at Newest and one every Step before it.
// Each chunk of 100,000 rows numbers its rows i from 1 and gets its own
// prefix, Prefix and the chunk's number (P0, P1, …), so every identifier is
// unique: reference_id P-i, provider reference P-ref-i, transaction id
// P-tx-i, serial number P-sn-i; the token (i left-padded with 7 to 20
// digits) and the customer number (08 and i on 10 digits) repeat per chunk.
type FillOptions struct {
	ClientID                  uuid.UUID
	Prefix                    string
	Product, Provider, Family string
	N                         int
	Newest                    time.Time
	Step                      time.Duration
	// FailedOverFrom, when set, makes one purchase in five (i divisible by
	// 5) one that failed over from this provider: its ended attempt has our
	// reference P-aref-i and the provider's transaction id P-atx-i.
	FailedOverFrom string
	// Endpoint, when set, is a webhook endpoint of ClientID that every
	// purchase sent one delivery to: one in fifty failed (i divisible by
	// 50), the others delivered.
	Endpoint *uuid.UUID
}

// chunk is how many rows one statement inserts.
const chunk = 100_000

// Fill inserts the purchases in chunks, then refreshes the planner's
// statistics.
func Fill(ctx context.Context, db DBTX, o FillOptions) error {
	q := New(db)
	for done := 0; done < o.N; done += chunk {
		n := min(chunk, o.N-done)
		newest := o.Newest.Add(-time.Duration(done) * o.Step)
		prefix := fmt.Sprintf("%s%d", o.Prefix, done/chunk)
		if _, err := q.PurchaseFill(ctx, PurchaseFillParams{
			ClientID: o.ClientID, Prefix: prefix, ProductCode: o.Product, Provider: o.Provider, Family: o.Family,
			Newest: newest, StepSeconds: o.Step.Seconds(), FailedOverFrom: o.FailedOverFrom, N: int32(n),
		}); err != nil {
			return fmt.Errorf("fill purchases %d-%d: %w", done, done+n, err)
		}
		if o.FailedOverFrom != "" {
			if _, err := q.PurchaseAttemptFill(ctx, PurchaseAttemptFillParams{Prefix: prefix, ClientID: o.ClientID}); err != nil {
				return fmt.Errorf("fill attempts of purchases %d-%d: %w", done, done+n, err)
			}
		}
		if o.Endpoint != nil {
			if _, err := q.WebhookMessageFill(ctx, WebhookMessageFillParams{EndpointID: *o.Endpoint, ClientID: o.ClientID, Prefix: prefix}); err != nil {
				return fmt.Errorf("fill webhook deliveries of purchases %d-%d: %w", done, done+n, err)
			}
		}
	}
	if err := q.PurchasesAnalyze(ctx); err != nil {
		return fmt.Errorf("analyze the filled tables: %w", err)
	}
	return nil
}
