package bench

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ppob-orchestrator/orchestrator/internal/bench/benchdb"
	"github.com/ppob-orchestrator/orchestrator/internal/recon"
	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

// The probes: the statements big tables could slow down, each run as the
// code that sends them runs it (the same generated queries, the same
// arguments), timed, and explained. A probe that writes runs in a
// transaction that is rolled back, so probing changes nothing.

// ProbeStatement is one statement a probe sent, with its plan.
type ProbeStatement struct {
	Query   string  `json:"query"` // the sqlc name of the query
	Plan    string  `json:"plan"`  // EXPLAIN (ANALYZE, BUFFERS), as text
	MS      float64 `json:"execution_ms"`
	Buffers int64   `json:"buffers"` // shared blocks hit and read by the statement
}

// ProbeResult is one probe on one database.
type ProbeResult struct {
	Name       string           `json:"name"`
	MedianMS   float64          `json:"median_ms"` // of ProbeRuns runs, after a warm-up
	Statements []ProbeStatement `json:"statements"`
}

// Buffers is the shared blocks all the probe's statements touched.
func (p ProbeResult) Buffers() int64 {
	var n int64
	for _, s := range p.Statements {
		n += s.Buffers
	}
	return n
}

// ProbeRuns is how many timed runs a probe's median is of.
const ProbeRuns = 9

// ProbeTargets are the rows the probes read and the purchase they model
// their writes on: chosen once, on the database before the preload, and
// probed again after it (they are there both times).
type ProbeTargets struct {
	Client            uuid.UUID // the client whose list is read
	ReferenceID       string    // searched for
	CustomerNumber    string    // searched for
	ProviderReference string    // searched for
	Purchase          store.Purchase
}

// FindProbeTargets picks the targets among client's purchases: its newest
// succeeded purchase with a customer number and a provider reference.
func FindProbeTargets(ctx context.Context, pool *pgxpool.Pool, client uuid.UUID) (ProbeTargets, error) {
	p, err := benchdb.New(pool).ProbeTarget(ctx, client)
	if err != nil {
		return ProbeTargets{}, fmt.Errorf("probe targets: no succeeded purchase of client %s with a customer number and a provider reference: %w", client, err)
	}
	full, err := store.New(pool).PurchaseGetByID(ctx, p)
	if err != nil {
		return ProbeTargets{}, fmt.Errorf("probe targets: %w", err)
	}
	return ProbeTargets{Client: client, ReferenceID: full.ReferenceID, CustomerNumber: *full.CustomerNumber,
		ProviderReference: *full.ProviderReference, Purchase: full}, nil
}

// probe is one thing to measure. setup (optional) runs first in the same
// transaction, neither timed nor explained; run is what is timed and
// explained.
type probe struct {
	name  string
	setup func(ctx context.Context, q *store.Queries) error
	run   func(ctx context.Context, q *store.Queries) error
}

// probes are the probes of t at moment now, in the order they run.
func probes(t ProbeTargets, now time.Time) []probe {
	fresh := freshPurchase(t.Purchase, now)
	insertFresh := func(ctx context.Context, q *store.Queries) error {
		_, err := q.PurchaseInsert(ctx, fresh)
		return err
	}
	list := func(status *store.PurchaseStatus) func(ctx context.Context, q *store.Queries) error {
		return func(ctx context.Context, q *store.Queries) error { return probeAPIList(ctx, q, t.Client, status) }
	}
	console := func(status *store.PurchaseStatus) func(ctx context.Context, q *store.Queries) error {
		return func(ctx context.Context, q *store.Queries) error { return probeConsoleList(ctx, q, status) }
	}
	return []probe{
		{name: "create", run: func(ctx context.Context, q *store.Queries) error { return probeCreate(ctx, q, fresh, now) }},
		{name: "sweeper", run: func(ctx context.Context, q *store.Queries) error { return probeSweeper(ctx, q, now) }},
		{name: "lookup", setup: insertFresh, run: func(ctx context.Context, q *store.Queries) error { return probeLookup(ctx, q, fresh.ID, now) }},
		{name: "api list", run: list(nil)},
		{name: "api list status=failed", run: list(ptr(store.PurchaseStatusFailed))},
		{name: "api list status=needs_review", run: list(ptr(store.PurchaseStatusNeedsReview))},
		{name: "console list", run: console(nil)},
		{name: "console list status=failed", run: console(ptr(store.PurchaseStatusFailed))},
		{name: "console search", run: func(ctx context.Context, q *store.Queries) error {
			return probeConsoleSearch(ctx, q, t.ReferenceID, t.CustomerNumber, t.ProviderReference)
		}},
		{name: "timeline", run: func(ctx context.Context, q *store.Queries) error { return probeTimeline(ctx, q, t.Purchase) }},
		{name: "metrics scrape", run: func(ctx context.Context, q *store.Queries) error { return probeMetrics(ctx, q, now) }},
	}
}

func ptr[T any](v T) *T { return &v }

// freshPurchase is a new purchase like p, for the probes that write: the
// create inserts it, the lookup works on it.
func freshPurchase(p store.Purchase, now time.Time) store.PurchaseInsertParams {
	id := uuid.Must(uuid.NewV7())
	return store.PurchaseInsertParams{ID: id, ClientID: p.ClientID, ReferenceID: "probe-" + id.String(), Fingerprint: p.Fingerprint,
		ProductCode: p.ProductCode, Provider: p.Provider, Family: p.Family, CustomerNumber: p.CustomerNumber, UserID: p.UserID,
		ZoneID: p.ZoneID, CustomerKey: p.CustomerKey, Confirmation: "automatic", CreatedAt: now, Route: p.Route,
		ProviderProductCode: p.ProviderProductCode}
}

// probeCreate sends what POST /v1/purchases sends in its transaction
// (flow's readForCreate and insertPurchase; River's job insert aside): the
// creation lock, the reads, the purchase with its first event. The API
// pipelines the reads in one round trip; here they go one by one.
func probeCreate(ctx context.Context, q *store.Queries, p store.PurchaseInsertParams, now time.Time) error {
	if err := q.LockKey(ctx, 42); err != nil {
		return err
	}
	if _, err := q.ProductGet(ctx, p.ProductCode); err != nil {
		return err
	}
	if _, err := q.OfferListByProduct(ctx, p.ProductCode); err != nil {
		return err
	}
	if _, err := q.ProviderList(ctx); err != nil {
		return err
	}
	if _, err := q.ProviderBalanceLatestAll(ctx); err != nil {
		return err
	}
	switch _, err := q.PurchaseGetByClientReference(ctx, store.PurchaseGetByClientReferenceParams{ClientID: p.ClientID, ReferenceID: p.ReferenceID}); {
	case err == nil:
		return fmt.Errorf("the probe's reference_id %s is taken", p.ReferenceID)
	case !isNoRows(err):
		return err
	}
	if _, err := q.PurchaseRecentDuplicate(ctx, store.PurchaseRecentDuplicateParams{ClientID: p.ClientID, ProductCode: p.ProductCode,
		CustomerKey: p.CustomerKey, Since: now.Add(-2 * time.Minute)}); err != nil && !isNoRows(err) {
		return err
	}
	_, err := q.PurchaseInsert(ctx, p)
	return err
}

// probeSweeper sends the sweeper's three reads (flow's Sweep) with the
// default staleness: StaleAfter 90 s, plus the longest lookup backoff (15
// min) for processing and the review lookup period (1 h) for needs_review,
// whose lookups go on for 7 days past the deadline.
func probeSweeper(ctx context.Context, q *store.Queries, now time.Time) error {
	for _, g := range []struct {
		statuses []string
		idle     time.Duration
	}{
		{[]string{"received", "inquiring", "paying", "awaiting_confirmation"}, 90 * time.Second},
		{[]string{"processing"}, 90*time.Second + 15*time.Minute},
		{[]string{"needs_review"}, 90*time.Second + time.Hour},
	} {
		if _, err := q.PurchaseListStale(ctx, store.PurchaseListStaleParams{Statuses: g.statuses, Before: now.Add(-g.idle), RowLimit: 1000,
			ReviewFrom: now.Add(-7 * 24 * time.Hour)}); err != nil {
			return err
		}
	}
	return nil
}

// probeLookup sends what a lookup job that ends its purchase sends in its
// transaction (flow's lookupWorker and execute): the read, the lock, the
// deposit it reported, the status change with the step's timeline (the
// call, its event and the status event in one TimelineAppend, as flow's
// writeWith sends them), the earlier callbacks' outcomes, the
// cancellation of the purchase's other lookups.
func probeLookup(ctx context.Context, q *store.Queries, id uuid.UUID, now time.Time) error {
	p, err := q.PurchaseGetByID(ctx, id)
	if err != nil {
		return err
	}
	if p, err = q.PurchaseLock(ctx, id); err != nil {
		return err
	}
	if _, err := q.ProviderBalanceLatest(ctx, p.Provider); err != nil && !isNoRows(err) {
		return err
	}
	if err := q.ProviderBalanceInsert(ctx, store.ProviderBalanceInsertParams{Provider: p.Provider, Balance: 1_000_000_000, Source: "lookup", ObservedAt: now}); err != nil {
		return err
	}
	// The purchase is new (received): the compare-and-set moves it as far as
	// the machine allows from there; its cost is the same as succeeded's.
	upd := updateOf(p, store.PurchaseStatusFailed, now)
	if _, err := q.PurchaseUpdate(ctx, upd); err != nil {
		return err
	}
	since := store.AuditSince(p.CreatedAt)
	if _, err := q.TimelineAppend(ctx, store.TimelineAppendParams{PurchaseID: id, AuditSince: since,
		CallProvider: []string{p.Provider}, CallOperation: []string{"lookup"}, CallReference: []string{""},
		CallHttpStatus: []int32{200}, CallCode: []string{"200022000"}, CallMessage: []string{"Sukses"},
		CallOutcome: []string{"succeeded"}, CallReason: []string{""}, CallLatencyMs: []int32{0},
		CallRequest: []string{"{}"}, CallResponse: []string{"{}"}, CallError: []string{""}, CallCreatedAt: []time.Time{now},
		EventKind: []string{"provider_call", "status"}, EventName: []string{"lookup: succeeded", "fail"},
		EventFrom: []string{"", string(store.PurchaseStatusReceived)}, EventTo: []string{"", string(store.PurchaseStatusFailed)},
		EventActor: []string{"system", "system"}, EventCall: []int64{1, 0}, EventCallbackID: []int64{0, 0},
		EventData: []string{"{}", "{}"}, EventCreatedAt: []time.Time{now, now},
	}); err != nil {
		return err
	}
	if _, err := q.CallbackOutcomesByPurchase(ctx, store.CallbackOutcomesByPurchaseParams{PurchaseID: id, AuditSince: since}); err != nil {
		return err
	}
	_, err = q.LookupJobsCancel(ctx, store.LookupJobsCancelParams{Now: now, PurchaseID: id.String()})
	return err
}

// updateOf is the compare-and-set that moves p (received) to status.
func updateOf(p store.Purchase, status store.PurchaseStatus, now time.Time) store.PurchaseUpdateParams {
	code, msg := "customer_not_found", "probe"
	return store.PurchaseUpdateParams{ID: p.ID, FromStatus: p.Status, ToStatus: status, Provider: p.Provider,
		ProviderProductCode: p.ProviderProductCode, Attempt: p.Attempt, AttemptStartedAt: p.AttemptStartedAt,
		FailureCode: &code, FailureMessage: &msg, UpdatedAt: now, CompletedAt: &now}
}

// probeAPIList reads the first two pages of GET /v1/purchases (50 a page),
// with the status filter when set. The second page starts after the first
// one's last row even when the first had fewer than 50: a database with
// fewer matches then reads to their end, as the other reads its 50.
func probeAPIList(ctx context.Context, q *store.Queries, client uuid.UUID, status *store.PurchaseStatus) error {
	params := store.PurchaseListForClientParams{ClientID: client, Status: status, RowLimit: 51}
	rows, err := q.PurchaseListForClient(ctx, params)
	if err != nil || len(rows) == 0 {
		return err
	}
	last := rows[min(49, len(rows)-1)]
	params.CursorCreatedAt, params.CursorID = &last.CreatedAt, &last.ID
	_, err = q.PurchaseListForClient(ctx, params)
	return err
}

// probeConsoleList reads the console's first page of every purchase
// (with its status filter when set), as internal/console sends it.
func probeConsoleList(ctx context.Context, q *store.Queries, status *store.PurchaseStatus) error {
	_, err := q.PurchaseListNewest(ctx, store.PurchaseListNewestParams{
		BeforeCreatedAt: time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC), BeforeID: uuid.Max,
		After: time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC), Status: status, RowLimit: 51})
	return err
}

// probeConsoleSearch searches the console for a reference_id, a customer
// number and a provider reference, and lists each search's matches.
func probeConsoleSearch(ctx context.Context, q *store.Queries, terms ...string) error {
	for _, term := range terms {
		matches, err := q.PurchaseSearchMatches(ctx, store.PurchaseSearchMatchesParams{Term: term, CustomerNumber: term, RowLimit: 500})
		if err != nil {
			return err
		}
		if len(matches) == 0 {
			return fmt.Errorf("the console's search finds nothing for %q", term)
		}
		ids := make([]uuid.UUID, len(matches))
		for i, m := range matches {
			ids[i] = m.ID
		}
		if _, err := q.PurchaseListByIDs(ctx, store.PurchaseListByIDsParams{Ids: ids,
			BeforeCreatedAt: time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC), BeforeID: uuid.Max,
			After: time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC), RowLimit: 51}); err != nil {
			return err
		}
	}
	return nil
}

// probeTimeline sends the reads of one purchase's audit rows: its events
// as GET /v1/purchases/{id}/events reads them (flow's Events), and the
// console's timeline of it (each event with its call or callback).
func probeTimeline(ctx context.Context, q *store.Queries, p store.Purchase) error {
	since := store.AuditSince(p.CreatedAt)
	if _, err := q.EventListByPurchaseShown(ctx, store.EventListByPurchaseShownParams{PurchaseID: p.ID, AuditSince: since}); err != nil {
		return err
	}
	_, err := q.EventTimeline(ctx, store.EventTimelineParams{PurchaseID: p.ID, AuditSince: since})
	return err
}

// probeMetrics sends the reads of a metrics scrape (internal/recon's
// collector): the open purchases by status, each provider's last
// deposit, and the audit tables' partitions.
func probeMetrics(ctx context.Context, q *store.Queries, now time.Time) error {
	if err := q.ReconNowSet(ctx, now.Format(time.RFC3339Nano)); err != nil {
		return err
	}
	if _, err := q.ReconOpenByStatusList(ctx); err != nil {
		return err
	}
	if _, err := q.ProviderBalanceLatestList(ctx); err != nil {
		return err
	}
	_, err := q.AuditPartitionStateList(ctx)
	return err
}

func isNoRows(err error) bool { return errors.Is(err, pgx.ErrNoRows) }

// Probe runs every probe of t, and the reconciliation report of the 24
// hours before now, on the database behind pool.
func Probe(ctx context.Context, pool *pgxpool.Pool, t ProbeTargets, now time.Time) ([]ProbeResult, error) {
	var out []ProbeResult
	for _, p := range probes(t, now) {
		r, err := runProbe(ctx, pool, p)
		if err != nil {
			return out, fmt.Errorf("probe %s: %w", p.name, err)
		}
		out = append(out, r)
	}
	r, err := probeReconcile(ctx, pool, now)
	if err != nil {
		return out, fmt.Errorf("probe reconcile: %w", err)
	}
	return append(out, r), nil
}

// runProbe times p's run ProbeRuns times after a warm-up, each in a
// transaction rolled back, then runs it once more with every statement
// explained.
func runProbe(ctx context.Context, pool *pgxpool.Pool, p probe) (ProbeResult, error) {
	res := ProbeResult{Name: p.name}
	var took []time.Duration
	for i := range ProbeRuns + 2 {
		err := rolledBack(ctx, pool, func(tx pgx.Tx) error {
			if p.setup != nil {
				if err := p.setup(ctx, store.New(tx)); err != nil {
					return err
				}
			}
			if i == ProbeRuns+1 {
				db := &explainDB{tx: tx}
				err := p.run(ctx, store.New(db))
				res.Statements = db.out
				return errors.Join(err, db.err)
			}
			t0 := time.Now()
			err := p.run(ctx, store.New(tx))
			if i > 0 {
				took = append(took, time.Since(t0))
			}
			return err
		})
		if err != nil {
			return res, err
		}
	}
	res.MedianMS = ms(median(took))
	return res, nil
}

// ReconcileRuns is how many timed runs the reconciliation probe's median is of.
const ReconcileRuns = 3

// probeReconcile times the report `orchestrator reconcile --since 24h`
// builds (recon.Build, as the subcommand calls it), then explains each of
// its statements: recorded from one more run, replayed in a transaction
// like the report's.
func probeReconcile(ctx context.Context, pool *pgxpool.Pool, now time.Time) (ProbeResult, error) {
	res := ProbeResult{Name: reconcileProbe}
	rec := &recorder{}
	cfg := pool.Config().Copy()
	cfg.MaxConns = 2
	cfg.ConnConfig.Tracer = rec
	traced, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return res, fmt.Errorf("connect: %w", err)
	}
	defer traced.Close()
	o := recon.Options{Since: now.Add(-24 * time.Hour), Now: func() time.Time { return now }}
	var took []time.Duration
	for i := range ReconcileRuns + 2 {
		if i == ReconcileRuns+1 {
			rec.start()
		}
		t0 := time.Now()
		_, err := recon.Build(ctx, traced, o)
		if i > 0 && i <= ReconcileRuns {
			took = append(took, time.Since(t0))
		}
		if err != nil {
			rec.stop()
			return res, err
		}
	}
	res.MedianMS = ms(median(took))
	calls := rec.stop()
	err = pgx.BeginTxFunc(ctx, pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		db := &explainDB{tx: tx}
		for _, c := range calls {
			if strings.HasPrefix(c.sql, "-- name: ") {
				db.explain(ctx, c.sql, c.args)
			}
		}
		res.Statements = db.out
		return db.err
	})
	return res, err
}

func median(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

// rolledBack runs f in a transaction and rolls it back whatever f returns.
func rolledBack(ctx context.Context, pool *pgxpool.Pool, f func(tx pgx.Tx) error) error {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // rolling back is the point
	return f(tx)
}

// explainDB runs each statement twice: explained (EXPLAIN ANALYZE runs it)
// in a savepoint rolled back, so the plan is of the statement on exactly
// the data it meets; then for real, so the caller gets its result and the
// next statement meets its effects.
type explainDB struct {
	tx  pgx.Tx
	out []ProbeStatement
	err error // the first explain that failed
}

// explainPrefix turns a statement into its plan, run for real: the one
// SQL text this package builds, as the statements it explains are the
// generated ones, sent with their own arguments.
const explainPrefix = "EXPLAIN (ANALYZE, BUFFERS) "

func (d *explainDB) explain(ctx context.Context, sql string, args []any) {
	if d.err != nil {
		return
	}
	sp, err := d.tx.Begin(ctx)
	if err != nil {
		d.err = err
		return
	}
	defer sp.Rollback(ctx) //nolint:errcheck // undoes the explained run
	var lines []string
	rows, err := sp.Query(ctx, explainPrefix+sql, args...)
	if err == nil {
		for rows.Next() {
			var line string
			if err = rows.Scan(&line); err != nil {
				break
			}
			lines = append(lines, line)
		}
		rows.Close()
		if err == nil {
			err = rows.Err()
		}
	}
	if err != nil {
		d.err = fmt.Errorf("explain %s: %w", queryName(sql), err)
		return
	}
	s := ProbeStatement{Query: queryName(sql), Plan: strings.Join(lines, "\n")}
	s.MS, s.Buffers = planCost(lines)
	d.out = append(d.out, s)
}

func (d *explainDB) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	d.explain(ctx, sql, args)
	return d.tx.Exec(ctx, sql, args...)
}

func (d *explainDB) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	d.explain(ctx, sql, args)
	return d.tx.Query(ctx, sql, args...)
}

func (d *explainDB) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	d.explain(ctx, sql, args)
	return d.tx.QueryRow(ctx, sql, args...)
}

// recorder is a pgx tracer that keeps the statements a pool sends while
// started, with their arguments.
type recorder struct {
	on    atomic.Bool
	mu    sync.Mutex
	calls []recorded
}

type recorded struct {
	sql  string
	args []any
}

func (r *recorder) start() { r.on.Store(true) }

func (r *recorder) stop() []recorded {
	r.on.Store(false)
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.calls
	r.calls = nil
	return out
}

func (r *recorder) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	if r.on.Load() {
		r.mu.Lock()
		r.calls = append(r.calls, recorded{sql: d.SQL, args: d.Args})
		r.mu.Unlock()
	}
	return ctx
}

func (r *recorder) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// queryName is the sqlc name of a generated statement ("-- name: X :one").
func queryName(sql string) string {
	if rest, ok := strings.CutPrefix(sql, "-- name: "); ok {
		if name, _, ok := strings.Cut(rest, " "); ok {
			return name
		}
	}
	if f := strings.Fields(sql); len(f) > 0 {
		return f[0]
	}
	return "?"
}

// planCost reads a text plan's execution time and the shared buffers its
// top node touched (the first Buffers line, before "Planning").
func planCost(lines []string) (ms float64, buffers int64) {
	done := false
	for _, l := range lines {
		t := strings.TrimSpace(l)
		switch {
		case strings.HasPrefix(t, "Planning"):
			done = true
		case strings.HasPrefix(t, "Buffers: shared") && !done:
			done = true
			for _, f := range strings.Fields(strings.TrimPrefix(t, "Buffers: shared")) {
				if k, v, ok := strings.Cut(f, "="); ok && (k == "hit" || k == "read") {
					n, _ := strconv.ParseInt(strings.TrimSuffix(v, ","), 10, 64)
					buffers += n
				}
			}
		case strings.HasPrefix(t, "Execution Time:"):
			if f := strings.Fields(t); len(f) >= 3 {
				ms, _ = strconv.ParseFloat(f[2], 64)
			}
		}
	}
	return ms, buffers
}
