// Package chaos runs the orchestrator as real OS processes — the provider
// simulators (`orchestrator sim`) and one or more `orchestrator serve` — to
// kill and restart them under load, and checks afterwards, from the database
// and the simulators' ledgers, that nothing was lost and nothing was charged
// twice. The crash test and `make chaos` are built on it.
package chaos

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Proc is one running process of the orchestrator binary.
type Proc struct {
	Name string
	Args []string
	Env  []string
	Log  string // file receiving its stdout and stderr
	bin  string
	cmd  *exec.Cmd
	done chan error
	// exited is closed when the process started last exits.
	exited chan struct{}
}

// Start runs bin with args and env (added to this process's environment),
// logging to logPath (appended).
func Start(bin, name, logPath string, env []string, args ...string) (*Proc, error) {
	p := &Proc{Name: name, Args: args, Env: env, Log: logPath, bin: bin}
	return p, p.start()
}

func (p *Proc) start() error {
	f, err := os.OpenFile(p.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(p.bin, p.Args...)
	cmd.Env = append(os.Environ(), p.Env...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		f.Close()
		return fmt.Errorf("start %s: %w", p.Name, err)
	}
	p.cmd = cmd
	p.done = make(chan error, 1)
	exited := make(chan struct{})
	p.exited = exited
	go func() { err := cmd.Wait(); f.Close(); close(exited); p.done <- err }()
	return nil
}

// WaitHTTP polls url, which the process serves, until it answers 200,
// for at most d. It gives up at once when the process exits first (a port
// taken, a bad setting), with the last line of its log.
func (p *Proc) WaitHTTP(ctx context.Context, url string, d time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	exited := p.exited
	go func() {
		select {
		case <-exited:
			cancel()
		case <-ctx.Done():
		}
	}()
	err := WaitHTTP(ctx, url)
	select {
	case <-exited:
		if err != nil {
			return fmt.Errorf("%s exited before %s answered: %s", p.Name, url, lastLine(p.Log))
		}
	default:
	}
	return err
}

// lastLine is the last non-empty line of the file at path ("" if none).
func lastLine(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return lines[len(lines)-1]
}

// Kill sends SIGKILL and waits for the process to die.
func (p *Proc) Kill() error {
	if p.cmd == nil || p.cmd.Process == nil {
		return errors.New("not running")
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
	p.cmd = nil
	return nil
}

// Restart starts the process again with the same arguments.
func (p *Proc) Restart() error { return p.start() }

// Stop sends SIGTERM and waits up to d, then kills.
func (p *Proc) Stop(d time.Duration) error {
	if p.cmd == nil || p.cmd.Process == nil {
		return nil
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		p.cmd = nil
		return err
	case <-time.After(d):
		return p.Kill()
	}
}

// Running reports whether the process has not exited.
func (p *Proc) Running() bool {
	if p.cmd == nil {
		return false
	}
	select {
	case err := <-p.done:
		p.done <- err
		return false
	default:
		return true
	}
}

// FreeAddr returns a free loopback address for a process to listen on.
// Its port is picked at random below the kernel's ephemeral range: a port
// from that range, which listening on port 0 gives, can be taken as the
// source port of any outgoing connection before the process listens on it
// (the simulators of a chaos run once failed to start so, while parallel
// tests made connections).
func FreeAddr() (string, error) {
	if low, ok := ephemeralLow(); ok && low > minPickedPort+1000 {
		for range 100 {
			port := minPickedPort + rand.IntN(low-minPickedPort)
			if addr, err := probe(port); err == nil {
				return addr, nil
			}
		}
	}
	return probe(0)
}

// probe listens on the loopback port (0: any the kernel gives) and closes
// it, returning its address, with no fork of this process in between: a
// child forked meanwhile would hold the probe's socket until it execs, and
// with it the port, so the caller's own listen could fail (the test of
// FreeAddr did, beside a test starting processes).
func probe(port int) (string, error) {
	syscall.ForkLock.RLock()
	defer syscall.ForkLock.RUnlock()
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// minPickedPort is the lowest port FreeAddr picks: above the ports
// services are usually configured on.
const minPickedPort = 10000

// ephemeralLow is the lowest port of the kernel's ephemeral range, where
// outgoing connections take their source ports.
func ephemeralLow() (int, bool) {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0, false
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 0, false
	}
	low, err := strconv.Atoi(f[0])
	return low, err == nil
}

// WaitHTTP polls url until it answers 200 or ctx ends.
func WaitHTTP(ctx context.Context, url string) error {
	client := &http.Client{Timeout: time.Second}
	for {
		res, err := client.Get(url)
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s never answered 200: %w", url, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}
