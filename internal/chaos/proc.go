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
	"net"
	"net/http"
	"os"
	"os/exec"
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
	go func() { p.done <- cmd.Wait(); f.Close() }()
	return nil
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

// FreeAddr returns a free loopback address.
func FreeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
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
