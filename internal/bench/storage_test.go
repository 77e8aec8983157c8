package bench

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ppob-orchestrator/orchestrator/internal/dbtest"
)

func TestTableGrowth(t *testing.T) {
	t.Parallel()
	before := Counters{Tables: map[string]int64{"a": 100, "b": 50, "d": 10}}
	after := Counters{Tables: map[string]int64{"a": 300, "b": 50, "c": 8192, "d": 210}}
	got := TableGrowth(before, after, 2)
	want := []TableBytes{{"c", 8192, 4096}, {"a", 200, 100}, {"d", 200, 100}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("TableGrowth = %+v, want %+v", got, want)
	}
}

// River's job table is transient, everything else durable; the two add up
// to the total.
func TestSplitGrowth(t *testing.T) {
	t.Parallel()
	tables := []TableBytes{{"river_job", 4000, 2000}, {"purchases", 3000, 1500}, {"callbacks", 1000, 500}}
	got := SplitGrowth(tables, 2)
	want := StorageSplit{TransientBytes: 4000, TransientBytesPerPurchase: 2000, DurableBytes: 4000, DurableBytesPerPurchase: 2000}
	if got != want {
		t.Fatalf("SplitGrowth = %+v, want %+v", got, want)
	}
	if got := SplitGrowth(nil, 0); got != (StorageSplit{}) {
		t.Fatalf("no growth: %+v", got)
	}
}

// A snapshot reads each table's size with its indexes and TOAST, a
// partitioned table's partitions under its own name, leaves the bench's
// table out, and its total is the sum of the tables.
func TestSnapshotBytesByTable(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pool := dbtest.NewPool(t)
	obs := NewObserver(pool)
	obs.settle = 0
	if err := EnsureSchema(ctx, pool); err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{
		"CREATE TABLE grow_plain (id int PRIMARY KEY, body text)",
		"CREATE TABLE grow_parted (month int NOT NULL, body text) PARTITION BY LIST (month)",
		"CREATE TABLE grow_parted_1 PARTITION OF grow_parted FOR VALUES IN (1)",
		"CREATE TABLE grow_parted_2 PARTITION OF grow_parted FOR VALUES IN (2)",
	} {
		if _, err := pool.Exec(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	before, err := obs.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat("x", 20_000) // compressible, still TOASTed
	for _, stmt := range []string{
		"INSERT INTO grow_plain SELECT g, $1::text || g FROM generate_series(1, 200) g",
		"INSERT INTO grow_parted SELECT 1 + g % 2, $1::text || g FROM generate_series(1, 200) g",
		"INSERT INTO bench_chain SELECT g, length($1::text) FROM generate_series(1, 5000) g",
	} {
		if _, err := pool.Exec(ctx, stmt, big); err != nil {
			t.Fatal(err)
		}
	}
	after, err := obs.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if after.ServerCPUErr != nil || after.ServerCPU <= 0 || after.ProcessCPU <= before.ProcessCPU {
		t.Errorf("CPU: server %s (%v), this process %s → %s", after.ServerCPU, after.ServerCPUErr, before.ProcessCPU, after.ProcessCPU)
	}
	groups := map[string]bool{}
	for _, p := range after.Processes {
		groups[p.Group] = true
	}
	if !groups["checkpointer"] || len(groups) < 2 {
		t.Errorf("the server's processes by group: %v, want the checkpointer and the sessions", groups)
	}
	var sum int64
	for name, b := range after.Tables {
		sum += b
		if name == "bench_chain" || strings.HasPrefix(name, "grow_parted_") {
			t.Errorf("table %s is listed", name)
		}
	}
	if sum != after.Bytes {
		t.Errorf("total %d, sum of the tables %d", after.Bytes, sum)
	}
	growth := map[string]int64{}
	for _, g := range TableGrowth(before, after, 1) {
		growth[g.Table] = g.Bytes
	}
	for _, name := range []string{"grow_plain", "grow_parted"} {
		if growth[name] <= 0 {
			t.Errorf("%s grew %d bytes; growth %v", name, growth[name], growth)
		}
	}
	if _, ok := after.Tables["river_job"]; !ok {
		t.Errorf("River's tables are not counted: %v", after.Tables)
	}
}
