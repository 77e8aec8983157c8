package bench

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// userHZ is the unit of the CPU times in /proc/<pid>/stat: USER_HZ, which
// Linux fixes at 100 for user space on every architecture it runs on.
const userHZ = 100

// procStat is what the bench reads of one /proc/<pid>/stat line.
type procStat struct {
	Comm string
	PPID int
	// CPU is the process's user and system time plus that of its children
	// it has waited for (utime + stime + cutime + cstime).
	CPU time.Duration
}

// parseProcStat parses one /proc/<pid>/stat line (proc(5)). The command
// name is in parentheses and may hold spaces and parentheses itself, so the
// fields are counted from its last ')'.
func parseProcStat(line []byte) (procStat, error) {
	open, end := bytes.IndexByte(line, '('), bytes.LastIndexByte(line, ')')
	if open < 0 || end < open {
		return procStat{}, fmt.Errorf("stat line %.40q: no command name in parentheses", line)
	}
	// After ")": state(3) ppid(4) pgrp(5) session(6) tty_nr(7) tpgid(8)
	// flags(9) minflt(10) cminflt(11) majflt(12) cmajflt(13) utime(14)
	// stime(15) cutime(16) cstime(17).
	f := bytes.Fields(line[end+1:])
	if len(f) < 15 {
		return procStat{}, fmt.Errorf("stat line %.40q: %d fields after the command name, want at least 15", line, len(f))
	}
	ppid, err := strconv.Atoi(string(f[1]))
	if err != nil {
		return procStat{}, fmt.Errorf("stat line %.40q: ppid: %w", line, err)
	}
	var ticks int64
	for i, name := range []string{"utime", "stime", "cutime", "cstime"} {
		v, err := strconv.ParseInt(string(f[11+i]), 10, 64)
		if err != nil || v < 0 {
			return procStat{}, fmt.Errorf("stat line %.40q: %s %q is not a tick count", line, name, f[11+i])
		}
		ticks += v
	}
	return procStat{Comm: string(line[open+1 : end]), PPID: ppid, CPU: time.Duration(ticks) * time.Second / userHZ}, nil
}

func readProcStat(pid int) (procStat, error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return procStat{}, err
	}
	return parseProcStat(b)
}

// errNoServerProcess says the database server's processes cannot be read
// from this machine: it runs elsewhere, or in another PID namespace.
var errNoServerProcess = errors.New("the database server's processes are not visible here")

// Postmaster returns the pid of the PostgreSQL server that backendPID (a
// backend of it: the caller's own, pg_backend_pid()) belongs to, when it
// runs on this machine and its processes are visible; errNoServerProcess
// otherwise.
func Postmaster(backendPID int) (int, error) {
	be, err := readProcStat(backendPID)
	if err != nil || be.Comm != "postgres" {
		return 0, fmt.Errorf("%w (backend %d: %v, command %q)", errNoServerProcess, backendPID, err, be.Comm)
	}
	if _, err := readPostmaster(be.PPID); err != nil {
		return 0, err
	}
	return be.PPID, nil
}

func readPostmaster(pid int) (procStat, error) {
	pm, err := readProcStat(pid)
	if err != nil || pm.Comm != "postgres" {
		return procStat{}, fmt.Errorf("%w (postmaster %d: %v, command %q)", errNoServerProcess, pid, err, pm.Comm)
	}
	return pm, nil
}

// ServerCPU returns the CPU time that the PostgreSQL server whose
// postmaster is postmasterPID has used: its postmaster's, every process
// the postmaster has reaped (the backends that have exited, in its cutime
// and cstime), and every living child's (backends, autovacuum, the WAL
// writer, the checkpointer).
//
// It is exact to a tick (10 ms) per process, but for a child that exits
// while it is read: counted neither alive nor reaped, so a snapshot reads
// it after closing idle connections and letting their backends exit. On a
// server that other databases share, their work counts too.
func ServerCPU(postmasterPID int) (time.Duration, error) {
	total, _, err := serverProcesses(postmasterPID)
	return total, err
}

// serverProcesses returns ServerCPU's total and each living child's CPU
// time by pid.
func serverProcesses(postmasterPID int) (time.Duration, map[int]time.Duration, error) {
	pm, err := readPostmaster(postmasterPID)
	if err != nil {
		return 0, nil, err
	}
	total := pm.CPU
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, nil, err
	}
	children := map[int]time.Duration{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, err := readProcStat(pid)
		if err != nil || st.PPID != postmasterPID {
			continue // gone since the listing, or not the server's
		}
		total += st.CPU
		children[pid] = st.CPU
	}
	return total, children, nil
}

// ProcessGroupCPU is the CPU time a group of the server's processes spent
// in a part, per purchase or chain: a pool's sessions (application_name),
// a kind of background process (backend_type), or the processes that
// exited during the part.
type ProcessGroupCPU struct {
	Group string  `json:"group"`
	MS    float64 `json:"ms"`
}

// ExitedGroup names the CPU of the server's processes that exited during a
// part (autovacuum's workers, connections closed), which only the
// postmaster's total still holds.
const ExitedGroup = "exited during the part"

// CPUByGroup splits the server's CPU between two snapshots by group, per
// unit (n), largest first: each living process's growth under its group at
// the second snapshot, and the rest of the total as ExitedGroup. Nil when
// either snapshot lacks the server's CPU.
func CPUByGroup(before, after Counters, n int) []ProcessGroupCPU {
	if before.ServerCPUErr != nil || after.ServerCPUErr != nil || n <= 0 || after.Processes == nil {
		return nil
	}
	sums := map[string]time.Duration{}
	var living time.Duration
	for pid, p := range after.Processes {
		grew := p.CPU
		if b, ok := before.Processes[pid]; ok && b.Group == p.Group && b.CPU <= p.CPU {
			grew -= b.CPU
		}
		sums[p.Group] += grew
		living += grew
	}
	if rest := after.ServerCPU - before.ServerCPU - living; rest > 0 {
		sums[ExitedGroup] += rest
	}
	out := make([]ProcessGroupCPU, 0, len(sums))
	for g, d := range sums {
		out = append(out, ProcessGroupCPU{Group: g, MS: float64(d.Microseconds()) / 1000 / float64(n)})
	}
	slices.SortFunc(out, func(a, b ProcessGroupCPU) int {
		if c := cmp.Compare(b.MS, a.MS); c != 0 {
			return c
		}
		return strings.Compare(a.Group, b.Group)
	})
	return out
}

// ProcessCPU returns this process's user and system CPU time: the service,
// the simulators and the load generator, which the bench runs together.
func ProcessCPU() (time.Duration, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, fmt.Errorf("getrusage: %w", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}
