// Package bigtable fills a scratch database with many synthetic purchases,
// fast, in SQL (INSERT … SELECT generate_series): the console's tests prove
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
		if _, err := q.PurchaseFill(ctx, PurchaseFillParams{
			ClientID: o.ClientID, Prefix: fmt.Sprintf("%s%d", o.Prefix, done/chunk), ProductCode: o.Product,
			Provider: o.Provider, Family: o.Family, Newest: newest, StepSeconds: o.Step.Seconds(), N: int32(n),
		}); err != nil {
			return fmt.Errorf("fill purchases %d-%d: %w", done, done+n, err)
		}
	}
	if err := q.PurchasesAnalyze(ctx); err != nil {
		return fmt.Errorf("analyze purchases: %w", err)
	}
	return nil
}
