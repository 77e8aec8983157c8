package chaos

import (
	"context"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

// FreeAddr picks ports below the kernel's ephemeral range, where no
// outgoing connection can take one between the pick and the listen, and
// each is free to listen on.
func TestFreeAddrAvoidsEphemeralPorts(t *testing.T) {
	t.Parallel()
	low, ok := ephemeralLow()
	if !ok || low <= minPickedPort+1000 {
		t.Skipf("no ephemeral range to stay below here (%d, %t)", low, ok)
	}
	for range 20 {
		addr, err := FreeAddr()
		if err != nil {
			t.Fatal(err)
		}
		_, p, err := net.SplitHostPort(addr)
		if err != nil {
			t.Fatal(err)
		}
		port, err := strconv.Atoi(p)
		if err != nil || port < minPickedPort || port >= low {
			t.Fatalf("FreeAddr() = %s, want a port from %d to %d", addr, minPickedPort, low-1)
		}
		l, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatalf("FreeAddr() = %s, which cannot be listened on: %v", addr, err)
		}
		l.Close()
	}
}

// A process that exits before it serves (here, as when its port was
// taken) ends the wait for it at once, with its log's last line, instead of
// after the whole wait.
func TestProcWaitHTTPGivesUpWhenTheProcessExits(t *testing.T) {
	t.Parallel()
	dead, err := FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	p, err := Start("/bin/sh", "sim", t.TempDir()+"/sim.log", nil,
		"-c", "echo starting; echo 'listen tcp "+dead+": bind: address already in use'; exit 1")
	if err != nil {
		t.Fatal(err)
	}
	err = p.WaitHTTP(context.Background(), "http://"+dead+"/_sim/ledger", 10*time.Minute)
	if err == nil || !strings.Contains(err.Error(), "sim exited before") || !strings.Contains(err.Error(), "address already in use") {
		t.Fatalf("WaitHTTP = %v, want the process's exit and its last line", err)
	}
	if p.Running() {
		t.Fatal("the process still runs")
	}
}
