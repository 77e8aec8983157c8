package bench

import (
	"cmp"
	"slices"
)

// TableBytes is one table's growth over a run: the table with its indexes
// and TOAST (pg_total_relation_size), ours or River's.
type TableBytes struct {
	Table            string  `json:"table"`
	Bytes            int64   `json:"bytes"`
	BytesPerPurchase float64 `json:"bytes_per_purchase"`
}

// TableGrowth returns each table's growth from before to after, per
// purchase of n, largest first (then by name); tables that did not change
// are left out. A table's size moves in whole pages (8 KiB), so a small run
// shows steps, not an average.
func TableGrowth(before, after Counters, n int) []TableBytes {
	var out []TableBytes
	for table, b := range after.Tables {
		grew := b - before.Tables[table]
		if grew == 0 {
			continue
		}
		out = append(out, TableBytes{Table: table, Bytes: grew, BytesPerPurchase: float64(grew) / float64(max(n, 1))})
	}
	slices.SortFunc(out, func(a, b TableBytes) int {
		return cmp.Or(cmp.Compare(b.Bytes, a.Bytes), cmp.Compare(a.Table, b.Table))
	})
	return out
}
