package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ppob-orchestrator/orchestrator/internal/bench/benchdb"
)

// statsSettle is how long a snapshot waits after closing the idle
// connections, for their backends to exit. Since PostgreSQL 15 a backend
// flushes its counters to pg_stat_database at most once a second, and an
// idle one only after up to ten seconds; a backend that exits flushes them
// at once. So a snapshot closes every idle connection of the pools it knows
// (Reset), then reads.
const statsSettle = 500 * time.Millisecond

// Observer reads the database's counters and samples a run. Every query it
// runs is one transaction of its own; it counts them and leaves them out of
// the commits it reports. It is safe for concurrent use.
type Observer struct {
	q        *benchdb.Queries
	mu       sync.Mutex
	pools    []*pgxpool.Pool
	own      atomic.Int64
	excluded []string
	settle   time.Duration
}

// NewObserver returns an observer of pool's database.
func NewObserver(pool *pgxpool.Pool) *Observer {
	return &Observer{q: benchdb.New(pool), pools: []*pgxpool.Pool{pool}, excluded: []string{"bench_chain", "goose_db_version"}, settle: statsSettle}
}

// Watch adds pools whose connections a snapshot closes first, so that their
// backends' counters are flushed (the service's pools).
func (o *Observer) Watch(pools ...*pgxpool.Pool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.pools = append(o.pools, pools...)
}

// Unwatch undoes one Watch of pool, before it is closed.
func (o *Observer) Unwatch(pool *pgxpool.Pool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if i := slices.Index(o.pools, pool); i >= 0 {
		o.pools = slices.Delete(o.pools, i, i+1)
	}
}

// Warm opens every connection the watched pools may hold, as a service
// that has been serving has them open: a snapshot closed them, and the
// first requests of a run must not pay for new backends. Opening a
// connection commits nothing.
func (o *Observer) Warm(ctx context.Context) error {
	o.mu.Lock()
	pools := slices.Clone(o.pools)
	o.mu.Unlock()
	for _, p := range pools {
		conns := make([]*pgxpool.Conn, 0, p.Config().MaxConns)
		for range p.Config().MaxConns - p.Stat().AcquiredConns() {
			c, err := p.Acquire(ctx)
			if err != nil {
				for _, c := range conns {
					c.Release()
				}
				return fmt.Errorf("warm the pools: %w", err)
			}
			conns = append(conns, c)
		}
		for _, c := range conns {
			c.Release()
		}
	}
	return nil
}

// Counters are the database's cumulative counters at one moment.
type Counters struct {
	Commits int64            // transactions committed, minus the observer's own
	Bytes   int64            // size of our tables and River's, with indexes and TOAST
	Tables  map[string]int64 // Bytes by table, each with its indexes and TOAST

	// ServerCPU is the CPU time the database server has used (ServerCPU),
	// when it runs on this machine; ServerCPUErr says why it is unknown.
	ServerCPU    time.Duration
	ServerCPUErr error
	// ProcessCPU is this process's CPU time: the service, the simulators
	// and the load.
	ProcessCPU time.Duration
	// Processes are the server's living processes by pid just before the
	// snapshot closed the pools' idle connections, each with its group
	// and CPU time; nil when the server's CPU cannot be read.
	Processes map[int]ServerProcess
}

// ServerProcess is one of the server's processes at a snapshot.
type ServerProcess struct {
	Group string
	CPU   time.Duration
}

// CPU is the CPU time a part cost, per purchase or per chain, in ms.
type CPU struct {
	DBMS      *float64          // the database server's; nil when it could not be read
	Why       string            // why DBMS is nil
	ProcessMS float64           // this process's
	Groups    []ProcessGroupCPU // DBMS by process group (CPUByGroup)
}

// CPUPer returns the CPU time between two snapshots divided by n, in ms.
func CPUPer(before, after Counters, n int) CPU {
	var c CPU
	if n <= 0 {
		return c
	}
	per := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 / float64(n) }
	c.ProcessMS = per(after.ProcessCPU - before.ProcessCPU)
	switch {
	case before.ServerCPUErr != nil:
		c.Why = before.ServerCPUErr.Error()
	case after.ServerCPUErr != nil:
		c.Why = after.ServerCPUErr.Error()
	default:
		db := per(after.ServerCPU - before.ServerCPU)
		c.DBMS = &db
		c.Groups = CPUByGroup(before, after, n)
	}
	return c
}

// Snapshot closes the idle connections of the watched pools (their
// backends flush their counters as they exit), waits for that to settle and
// reads the counters. A connection in use at that moment (River's listener
// holds one for good) may still hold a second's worth of counts.
func (o *Observer) Snapshot(ctx context.Context) (Counters, error) {
	// The server's processes first: closing the idle connections ends
	// their backends, whose CPU only the postmaster's total keeps after
	// that.
	pid, err := o.q.BackendPID(ctx)
	o.own.Add(1)
	if err != nil {
		return Counters{}, fmt.Errorf("read pg_backend_pid: %w", err)
	}
	postmaster, cpuErr := Postmaster(int(pid))
	var procs map[int]ServerProcess
	if cpuErr == nil {
		var children map[int]time.Duration
		if _, children, cpuErr = serverProcesses(postmaster); cpuErr == nil {
			if procs, err = o.groups(ctx, children); err != nil {
				return Counters{}, err
			}
		}
	}
	o.mu.Lock()
	for _, p := range o.pools {
		p.Reset()
	}
	o.mu.Unlock()
	select {
	case <-time.After(o.settle):
	case <-ctx.Done():
		return Counters{}, ctx.Err()
	}
	own := o.own.Load()
	commits, err := o.q.DatabaseCommits(ctx)
	o.own.Add(1)
	if err != nil {
		return Counters{}, fmt.Errorf("read pg_stat_database: %w", err)
	}
	if commits == nil {
		return Counters{}, fmt.Errorf("read pg_stat_database: no row for the current database")
	}
	tables, err := o.q.RelationBytesByTable(ctx, o.excluded)
	o.own.Add(1)
	if err != nil {
		return Counters{}, fmt.Errorf("read relation sizes: %w", err)
	}
	c := Counters{Commits: *commits - own, Tables: make(map[string]int64, len(tables))}
	for _, t := range tables {
		c.Tables[t.TableName] = t.Bytes
		c.Bytes += t.Bytes
	}
	if cpuErr == nil {
		c.ServerCPU, cpuErr = ServerCPU(postmaster)
	}
	if c.ServerCPUErr = cpuErr; cpuErr == nil {
		c.Processes = procs
	}
	if c.ProcessCPU, err = ProcessCPU(); err != nil {
		return Counters{}, err
	}
	return c, nil
}

// groups names the server's living processes, given their CPU time by
// pid: a session by its application_name, a server process by its kind.
func (o *Observer) groups(ctx context.Context, children map[int]time.Duration) (map[int]ServerProcess, error) {
	rows, err := o.q.BackendGroups(ctx)
	o.own.Add(1)
	if err != nil {
		return nil, fmt.Errorf("read pg_stat_activity: %w", err)
	}
	group := make(map[int]string, len(rows))
	for _, r := range rows {
		group[int(r.Pid)] = r.Grp
	}
	out := make(map[int]ServerProcess, len(children))
	for p, d := range children {
		g, ok := group[p]
		if !ok {
			g = "not in pg_stat_activity"
		}
		out[p] = ServerProcess{Group: g, CPU: d}
	}
	return out, nil
}

// Peaks are the maxima a sampler saw.
type Peaks struct {
	QueueDepth int64 // available + scheduled + retryable River jobs
	Open       int64 // the client's purchases not yet ended
	Samples    int
	Err        error // the first sample that failed: its peaks would be wrong
}

// Sample samples River's queue depth and the client's open purchases every
// interval until the returned stop is called; stop returns the peaks. The
// latest open count is stored in open as it is sampled.
func (o *Observer) Sample(ctx context.Context, client uuid.UUID, every time.Duration, open *atomic.Int64) (stop func() Peaks) {
	ctx, cancel := context.WithCancel(ctx)
	var (
		mu sync.Mutex
		p  Peaks
		wg sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			depth, err := o.q.RiverQueueDepth(ctx)
			o.own.Add(1)
			n, perr := o.q.PurchaseOpenCount(ctx, client)
			o.own.Add(1)
			mu.Lock()
			if err == nil {
				p.QueueDepth = max(p.QueueDepth, depth)
			} else if p.Err == nil && ctx.Err() == nil {
				p.Err = fmt.Errorf("sample River's queue depth: %w", err)
			}
			if perr == nil {
				p.Open = max(p.Open, n)
				open.Store(n)
			} else if p.Err == nil && ctx.Err() == nil {
				p.Err = fmt.Errorf("sample the open purchases: %w", perr)
			}
			p.Samples++
			mu.Unlock()
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return func() Peaks {
		cancel()
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		return p
	}
}

// drainPoll is how often WaitDrained looks whether a batch has drained. How
// long the batch took comes from the purchases' own timestamps, not from
// this poll, which only ends the wait; it is the bench's load on the
// database while the service works, so it is kept light.
const drainPoll = 250 * time.Millisecond

// WaitDrained waits until all total purchases of the client have ended. It
// polls the count of the client's open purchases (an index of the open
// ones), and when none is open checks that total have ended.
func (o *Observer) WaitDrained(ctx context.Context, client uuid.UUID, total int64, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		open, err := o.q.PurchaseOpenCount(ctx, client)
		o.own.Add(1)
		if err != nil {
			return fmt.Errorf("purchase progress: %w", err)
		}
		if open == 0 {
			prog, err := o.q.PurchaseProgress(ctx, client)
			o.own.Add(1)
			if err != nil {
				return fmt.Errorf("purchase progress: %w", err)
			}
			if prog.Done >= total {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d purchases still open after %s", open, total, timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(drainPoll):
		}
	}
}

// ServerVersion returns PostgreSQL's version.
func (o *Observer) ServerVersion(ctx context.Context) (string, error) {
	v, err := o.q.ServerVersion(ctx)
	o.own.Add(1)
	return v, err
}

// Durability returns the server's fsync and synchronous_commit settings.
func (o *Observer) Durability(ctx context.Context) (fsync, synchronousCommit string, err error) {
	d, err := o.q.ServerDurability(ctx)
	o.own.Add(1)
	return d.Fsync, d.SynchronousCommit, err
}

// Ends reads how each of a client's purchases ended, by reference.
func (o *Observer) Ends(ctx context.Context, client uuid.UUID) ([]benchdb.PurchaseEndsRow, error) {
	e, err := o.q.PurchaseEnds(ctx, client)
	o.own.Add(1)
	return e, err
}

// Batch reads how a client's drained batch went.
func (o *Observer) Batch(ctx context.Context, client uuid.UUID) (benchdb.PurchaseBatchRow, error) {
	b, err := o.q.PurchaseBatch(ctx, client)
	o.own.Add(1)
	return b, err
}

// PeakRSS returns this process's peak resident set size (VmHWM of
// /proc/self/status) in bytes. The service, the simulators and the load all
// run in this process.
func PeakRSS() (int64, error) {
	return procStatus("VmHWM:")
}

// ResetPeakRSS resets VmHWM to the current RSS (Linux ≥ 4.0), so that each
// run reports its own peak.
func ResetPeakRSS() error {
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
}

func procStatus(field string) (int64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Bytes()
		if !bytes.HasPrefix(line, []byte(field)) {
			continue
		}
		f := bytes.Fields(line[len(field):])
		if len(f) != 2 || string(f[1]) != "kB" {
			return 0, fmt.Errorf("/proc/self/status: unexpected %s line %q", field, line)
		}
		kb, err := strconv.ParseInt(string(f[0]), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/self/status: %s: %w", field, err)
		}
		return kb << 10, nil
	}
	return 0, fmt.Errorf("/proc/self/status has no %s line", field)
}
