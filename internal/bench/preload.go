package bench

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ppob-orchestrator/orchestrator/internal/bench/benchdb"
	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

// MaxPreload bounds --preload.
const MaxPreload = 50_000_000

// PreloadOptions say what Preload writes. Zero values take the defaults
// noted.
type PreloadOptions struct {
	N       int    // purchases
	Tag     string // prefix of their reference_ids and of the clients' names (default "pre")
	Clients int    // new API clients the purchases belong to (default 5)
	// ClientIDs, when set, are the clients the purchases belong to instead
	// of new ones (their shares of the purchases as in clientShare).
	ClientIDs []uuid.UUID
	Span      time.Duration // how far back the oldest was created (default a year)
	Now       time.Time     // the newest was created ten minutes before it (default time.Now)
	Seed      uint64        // the same seed, tag and clients write the same rows (default random)
	Batch     int           // purchases per COPY transaction (default 20,000)
	Workers   int           // concurrent COPY connections (default 2)
	// CheckEachRow keeps the foreign keys' per-row checks even where the
	// preload could skip them (see Preload).
	CheckEachRow bool
	// contradictions, when set, is the rate of contradicted successes
	// instead of rateContradiction (a test wants some in few purchases).
	contradictions float64
	// Progress, when set, receives a line per batch (at most one every
	// two seconds) and a last one.
	Progress io.Writer
}

// PreloadStats is what a preload wrote and how fast.
type PreloadStats struct {
	Purchases     int              `json:"purchases"`
	Clients       []uuid.UUID      `json:"clients"`
	Rows          map[string]int64 `json:"rows"` // per table
	ByStatus      map[string]int64 `json:"by_status"`
	Seconds       float64          `json:"seconds"` // COPY, without the proof and the vacuum
	RowsPerSecond float64          `json:"rows_per_s"`
	// SkippedRowChecks is true when COPY ran without the foreign keys'
	// per-row triggers; ProofSeconds is how long proving them afterwards took.
	SkippedRowChecks bool    `json:"skipped_row_checks"`
	ProofSeconds     float64 `json:"proof_seconds"`
	VacuumSeconds    float64 `json:"vacuum_seconds"`
}

// batch is the rows of a run of consecutive purchases. Events point at
// the batch's calls and callbacks by index until ids are assigned.
type batch struct {
	purchases []synthPurchase
	events    []synthEvent
	calls     []synthCall
	callbacks []synthCallback
	attempts  []synthAttempt
	alerts    []synthAlert
	balances  []synthBalance
	// balanceAt is when the last deposit of each provider was kept, across
	// the batches of one writer: as the flow does, a deposit is kept at
	// most once per flow.BalanceKeepEvery (its answer is kept anyway).
	balanceAt map[string]time.Time
}

func (b *batch) reset() {
	b.purchases, b.events, b.calls, b.callbacks = b.purchases[:0], b.events[:0], b.calls[:0], b.callbacks[:0]
	b.attempts, b.alerts, b.balances = b.attempts[:0], b.alerts[:0], b.balances[:0]
}

// Preload fills the database behind pool with o.N purchases of realistic
// shape (synth.go), with COPY, in batches of one transaction each written
// by o.Workers connections, then vacuums and analyzes the tables. The
// purchases belong to o.Clients new clients and use the catalog already in
// the database (flow.SeedCatalog). Every preloaded purchase has ended,
// except about one in 50,000 left in needs_review long enough ago that the
// sweeper leaves it alone.
//
// COPY fires no trigger of ours (they guard UPDATE and DELETE) but does
// check every constraint as an INSERT would. The foreign keys are checked
// by per-row triggers, which cost about half of the preload's time; as a
// superuser the preload skips them (session_replication_role = replica,
// unless o.CheckEachRow) and then proves, with one query over the
// preloaded rows, that no reference names a missing row (PreloadOrphans);
// a foreign key the proof does not know of stops it. CHECK, NOT NULL and
// UNIQUE constraints hold every row either way. What no constraint checks
// (an event's provider call and callback, a callback's digest:
// migrations/00012_audit_partitions.sql) is proved the same way, always
// (PreloadUnenforcedRefs).
//
// The month partitions of the audit tables for the preload's span are made
// first, so that no row lands in a DEFAULT partition.
//
// The ids of the audit tables are written by the preload, so it must be
// the only writer while it runs: point it at a scratch database, before
// the service starts.
func Preload(ctx context.Context, pool *pgxpool.Pool, o PreloadOptions) (PreloadStats, error) {
	res := PreloadStats{Purchases: o.N, Rows: map[string]int64{}, ByStatus: map[string]int64{}}
	o = o.withDefaults()
	if o.N <= 0 || o.N > MaxPreload {
		return res, fmt.Errorf("preload: N must be from 1 to %d, got %d", MaxPreload, o.N)
	}
	q := benchdb.New(pool)
	products, err := preloadCatalog(ctx, q)
	if err != nil {
		return res, err
	}
	res.Clients = o.ClientIDs
	for k := 0; len(o.ClientIDs) == 0 && k < o.Clients; k++ {
		id, err := preloadClient(ctx, pool, fmt.Sprintf("%s-client-%d", o.Tag, k+1), o.Now.Add(-o.Span))
		if err != nil {
			return res, err
		}
		res.Clients = append(res.Clients, id)
	}
	s, err := newSynth(o.Seed, o.Tag, o.N, o.Now, o.Span, products, res.Clients)
	if err != nil {
		return res, fmt.Errorf("preload: %w", err)
	}
	if o.contradictions > 0 {
		s.contradictions = o.contradictions
	}
	if _, err := store.New(pool).AuditPartitionsEnsure(ctx, store.AuditPartitionsEnsureParams{Since: o.Now.Add(-o.Span), Until: o.Now}); err != nil {
		return res, fmt.Errorf("preload: make the audit tables' partitions: %w", err)
	}
	base, err := q.PreloadMaxIDs(ctx)
	if err != nil {
		return res, fmt.Errorf("preload: read ids: %w", err)
	}
	ids := &idRanges{calls: base.ProviderCalls, callbacks: base.Callbacks, events: base.PurchaseEvents,
		alerts: base.Alerts, balances: base.ProviderBalances}
	if !o.CheckEachRow {
		if res.SkippedRowChecks, err = q.PreloadSuperuser(ctx); err != nil {
			return res, fmt.Errorf("preload: %w", err)
		}
	}

	start := time.Now()
	prog := &progress{w: o.Progress, total: o.N, start: start}
	batches := make(chan int)
	errs := make(chan error, o.Workers)
	var wg sync.WaitGroup
	for range o.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var b batch
			for lo := range batches {
				b.reset()
				s.fill(&b, lo, min(lo+o.Batch, o.N))
				if err := writeBatch(ctx, pool, &b, ids, res.SkippedRowChecks); err != nil {
					errs <- fmt.Errorf("preload: purchases %d-%d: %w", lo, min(lo+o.Batch, o.N)-1, err)
					return
				}
				prog.add(&b)
			}
		}()
	}
	var failed error
feed:
	for lo := 0; lo < o.N; lo += o.Batch {
		select {
		case batches <- lo:
		case failed = <-errs:
			break feed
		case <-ctx.Done():
			failed = ctx.Err()
			break feed
		}
	}
	close(batches)
	wg.Wait()
	close(errs)
	if failed == nil {
		failed = <-errs
	}
	if failed != nil {
		return res, failed
	}
	res.Seconds = time.Since(start).Seconds()
	res.Rows = prog.rows()
	var total int64
	for _, n := range res.Rows {
		total += n
	}
	res.RowsPerSecond = float64(total) / res.Seconds
	prog.done()

	proof := time.Now()
	if res.SkippedRowChecks {
		if err := proveForeignKeys(ctx, q, res.Clients, base); err != nil {
			return res, err
		}
	}
	if err := proveUnenforced(ctx, q, base); err != nil {
		return res, err
	}
	res.ProofSeconds = time.Since(proof).Seconds()
	if o.Progress != nil {
		what := "the references no constraint checks"
		if res.SkippedRowChecks {
			what = "the foreign keys (COPY skipped their per-row checks) and " + what
		}
		fmt.Fprintf(o.Progress, "preload: every preloaded row proved to satisfy %s in %.1fs\n", what, res.ProofSeconds)
	}
	if err := q.PreloadSetSequences(ctx); err != nil {
		return res, fmt.Errorf("preload: move the identities past the preloaded ids: %w", err)
	}
	vacuum := time.Now()
	if err := q.PreloadVacuum(ctx); err != nil {
		return res, fmt.Errorf("preload: vacuum: %w", err)
	}
	res.VacuumSeconds = time.Since(vacuum).Seconds()
	counts, err := q.PreloadStatusCounts(ctx, res.Clients)
	if err != nil {
		return res, fmt.Errorf("preload: count: %w", err)
	}
	for _, c := range counts {
		res.ByStatus[c.Status] = c.Count
	}
	if o.Progress != nil {
		fmt.Fprintf(o.Progress, "preload: vacuum and analyze %.1fs; by status %v\n", res.VacuumSeconds, res.ByStatus)
	}
	return res, nil
}

func (o PreloadOptions) withDefaults() PreloadOptions {
	if o.Tag == "" {
		o.Tag = "pre"
	}
	if o.Clients <= 0 {
		o.Clients = len(clientShare)
	}
	if o.Span <= 0 {
		o.Span = 365 * 24 * time.Hour
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	if o.Seed == 0 {
		var b [8]byte
		_, _ = rand.Read(b[:])
		o.Seed = binary.LittleEndian.Uint64(b[:])
	}
	if o.Batch <= 0 {
		o.Batch = 20_000
	}
	if o.Workers <= 0 {
		o.Workers = 2
	}
	return o
}

// preloadCatalog reads the products the preload can buy.
func preloadCatalog(ctx context.Context, q *benchdb.Queries) ([]synthProduct, error) {
	rows, err := q.PreloadOffers(ctx)
	if err != nil {
		return nil, fmt.Errorf("preload: read the catalog: %w", err)
	}
	var out []synthProduct
	for _, r := range rows {
		if len(out) == 0 || out[len(out)-1].Code != r.ProductCode {
			out = append(out, synthProduct{Code: r.ProductCode, Name: r.Name, Family: r.Family})
		}
		p := &out[len(out)-1]
		p.Offers = append(p.Offers, synthOffer{Provider: r.Provider, ProviderProductCode: r.ProviderProductCode,
			ItemCode: r.ItemCode, Inquiry: r.Inquiry, Price: r.Price})
	}
	return out, nil
}

// preloadClient creates an API client whose key nobody knows.
func preloadClient(ctx context.Context, pool *pgxpool.Pool, name string, created time.Time) (uuid.UUID, error) {
	hash := make([]byte, 32)
	if _, err := rand.Read(hash); err != nil {
		return uuid.UUID{}, err
	}
	id, err := uuid.NewV7()
	if err != nil {
		return id, err
	}
	if _, err := store.New(pool).ClientInsert(ctx, store.ClientInsertParams{ID: id, Name: name, KeyHash: hash, KeyPrefix: "preload", CreatedAt: created}); err != nil {
		return id, fmt.Errorf("preload: create client %s: %w", name, err)
	}
	return id, nil
}

// idRanges hands out the ids of the audit tables, a block per batch.
type idRanges struct {
	mu                                         sync.Mutex
	calls, callbacks, events, alerts, balances int64 // the last id handed out
}

// reserve returns the id before the first of n ids of each table.
func (r *idRanges) reserve(b *batch) (calls, callbacks, events, alerts, balances int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	calls, callbacks, events, alerts, balances = r.calls, r.callbacks, r.events, r.alerts, r.balances
	r.calls += int64(len(b.calls))
	r.callbacks += int64(len(b.callbacks))
	r.events += int64(len(b.events))
	r.alerts += int64(len(b.alerts))
	r.balances += int64(len(b.balances))
	return
}

// progress reports the preload as batches end.
type progress struct {
	w     io.Writer
	total int
	start time.Time
	mu    sync.Mutex
	ended int
	shown int // ended when the last line was written
	last  time.Time
	count map[string]int64
}

func (p *progress) add(b *batch) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.count == nil {
		p.count = map[string]int64{}
	}
	p.ended += len(b.purchases)
	for t, n := range b.sizes() {
		p.count[t] += int64(n)
	}
	if p.w != nil && time.Since(p.last) >= 2*time.Second {
		p.last = time.Now()
		p.line()
	}
}

func (p *progress) line() {
	p.shown = p.ended
	s := time.Since(p.start).Seconds()
	var rows int64
	for _, n := range p.count {
		rows += n
	}
	fmt.Fprintf(p.w, "preload: %d/%d purchases (%.0f%%) in %.0fs: %.0f purchases/s, %.0f rows/s\n",
		p.ended, p.total, 100*float64(p.ended)/float64(p.total), s, float64(p.ended)/s, float64(rows)/s)
}

func (p *progress) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.w != nil {
		if p.shown != p.ended {
			p.line()
		}
		fmt.Fprintf(p.w, "preload: rows %v\n", p.count)
	}
}

func (p *progress) rows() map[string]int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]int64, len(p.count))
	for k, v := range p.count {
		out[k] = v
	}
	return out
}

func (b *batch) sizes() map[string]int {
	return map[string]int{"purchases": len(b.purchases), "purchase_events": len(b.events), "provider_calls": len(b.calls),
		"callbacks": len(b.callbacks), "callback_digests": len(b.callbacks), "purchase_attempts": len(b.attempts), "alerts": len(b.alerts), "provider_balances": len(b.balances)}
}

// proveForeignKeys proves that the rows preloaded after base (the
// purchases of clients) satisfy every foreign key of their tables.
func proveForeignKeys(ctx context.Context, q *benchdb.Queries, clients []uuid.UUID, base benchdb.PreloadMaxIDsRow) error {
	o, err := q.PreloadOrphans(ctx, benchdb.PreloadOrphansParams{ClientIds: clients, CallsAfter: base.ProviderCalls,
		CallbacksAfter: base.Callbacks, EventsAfter: base.PurchaseEvents, AlertsAfter: base.Alerts})
	if err != nil {
		return fmt.Errorf("preload: prove the foreign keys: %w", err)
	}
	proved := map[string]int64{
		"purchases.purchases_client_id_fkey": o.PurchasesClientIDFkey, "purchases.purchases_product_code_fkey": o.PurchasesProductCodeFkey,
		"provider_calls.provider_calls_purchase_id_fkey": o.ProviderCallsPurchaseIDFkey, "callbacks.callbacks_purchase_id_fkey": o.CallbacksPurchaseIDFkey,
		"purchase_events.purchase_events_purchase_id_fkey": o.PurchaseEventsPurchaseIDFkey,
		"alerts.alerts_purchase_id_fkey":                   o.AlertsPurchaseIDFkey, "purchase_attempts.purchase_attempts_purchase_id_fkey": o.PurchaseAttemptsPurchaseIDFkey,
	}
	fks, err := q.PreloadForeignKeys(ctx)
	if err != nil {
		return fmt.Errorf("preload: list the foreign keys: %w", err)
	}
	var problems []string
	for _, fk := range fks {
		name := fk.TableName + "." + fk.Name
		n, ok := proved[name]
		switch {
		case !ok:
			problems = append(problems, name+" is not proved by PreloadOrphans (internal/bench/queries/preload.sql): add it there")
		case n > 0:
			problems = append(problems, fmt.Sprintf("%d rows break %s", n, name))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("preload: foreign keys: %s", strings.Join(problems, "; "))
	}
	return nil
}

// proveUnenforced proves that the audit rows preloaded after base keep what
// no constraint checks: each event's provider call and callback is a row of
// its purchase with its timestamp, each callback has its digest.
func proveUnenforced(ctx context.Context, q *benchdb.Queries, base benchdb.PreloadMaxIDsRow) error {
	r, err := q.PreloadUnenforcedRefs(ctx, benchdb.PreloadUnenforcedRefsParams{EventsAfter: base.PurchaseEvents, CallbacksAfter: base.Callbacks})
	if err != nil {
		return fmt.Errorf("preload: prove the references: %w", err)
	}
	var problems []string
	for name, n := range map[string]int64{
		"purchase_events.provider_call_id (a call of the event's purchase and time)": r.EventProviderCall,
		"purchase_events.callback_id (a callback of the event's purchase and time)":  r.EventCallback,
		"callbacks.body_sha256 (its row in callback_digests)":                        r.CallbackDigest,
	} {
		if n > 0 {
			problems = append(problems, fmt.Sprintf("%d rows break %s", n, name))
		}
	}
	if len(problems) > 0 {
		slices.Sort(problems)
		return fmt.Errorf("preload: references: %s", strings.Join(problems, "; "))
	}
	return nil
}

// writeBatch COPYs a batch in one transaction, parents before children,
// without the foreign keys' per-row checks when skip is set.
func writeBatch(ctx context.Context, pool *pgxpool.Pool, b *batch, ids *idRanges, skip bool) error {
	calls, callbacks, events, alerts, balances := ids.reserve(b)
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if skip {
			if err := benchdb.New(tx).PreloadSkipTriggers(ctx); err != nil {
				return err
			}
		}
		for _, c := range []struct {
			table string
			cols  []string
			src   pgx.CopyFromSource
			want  int
		}{
			{"purchases", purchaseColumns, b.purchaseRows(), len(b.purchases)},
			{"provider_calls", callColumns, b.callRows(calls), len(b.calls)},
			{"callbacks", callbackColumns, b.callbackRows(callbacks), len(b.callbacks)},
			{"callback_digests", digestColumns, b.digestRows(), len(b.callbacks)},
			{"purchase_events", eventColumns, b.eventRows(events, calls, callbacks), len(b.events)},
			{"purchase_attempts", attemptColumns, b.attemptRows(), len(b.attempts)},
			{"alerts", alertColumns, b.alertRows(alerts), len(b.alerts)},
			{"provider_balances", balanceColumns, b.balanceRows(balances), len(b.balances)},
		} {
			if c.want == 0 {
				continue
			}
			n, err := tx.CopyFrom(ctx, pgx.Identifier{c.table}, c.cols, c.src)
			if err != nil {
				return fmt.Errorf("copy %s: %w", c.table, err)
			}
			if n != int64(c.want) {
				return fmt.Errorf("copy %s: %d rows of %d", c.table, n, c.want)
			}
		}
		return nil
	})
}
