package bench

import (
	"context"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ppob-orchestrator/orchestrator/internal/dbtest"
)

func TestParseProcStat(t *testing.T) {
	t.Parallel()
	// proc(5): pid (comm) state ppid pgrp session tty_nr tpgid flags minflt
	// cminflt majflt cmajflt utime stime cutime cstime ...
	got, err := parseProcStat([]byte("4242 (post gres) (x)) S 17 4242 4242 0 -1 4194560 100 0 0 0 250 50 1000 200 20 0 1 0\n"))
	if err != nil {
		t.Fatal(err)
	}
	if want := (procStat{Comm: "post gres) (x)", PPID: 17, CPU: 15 * time.Second}); got != want {
		t.Fatalf("parseProcStat = %+v, want %+v", got, want)
	}
	for _, bad := range []string{
		"",
		"4242 postgres S 17",
		"4242 (postgres) S 17 4242 4242 0 -1 4194560 100 0 0 0 250 50",
		"4242 (postgres) S x 4242 4242 0 -1 4194560 100 0 0 0 250 50 1000 200",
		"4242 (postgres) S 17 4242 4242 0 -1 4194560 100 0 0 0 250 -5 1000 200",
	} {
		if _, err := parseProcStat([]byte(bad)); err == nil {
			t.Errorf("parseProcStat(%q) accepted it", bad)
		}
	}
}

// The server's CPU grows by what a backend spends, and a process that is
// not a PostgreSQL backend is refused.
func TestServerCPU(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pool := dbtest.NewPool(t)
	var pid int
	if err := pool.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&pid); err != nil {
		t.Fatal(err)
	}
	postmaster, err := Postmaster(pid)
	if err != nil {
		t.Fatalf("the test database runs on this machine: %v", err)
	}
	before, err := ServerCPU(postmaster)
	if err != nil {
		t.Fatal(err)
	}
	// A query that only computes: its backend's CPU, nothing else's.
	var n int64
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM generate_series(1, 3000000) g WHERE g % 7 = 3").Scan(&n); err != nil {
		t.Fatal(err)
	}
	after, err := ServerCPU(postmaster)
	if err != nil {
		t.Fatal(err)
	}
	if grew := after - before; grew < 50*time.Millisecond {
		t.Errorf("the server's CPU grew %s over a query counting 3,000,000 rows", grew)
	}
	if _, err := Postmaster(os.Getpid()); !errors.Is(err, errNoServerProcess) {
		t.Errorf("Postmaster of this test process: %v, want errNoServerProcess", err)
	}
}

func TestCPUPer(t *testing.T) {
	t.Parallel()
	before := Counters{ServerCPU: time.Second, ProcessCPU: 2 * time.Second}
	after := Counters{ServerCPU: 3 * time.Second, ProcessCPU: 2500 * time.Millisecond}
	if got := CPUPer(before, after, 100); got.DBMS == nil || *got.DBMS != 20 || got.ProcessMS != 5 || got.Why != "" {
		t.Errorf("CPUPer = %+v, want 20 ms of the database's and 5 of this process's", got)
	}
	after.ServerCPUErr = errNoServerProcess
	got := CPUPer(before, after, 100)
	if got.DBMS != nil || got.Groups != nil || got.ProcessMS != 5 || !strings.Contains(got.Why, "not visible") {
		t.Errorf("CPUPer with the server unknown = %+v", got)
	}
}

// Each living process's growth goes to its group at the second snapshot, a
// process new since the first counts whole, and what the total grew beyond
// the living processes is the exited ones'.
func TestCPUByGroup(t *testing.T) {
	t.Parallel()
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	before := Counters{ServerCPU: ms(1000), Processes: map[int]ServerProcess{
		10: {"orchestrator-workers", ms(100)},
		11: {"orchestrator-api", ms(50)},
		12: {"checkpointer", ms(30)},
		13: {"orchestrator-api", ms(70)}, // closed by the snapshot: gone after
	}}
	after := Counters{ServerCPU: ms(2000), Processes: map[int]ServerProcess{
		10: {"orchestrator-workers", ms(700)}, // +600
		11: {"orchestrator-api", ms(250)},     // +200
		12: {"checkpointer", ms(30)},          // +0
		20: {"orchestrator-api", ms(100)},     // new: +100
	}}
	got := CPUByGroup(before, after, 10)
	want := []ProcessGroupCPU{{"orchestrator-workers", 60}, {"orchestrator-api", 30}, {ExitedGroup, 10}, {"checkpointer", 0}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("CPUByGroup = %+v, want %+v", got, want)
	}
	after.ServerCPUErr = errNoServerProcess
	if got := CPUByGroup(before, after, 10); got != nil {
		t.Fatalf("with the server unknown: %+v", got)
	}
}
