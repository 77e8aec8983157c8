package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ppob-orchestrator/orchestrator/internal/dbtest"
	"github.com/ppob-orchestrator/orchestrator/internal/pgcluster"
)

// buildBinary compiles the orchestrator for one test, with the race
// detector: the process tests (crash, chaos, dev, database down) run the
// real binary under load and kills, where a data race would show.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "orchestrator")
	out, err := exec.Command("go", "build", "-race", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// `orchestrator dev` without DATABASE_URL starts its own PostgreSQL, answers
// /readyz with 200, and leaves no PostgreSQL process behind after Ctrl-C.
func TestDevStartsAndStopsCleanly(t *testing.T) {
	t.Parallel()
	if _, err := pgcluster.FindBinaries(); err != nil {
		t.Fatalf("this test needs PostgreSQL's binaries: %v", err)
	}
	bin := buildBinary(t)
	work := t.TempDir()
	cmd := exec.Command(bin, "dev")
	cmd.Dir = work
	cmd.Env = append(os.Environ(), "HTTP_ADDR=127.0.0.1:0", "DATABASE_URL=")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })

	addrc, consolec, tokenc := make(chan string, 1), make(chan string, 1), make(chan string, 1)
	var printed bytes.Buffer
	go func() {
		re := regexp.MustCompile(`ready on http://(\S+)`)
		consoleRe := regexp.MustCompile(`Operator console: (\S+)`)
		tokenRe := regexp.MustCompile(`sign in as admin with token (\S+)`)
		sc := bufio.NewScanner(io.TeeReader(stdout, &printed))
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				addrc <- m[1]
			}
			if m := consoleRe.FindStringSubmatch(sc.Text()); m != nil {
				consolec <- m[1]
			}
			if m := tokenRe.FindStringSubmatch(sc.Text()); m != nil {
				tokenc <- m[1]
			}
		}
	}()
	var addr, consoleURL, token string
	for _, c := range []struct {
		ch  chan string
		dst *string
	}{{addrc, &addr}, {consolec, &consoleURL}, {tokenc, &token}} {
		select {
		case *c.dst = <-c.ch:
		case <-time.After(90 * time.Second):
			t.Fatalf("dev never printed its address, console and token; stderr:\n%s", stderr.String())
		}
	}
	res, err := http.Get("http://" + addr + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("/readyz = %d", res.StatusCode)
	}

	if consoleURL != "http://"+addr+"/console/" {
		t.Fatalf("dev printed the console at %s, the API is at %s", consoleURL, addr)
	}
	checkConsoleWiring(t, consoleURL, token)

	dataDir := filepath.Join(work, ".orchestrator", "pgdata")
	if _, err := os.Stat(filepath.Join(dataDir, "postmaster.pid")); err != nil {
		t.Fatalf("no running cluster in %s: %v", dataDir, err)
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("dev exited with %v; stderr:\n%s", err, stderr.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatal("dev did not exit after SIGINT")
	}
	// pg_ctl removes postmaster.pid when the server has stopped.
	if _, err := os.Stat(filepath.Join(dataDir, "postmaster.pid")); !os.IsNotExist(err) {
		t.Fatalf("PostgreSQL still running after Ctrl-C (postmaster.pid: %v)", err)
	}
	if procs := postgresProcessesFor(t, dataDir); procs != "" {
		t.Fatalf("PostgreSQL processes left behind:\n%s", procs)
	}
}

// raceDetected is the race detector's report.
const raceDetected = "WARNING: DATA RACE"

// raceFree fails t when a log of a process built by buildBinary holds a
// race report.
func raceFree(t *testing.T, logs ...string) {
	t.Helper()
	for _, l := range logs {
		b, err := os.ReadFile(l)
		if err != nil {
			t.Errorf("read %s: %v", l, err)
			continue
		}
		if i := bytes.Index(b, []byte(raceDetected)); i >= 0 {
			t.Errorf("%s reports a data race:\n%s", l, b[i:min(len(b), i+4000)])
		}
	}
}

// postgresProcessesFor lists running processes whose command line names dir.
func postgresProcessesFor(t *testing.T, dir string) string {
	t.Helper()
	entries, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	var found []string
	for _, e := range entries {
		b, err := os.ReadFile(e)
		if err != nil {
			continue
		}
		line := strings.ReplaceAll(string(b), "\x00", " ")
		if strings.Contains(line, dir) && strings.Contains(line, "postgres") {
			found = append(found, line)
		}
	}
	return strings.Join(found, "\n")
}

// `migrate up`, `status` and `down` work against a database and report what they did.
func TestMigrateCommands(t *testing.T) {
	t.Parallel()
	url := dbtest.NewEmptyDatabase(t)
	env := func(k string) (string, bool) {
		if k == "DATABASE_URL" {
			return url, true
		}
		return "", false
	}
	var out bytes.Buffer
	ctx := context.Background()
	for _, step := range []struct{ arg, want string }{
		{"status", "pending"},
		{"up", "00001_core.sql"},
		{"up", "schema is current"},
		{"status", "applied"},
		{"down", "00015_partition_locks.sql"},
		{"down", "00014_partition_maker.sql"},
		{"down", "00013_storage.sql"},
		{"down", "00012_audit_partitions.sql"},
		{"down", "00011_big_tables.sql"},
		{"down", "00010_console_routing.sql"},
		{"down", "00009_routing.sql"},
		{"down", "00008_pure_core.sql"},
		{"down", "00007_console.sql"},
		{"down", "00005_webhooks.sql"},
		{"down", "00004_event_seq.sql"},
		{"down", "00003_reconciliation.sql"},
		{"down", "river"},
		{"down", "00001_core.sql"},
		{"down", "nothing to undo"},
	} {
		out.Reset()
		if err := run(ctx, []string{"migrate", step.arg}, env, &out, io.Discard); err != nil {
			t.Fatalf("migrate %s: %v", step.arg, err)
		}
		if !strings.Contains(out.String(), step.want) {
			t.Fatalf("migrate %s printed %q, want it to mention %q", step.arg, out.String(), step.want)
		}
	}
	if err := run(ctx, []string{"migrate", "sideways"}, env, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "sideways") {
		t.Fatalf("bad direction: %v", err)
	}
}

// A missing required variable stops `serve` with an error naming it.
func TestServeRequiresConfiguration(t *testing.T) {
	t.Parallel()
	err := run(context.Background(), []string{"serve"}, func(string) (string, bool) { return "", false }, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "DATABASE_URL") {
		t.Fatalf("serve without DATABASE_URL: %v", err)
	}
}
