// Package pgcluster starts and stops a throwaway PostgreSQL cluster from the
// PostgreSQL binaries installed on the machine (initdb and pg_ctl, found on
// PATH or under /usr/lib/postgresql/*/bin). `orchestrator dev` and `make test`
// use it when no server is given.
package pgcluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ErrNoBinaries is returned when initdb and pg_ctl cannot be found.
var ErrNoBinaries = errors.New("PostgreSQL binaries (initdb, pg_ctl) not found on PATH or under /usr/lib/postgresql/*/bin: " +
	"install PostgreSQL (Debian: apt-get install postgresql) or set DATABASE_URL")

// Cluster is a running PostgreSQL cluster started by Start or StartDurable.
// Stop it with Stop.
type Cluster struct {
	Dir     string // data directory
	Port    int
	Durable bool // fsync on (StartDurable), else off (Start)
	// Statements: pg_stat_statements is loaded (StartDurableWithStatements).
	Statements bool
	bin        string
	cred       *syscall.Credential
}

// URL returns the connection URL of the cluster's postgres database.
func (c *Cluster) URL() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", c.Port)
}

// FindBinaries returns the directory holding initdb and pg_ctl, preferring
// PATH, then the newest /usr/lib/postgresql/<version>/bin.
func FindBinaries() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			p = real
		}
		dir := filepath.Dir(p)
		if _, err := os.Stat(filepath.Join(dir, "pg_ctl")); err == nil {
			return dir, nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return versionOf(dirs[i]) > versionOf(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	return "", ErrNoBinaries
}

func versionOf(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

// Start initializes dir (when it holds no cluster yet) and starts PostgreSQL
// on a free loopback port, trusting local connections as user postgres,
// with fsync off: what tests and `dev` want, a cluster whose data may be
// lost in a crash of the machine. PostgreSQL refuses to run as root, so when
// the process is root the cluster runs as the operating system user
// "postgres".
func Start(ctx context.Context, dir string) (*Cluster, error) {
	return start(ctx, dir, false, false)
}

// StartDurable is Start with fsync, synchronous_commit and full_page_writes
// on, as production runs: every commit waits for its WAL to reach the disk.
// The benchmark measures on it (docs/performance.md).
func StartDurable(ctx context.Context, dir string) (*Cluster, error) {
	return start(ctx, dir, true, false)
}

// StartDurableWithStatements is StartDurable with pg_stat_statements loaded
// (shared_preload_libraries), for `orchestrator bench --statements-out`:
// where the database's time goes, statement by statement. The extension
// costs a little on every statement, so the bench loads it only when asked.
func StartDurableWithStatements(ctx context.Context, dir string) (*Cluster, error) {
	return start(ctx, dir, true, true)
}

func start(ctx context.Context, dir string, durable, statements bool) (*Cluster, error) {
	bin, err := FindBinaries()
	if err != nil {
		return nil, err
	}
	dir, err = filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	c := &Cluster{Dir: dir, Durable: durable, Statements: statements, bin: bin}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("running as root and no 'postgres' user to run PostgreSQL as: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		c.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	if err := c.prepareDir(); err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(dir, "PG_VERSION")); errors.Is(err, os.ErrNotExist) {
		if out, err := c.run(ctx, "initdb", "-D", dir, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync", "--locale=C"); err != nil {
			return nil, fmt.Errorf("initdb %s: %w\n%s", dir, err, out)
		}
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	c.Port = port
	if out, err := c.run(ctx, "pg_ctl", "-D", dir, "-o", c.serverOptions(), "-l", filepath.Join(dir, "server.log"), "-w", "-t", "60", "start"); err != nil {
		return nil, fmt.Errorf("pg_ctl start %s: %w\n%s", dir, err, out)
	}
	return c, nil
}

// serverOptions are the postgres options of the cluster's server. Durable
// names its settings rather than trusting the defaults, so that a
// postgresql.conf in the directory cannot turn them off unseen.
func (c *Cluster) serverOptions() string {
	durability := "-c fsync=off"
	if c.Durable {
		durability = "-c fsync=on -c synchronous_commit=on -c full_page_writes=on"
	}
	if c.Statements {
		durability += " -c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=top -c track_io_timing=on"
	}
	return fmt.Sprintf("-p %d -c listen_addresses=127.0.0.1 -c unix_socket_directories='' %s -c max_connections=200", c.Port, durability)
}

// prepareDir creates the data directory, owned by the user PostgreSQL runs
// as, and makes its parents traversable for that user.
func (c *Cluster) prepareDir() error {
	if err := os.MkdirAll(c.Dir, 0o700); err != nil {
		return err
	}
	if c.cred == nil {
		return nil
	}
	if err := os.Chown(c.Dir, int(c.cred.Uid), int(c.cred.Gid)); err != nil {
		return err
	}
	for p := filepath.Dir(c.Dir); p != "/" && p != "."; p = filepath.Dir(p) {
		st, err := os.Stat(p)
		if err != nil {
			return err
		}
		if st.Mode().Perm()&0o001 == 0 {
			if err := os.Chmod(p, st.Mode().Perm()|0o011); err != nil {
				return fmt.Errorf("make %s traversable for postgres: %w", p, err)
			}
		}
	}
	return nil
}

// Stop shuts the cluster down (fast mode: sessions are disconnected).
func (c *Cluster) Stop(ctx context.Context) error {
	if out, err := c.run(ctx, "pg_ctl", "-D", c.Dir, "-m", "fast", "-w", "-t", "60", "stop"); err != nil {
		return fmt.Errorf("pg_ctl stop %s: %w\n%s", c.Dir, err, out)
	}
	return nil
}

// Restart restarts the cluster in the given shutdown mode ("immediate" is a
// crash as far as PostgreSQL is concerned), on the same port.
func (c *Cluster) Restart(ctx context.Context, mode string) error {
	if out, err := c.run(ctx, "pg_ctl", "-D", c.Dir, "-m", mode, "-o", c.serverOptions(), "-l", filepath.Join(c.Dir, "server.log"), "-w", "-t", "60", "restart"); err != nil {
		return fmt.Errorf("pg_ctl restart %s: %w\n%s", c.Dir, err, out)
	}
	return nil
}

func (c *Cluster) run(ctx context.Context, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(c.bin, name), args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.Dir = "/"
	// Own process group: a Ctrl-C meant for us must not reach the server
	// before we stop it cleanly.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: c.cred}
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	return strings.TrimSpace(out.String()), err
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
