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

// JobTable is River's job table: a finished job is deleted after
// JOB_RETENTION, so its bytes are transient; every other table's stay.
const JobTable = "river_job"

// StorageSplit is a run's growth split into River's job table (transient)
// and the rest (durable), each in total and per purchase.
type StorageSplit struct {
	TransientBytes            int64   `json:"db_bytes_transient"`
	TransientBytesPerPurchase float64 `json:"db_bytes_transient_per_purchase"`
	DurableBytes              int64   `json:"db_bytes_durable"`
	DurableBytesPerPurchase   float64 `json:"db_bytes_durable_per_purchase"`
}

// SplitGrowth splits the tables' growth (TableGrowth of n purchases) into
// the job table's and the rest.
func SplitGrowth(tables []TableBytes, n int) StorageSplit {
	var s StorageSplit
	for _, t := range tables {
		if t.Table == JobTable {
			s.TransientBytes += t.Bytes
		} else {
			s.DurableBytes += t.Bytes
		}
	}
	s.TransientBytesPerPurchase = float64(s.TransientBytes) / float64(max(n, 1))
	s.DurableBytesPerPurchase = float64(s.DurableBytes) / float64(max(n, 1))
	return s
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
