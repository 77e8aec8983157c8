package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ppob-orchestrator/orchestrator/internal/pgcluster"
)

var summaryLine = regexp.MustCompile(`^chaos: purchases=(\d+) kills=(\d+) db_restarts=(\d+) succeeded=(\d+) failed=(\d+) canceled=(\d+) needs_review=(\d+) double_charges=(\d+) lost=(\d+) invalid_paths=(\d+) webhooks_lost=(\d+) bad_signatures=(\d+) multi_provider_charges=(\d+) failovers=(\d+)$`)

// The chaos test of issue 7 at its small size, as `make chaos` runs it: the
// real binary, its own PostgreSQL, the simulators with faults on, two serve
// processes of which one is SIGKILLed three times, PostgreSQL restarted in
// immediate mode once — and it must find nothing: no double charge, nothing
// lost, every event log a valid path, every purchase at the end its scenario
// requires, reconcile reporting only what is expected — and every status
// change told to its client's webhook endpoint (a receiver in the chaos
// process that fails, times out and answers slowly at random), signed,
// byte-identical on every attempt, to no other client.
func TestChaosSmallRun(t *testing.T) {
	t.Parallel()
	if _, err := pgcluster.FindBinaries(); err != nil {
		t.Fatalf("the chaos test needs PostgreSQL's binaries: %v", err)
	}
	bin := buildBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "chaos", "--purchases", "300", "--kills", "3", "--db-restarts", "1")
	// A data race stops the process that has it (the binary is built with
	// -race; the serve processes inherit this): chaos then reports a serve
	// process that exited by itself, or fails outright.
	cmd.Env = append(os.Environ(), "GORACE=halt_on_error=1")
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = time.Minute
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	t.Logf("chaos ran %s:\n%s", time.Since(start).Round(time.Second), out.String())
	if err != nil {
		t.Fatalf("orchestrator chaos: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	last := lines[len(lines)-1]
	m := summaryLine.FindStringSubmatch(last)
	if m == nil {
		t.Fatalf("the last line is not the summary: %q", last)
	}
	want := map[int]string{2: "3", 3: "1", 8: "0", 9: "0", 10: "0", 11: "0", 12: "0", 13: "0"}
	for i, v := range want {
		if m[i] != v {
			t.Errorf("summary field %d is %s, want %s: %s", i, m[i], v, last)
		}
	}
	// Every order was bought, or refused while Klikoo, which alone sells
	// it, was paused; and the routing scenarios failed over.
	r := refusedLine.FindStringSubmatch(out.String())
	if r == nil {
		t.Fatalf("no refused_while_paused count in the output")
	}
	bought, _ := strconv.Atoi(m[1])
	refused, _ := strconv.Atoi(r[1])
	if bought+refused != 300 || refused == 0 {
		t.Errorf("%d purchases and %d refused while paused, want 300 in all, some refused", bought, refused)
	}
	if m[14] == "0" {
		t.Errorf("no failover: %s", last)
	}
}

var refusedLine = regexp.MustCompile(`(?m)^chaos: elapsed=.* refused_while_paused=(\d+) `)

// Every flag is validated before anything starts, and the error names it.
func TestChaosValidatesItsFlags(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--purchases", "0"}, "--purchases"},
		{[]string{"--kills", "-1"}, "--kills"},
		{[]string{"--db-restarts", "-2"}, "--db-restarts"},
		{[]string{"--fault-rate", "0.9"}, "--fault-rate"},
		{[]string{"--rate", "0"}, "--rate"},
		{[]string{"--status-deadline", "5s"}, "--status-deadline"},
		{[]string{"--deadline", "30s"}, "--deadline"},
		{[]string{"--purchases", "many"}, "-purchases"},
		{[]string{"--bogus"}, "bogus"},
		{[]string{"extra"}, `unexpected argument "extra"`},
	} {
		var out bytes.Buffer
		err := runChaos(context.Background(), nil, c.args, &out, io.Discard)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("chaos %v: error %v, want one naming %s", c.args, err, c.want)
		}
		if out.Len() != 0 {
			t.Errorf("chaos %v started something: %s", c.args, out.String())
		}
	}
}

// Ctrl-C in the middle of a run stops every process it started — the
// serve processes, the simulators, PostgreSQL — and says where the logs are.
func TestChaosInterruptedCleansUp(t *testing.T) {
	t.Parallel()
	if _, err := pgcluster.FindBinaries(); err != nil {
		t.Fatalf("the chaos test needs PostgreSQL's binaries: %v", err)
	}
	bin := buildBinary(t)
	cmd := exec.Command(bin, "chaos", "--purchases", "100000", "--kills", "0", "--db-restarts", "0")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	// out is what chaos printed so far; the reader goroutine writes it
	// while a failing wait below may read it.
	var (
		outMu sync.Mutex
		out   strings.Builder
	)
	output := func() string {
		outMu.Lock()
		defer outMu.Unlock()
		return out.String()
	}
	buying := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stdout)
		signaled := false
		for sc.Scan() {
			outMu.Lock()
			out.WriteString(sc.Text() + "\n")
			outMu.Unlock()
			if !signaled && strings.Contains(sc.Text(), "chaos: buying") {
				signaled = true
				close(buying)
			}
		}
	}()
	select {
	case <-buying:
	case <-done:
		t.Fatalf("the run ended before it started buying:\n%s", output())
	case <-time.After(2 * time.Minute):
		t.Fatalf("the run never started buying:\n%s", output())
	}
	time.Sleep(2 * time.Second) // purchases in flight
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() { <-done; waited <- cmd.Wait() }()
	select {
	case err = <-waited:
	case <-time.After(2 * time.Minute):
		t.Fatalf("chaos did not stop within 2 minutes of Ctrl-C:\n%s", output())
	}
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() == 0 {
		t.Errorf("an interrupted run exited with %v, want a failure", err)
	}
	m := regexp.MustCompile(`work dir kept: (\S+)`).FindStringSubmatch(output())
	if m == nil {
		t.Fatalf("an interrupted run did not name its work dir:\n%s", output())
	}
	t.Cleanup(func() { _ = os.RemoveAll(m[1]) })
	if _, err := os.Stat(filepath.Join(m[1], "pgdata", "postmaster.pid")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("PostgreSQL still running after Ctrl-C (postmaster.pid: %v)", err)
	}
	if left := processesOf(t, bin); len(left) > 0 {
		t.Errorf("processes of %s still running after Ctrl-C: %v", bin, left)
	}
}

// processesOf lists the running processes whose executable is bin (a
// zombie has no executable link).
func processesOf(t *testing.T, bin string) []string {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Skipf("no /proc to look for processes: %v", err)
	}
	var found []string
	for _, e := range entries {
		if exe, err := os.Readlink(filepath.Join("/proc", e.Name(), "exe")); err == nil && exe == bin {
			found = append(found, e.Name())
		}
	}
	return found
}
