package chaos

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ppob-orchestrator/orchestrator/internal/flow"
	"github.com/ppob-orchestrator/orchestrator/internal/httpapi"
	"github.com/ppob-orchestrator/orchestrator/internal/pgcluster"
	"github.com/ppob-orchestrator/orchestrator/internal/providers/klikoo"
	"github.com/ppob-orchestrator/orchestrator/internal/providers/simkit"
	"github.com/ppob-orchestrator/orchestrator/internal/providers/snapcart"
	"github.com/ppob-orchestrator/orchestrator/internal/recon"
	"github.com/ppob-orchestrator/orchestrator/internal/sandbox"
	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

// Options configure a chaos run. Validate them with Validate.
type Options struct {
	Bin        string // the orchestrator binary, run as every process
	Dir        string // work directory: the cluster, the key, every process's log
	Purchases  int
	Kills      int     // SIGKILLs of a random serve process, each restarted
	DBRestarts int     // `pg_ctl restart -m immediate` while load runs
	FaultRate  float64 // share of provider calls that fail: a third each time out, reset, answer 5xx
	Rate       float64 // purchases created per second
	// StatusDeadline is the service's STATUS_DEADLINE: scenario 41 (and
	// what cannot be resolved) reaches needs_review after it, so the run
	// lasts at least this long after the last payment.
	StatusDeadline time.Duration
	// Deadline bounds the wait, after the last purchase is created, for
	// every purchase to be terminal or needs_review.
	Deadline time.Duration
	Seed     uint64
	Progress io.Writer // one line per step of the run
}

// The service's timings in a chaos run: short, so that lost answers are
// looked up, repeated and rescued within the run, and ordered as config
// demands (PROVIDER_TIMEOUT < JOB_TIMEOUT < RESCUE_AFTER).
const (
	providerTimeout  = 1500 * time.Millisecond
	jobTimeout       = 5 * time.Second
	rescueAfter      = 8 * time.Second
	repeatMinAge     = 3 * time.Second
	lookupBackoff    = "1s,2s,3s"
	simSlowAnswer    = 2500 * time.Millisecond // > providerTimeout: 14, 31, 32, 35 time out
	simIndexLag      = 8 * time.Second
	simCallbackDelay = time.Second
	faultHold        = 2500 * time.Millisecond // a timeout fault outlasts providerTimeout
	inquiryWindow    = time.Minute             // INQUIRY_RETRY_WINDOW: faults and kills rarely outlast it
	apiClients       = 2
)

// Validate checks o, naming the flag at fault.
func (o *Options) Validate() error {
	switch {
	case o.Purchases < 1 || o.Purchases > 1_000_000:
		return fmt.Errorf("--purchases must be from 1 to 1000000, got %d", o.Purchases)
	case o.Kills < 0 || o.Kills > 10_000:
		return fmt.Errorf("--kills must be from 0 to 10000, got %d", o.Kills)
	case o.DBRestarts < 0 || o.DBRestarts > 100:
		return fmt.Errorf("--db-restarts must be from 0 to 100, got %d", o.DBRestarts)
	case o.FaultRate < 0 || o.FaultRate > 0.5:
		return fmt.Errorf("--fault-rate must be from 0 to 0.5, got %v", o.FaultRate)
	case o.Rate <= 0 || o.Rate > 10_000:
		return fmt.Errorf("--rate must be above 0 and at most 10000, got %v", o.Rate)
	case o.StatusDeadline < 20*time.Second || o.StatusDeadline > time.Hour:
		return fmt.Errorf("--status-deadline must be from 20s to 1h, got %s", o.StatusDeadline)
	case o.Deadline <= o.StatusDeadline:
		return fmt.Errorf("--deadline (%s) must be longer than --status-deadline (%s): scenario 41 needs it to pass", o.Deadline, o.StatusDeadline)
	}
	return nil
}

// Result is what a run measured and found.
type Result struct {
	Purchases  int // planned
	Kills      int
	DBRestarts int
	Findings   *Findings
	Missing    int // planned purchases the database does not hold (and the API did not refuse)
	// RefusedWhilePaused counts the orders the API refused (409
	// product_unavailable) because every offer of their product was at the
	// paused provider.
	RefusedWhilePaused int
	API                []string
	APICount           int // API contract violations
	Retries            int // API requests sent again after getting no answer
	Reconcile          []string
	SelfExits          []string // serve processes that exited without being killed
	Elapsed            time.Duration
	// SlowestEnd is the longest time from a payment's intent to the end of
	// a purchase that succeeded or failed after paying; DeadlineMargin is
	// the least time any of them had left before STATUS_DEADLINE. A small
	// margin says a slower machine could turn a resolvable purchase into
	// needs_review.
	SlowestEnd, DeadlineMargin time.Duration
	// Webhooks is what the webhook checks found (webhooks.go).
	Webhooks *WebhookFindings
}

// OK reports whether the run found nothing wrong.
func (r *Result) OK() bool {
	return r.Findings != nil && r.Findings.OK() && r.Missing == 0 && r.APICount == 0 && len(r.Reconcile) == 0 && len(r.SelfExits) == 0 &&
		r.Webhooks != nil && r.Webhooks.OK()
}

// Line is the run's summary line (issue 7's format).
func (r *Result) Line() string {
	f := r.Findings
	if f == nil {
		f = &Findings{ByStatus: map[flow.Status]int{}}
	}
	w := r.Webhooks
	if w == nil {
		w = &WebhookFindings{}
	}
	return fmt.Sprintf("chaos: purchases=%d kills=%d db_restarts=%d succeeded=%d failed=%d canceled=%d needs_review=%d double_charges=%d lost=%d invalid_paths=%d webhooks_lost=%d bad_signatures=%d multi_provider_charges=%d failovers=%d",
		f.Purchases, r.Kills, r.DBRestarts, f.ByStatus[flow.StatusSucceeded], f.ByStatus[flow.StatusFailed], f.ByStatus[flow.StatusCanceled],
		f.ByStatus[flow.StatusNeedsReview], f.DoubleCharges, f.Lost+r.Missing, f.InvalidPaths, w.Lost, w.BadSignatures, f.MultiProviderCharges, f.Failovers)
}

// Details are the lines printed before the summary line: what else was
// counted, and every problem found.
func (r *Result) Details() []string {
	f := r.Findings
	if f == nil {
		f = &Findings{}
	}
	var alts []string
	for name, n := range f.Alternatives {
		alts = append(alts, fmt.Sprintf("%s=%d", name, n))
	}
	sort.Strings(alts)
	lines := []string{
		fmt.Sprintf("chaos: elapsed=%s wrong_ends=%d duplicates=%d missing=%d refused_while_paused=%d api_violations=%d api_retries=%d reconcile_unexpected=%d serve_self_exits=%d slowest_end_after_payment=%s least_deadline_margin=%s",
			r.Elapsed.Round(time.Second), f.WrongEnds, f.Duplicates, r.Missing, r.RefusedWhilePaused, r.APICount, r.Retries, len(r.Reconcile), len(r.SelfExits),
			r.SlowestEnd.Round(100*time.Millisecond), r.DeadlineMargin.Round(100*time.Millisecond)),
		"chaos: allowed alternative ends: " + orNone(strings.Join(alts, " ")),
	}
	for _, p := range f.Problems {
		lines = append(lines, "problem: "+p)
	}
	for _, p := range r.API {
		lines = append(lines, "api: "+p)
	}
	for _, p := range r.Reconcile {
		lines = append(lines, "reconcile: "+p)
	}
	for _, p := range r.SelfExits {
		lines = append(lines, "process: "+p)
	}
	if w := r.Webhooks; w != nil {
		lines = append(lines, fmt.Sprintf("chaos: webhook_messages=%d phantoms=%d misdirected=%d differing_bodies=%d", w.Messages, w.Phantoms, w.Misdirected, w.Differing))
		for _, p := range w.Problems {
			lines = append(lines, "webhook: "+p)
		}
	}
	return lines
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// run is one chaos run's state.
type run struct {
	o     Options
	rng   *mrand.Rand
	say   func(format string, args ...any)
	env   []string
	dbURL string
	// adminToken is the ADMIN_TOKEN of every serve process.
	adminToken string

	cluster *pgcluster.Cluster
	sim     *Proc
	simURL  map[string]string // provider → simulator base URL (control routes)
	procMu  sync.Mutex        // guards the serve processes and killing
	serves  []*Proc
	apis    []string // their host:port
	killing bool
	exits   []string
	proxy   *Proxy
	pool    *pgxpool.Pool
	// hookEndpoints are the webhook endpoints' ids, by client index.
	hookEndpoints []string
}

// Run performs a chaos run: its own PostgreSQL cluster, the simulators and
// two serve processes of o.Bin behind a failover proxy; o.Purchases
// purchases over the API while provider faults are on, serve processes are
// SIGKILLed and restarted and PostgreSQL is restarted in immediate mode;
// then the wait for every purchase to settle and the checks. It stops
// everything it started before returning, also when ctx is canceled. An
// error means the run could not be carried out; what the run found is in
// the Result.
func Run(ctx context.Context, o Options) (res *Result, err error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	r := &run{o: o, rng: mrand.New(mrand.NewPCG(o.Seed, o.Seed^0x9e3779b97f4a7c15)), simURL: map[string]string{}}
	r.say = func(format string, args ...any) { fmt.Fprintf(o.Progress, "chaos: "+format+"\n", args...) }
	start := time.Now()
	defer r.stopAll()
	if err := r.setUp(ctx); err != nil {
		return nil, err
	}
	res, err = r.load(ctx)
	if res != nil {
		res.Elapsed = time.Since(start)
	}
	return res, err
}

// setUp starts the cluster, migrates, seeds, and starts the simulators, the
// serve processes and the proxy.
func (r *run) setUp(ctx context.Context) error {
	var err error
	r.say("work dir %s (logs: *.log)", r.o.Dir)
	if r.cluster, err = pgcluster.Start(ctx, filepath.Join(r.o.Dir, "pgdata")); err != nil {
		return err
	}
	if r.dbURL, err = createDatabase(ctx, r.cluster.URL(), "chaos"); err != nil {
		return err
	}
	r.say("PostgreSQL on port %d (log: %s)", r.cluster.Port, filepath.Join(r.o.Dir, "pgdata", "server.log"))
	creds, err := sandbox.NewCredentials()
	if err != nil {
		return err
	}
	keyPEM, err := creds.PrivateKeyPEM()
	if err != nil {
		return err
	}
	keyFile := filepath.Join(r.o.Dir, "klikoo.pem")
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		return err
	}
	addrs := make([]string, 4)
	for i := range addrs {
		if addrs[i], err = FreeAddr(); err != nil {
			return err
		}
	}
	simK, simS := addrs[0], addrs[1]
	r.apis = addrs[2:]
	if r.proxy, err = StartProxy(r.apis...); err != nil {
		return err
	}
	r.simURL[klikoo.Name], r.simURL[snapcart.Name] = "http://"+simK, "http://"+simS
	r.adminToken = randomHex(16)
	r.env = []string{
		"DATABASE_URL=" + r.dbURL, "ADMIN_TOKEN=" + r.adminToken,
		"KLIKOO_BASE_URL=http://" + simK + "/klikoo-b2b", "KLIKOO_CLIENT_ID=" + creds.KlikooClientID,
		"KLIKOO_CLIENT_SECRET=" + creds.KlikooClientSecret, "KLIKOO_PRIVATE_KEY_FILE=" + keyFile,
		"SNAPCART_BASE_URL=http://" + simS, "SNAPCART_API_KEY=" + creds.SnapcartAPIKey,
		"SNAPCART_CALLBACK_SECRET=" + creds.SnapcartCallbackSecret,
		"SIM_KLIKOO_ADDR=" + simK, "SIM_SNAPCART_ADDR=" + simS, "CALLBACK_BASE_URL=http://" + r.proxy.Addr(),
		"PROVIDER_TIMEOUT=" + providerTimeout.String(), "JOB_TIMEOUT=" + jobTimeout.String(), "RESCUE_AFTER=" + rescueAfter.String(),
		"PAYMENT_REPEAT_MIN_AGE=" + repeatMinAge.String(), "LOOKUP_BACKOFF=" + lookupBackoff,
		"INQUIRY_RETRY_WINDOW=" + inquiryWindow.String(),
		// The scenarios time out on purpose (14, 31, 32, 35, the faults),
		// which would trip routing's health breaker and refuse creations
		// (409 product_unavailable) for a minute at a time: the breaker has
		// its own tests; here it stays out of the way.
		"PROVIDER_TRIP_AFTER=1000",
		"STATUS_DEADLINE=" + r.o.StatusDeadline.String(), "RATE_LIMIT_PER_CLIENT=100000",
		"WEBHOOK_SECRET_KEY=" + webhookKey(), "WEBHOOK_ALLOW_INSECURE=true", "WEBHOOK_ALLOW_PRIVATE=true",
		"WEBHOOK_TIMEOUT=" + webhookTimeout.String(), "WEBHOOK_RETRY_SCHEDULE=" + webhookSchedule,
		"LOG_LEVEL=info", "LOG_FORMAT=text",
	}
	if out, err := r.command(ctx, "migrate", "up"); err != nil {
		return fmt.Errorf("orchestrator migrate up: %w\n%s", err, out)
	}

	r.sim, err = Start(r.o.Bin, "sim", filepath.Join(r.o.Dir, "sim.log"), r.env, "sim",
		"--slow-answer", simSlowAnswer.String(), "--index-lag", simIndexLag.String(), "--callback-delay", simCallbackDelay.String())
	if err != nil {
		return err
	}
	for _, u := range r.simURL {
		if err := r.sim.WaitHTTP(ctx, u+"/_sim/ledger", 30*time.Second); err != nil {
			return fmt.Errorf("simulators: %w (log: %s)", err, r.sim.Log)
		}
	}
	for i, addr := range r.apis {
		env := append(slices.Clone(r.env), "HTTP_ADDR="+addr)
		name := fmt.Sprintf("serve-%d", i+1)
		p, err := Start(r.o.Bin, name, filepath.Join(r.o.Dir, name+".log"), env, "serve")
		if err != nil {
			return err
		}
		r.serves = append(r.serves, p)
	}
	for i, addr := range r.apis {
		if err := r.serves[i].WaitHTTP(ctx, "http://"+addr+"/readyz", time.Minute); err != nil {
			return fmt.Errorf("serve-%d: %w (log: %s)", i+1, err, r.serves[i].Log)
		}
	}
	if r.pool, err = pgxpool.New(ctx, r.dbURL); err != nil {
		return err
	}
	r.say("simulators, %d serve processes and the proxy %s are up", len(r.serves), r.proxy.Addr())
	return nil
}

// load seeds the catalog and the API clients, turns the faults on, buys
// while the chaos goroutine kills and restarts, waits for every purchase to
// settle and checks.
func (r *run) load(ctx context.Context) (*Result, error) {
	q := store.New(r.pool)
	if err := flow.SeedCatalog(ctx, q, sandbox.Catalog(), time.Now()); err != nil {
		return nil, fmt.Errorf("seed catalog: %w", err)
	}
	keys := make([]string, apiClients)
	clientIDs := make([]uuid.UUID, apiClients)
	for i := range keys {
		key, hash, prefix, err := httpapi.NewAPIKey()
		if err != nil {
			return nil, err
		}
		cl, err := q.ClientInsert(ctx, store.ClientInsertParams{ID: uuid.New(), Name: fmt.Sprintf("chaos-%d", i+1), KeyHash: hash, KeyPrefix: prefix, CreatedAt: time.Now().UTC()})
		if err != nil {
			return nil, fmt.Errorf("create API client: %w", err)
		}
		keys[i], clientIDs[i] = key, cl.ID
	}
	hooks, err := startHookReceiver(r.o.Seed)
	if err != nil {
		return nil, fmt.Errorf("webhook receiver: %w", err)
	}
	defer hooks.close()
	if err := r.registerEndpoints(ctx, hooks, keys); err != nil {
		return nil, err
	}
	r.say("webhook endpoints registered at %s, failing %.0f%%, timing out %.0f%%, slow %.0f%% of requests", hooks.url, 100*hookFailRate, 100*hookTimeoutRate, 100*hookSlowRate)
	orders := Plan(r.o.Purchases, apiClients, r.rng)
	planned := map[string]Order{}
	for _, o := range orders {
		planned[clientIDs[o.Client].String()+"/"+o.ReferenceID] = o
	}
	third := r.o.FaultRate / 3
	faults := simkit.Faults{TimeoutRate: third, ResetRate: third, ServerErrorRate: third, LatencyMS: 20, JitterMS: 20, HoldMS: int(faultHold.Milliseconds())}
	if err := r.setFaults(ctx, faults); err != nil {
		return nil, err
	}
	r.say("faults on at both simulators: timeout %.3f, reset %.3f, 5xx %.3f of provider calls, latency 20±20 ms", third, third, third)

	// The chaos: kills and database restarts at random moments of the load
	// window (creating the purchases, and the time their payments take).
	window := time.Duration(float64(r.o.Purchases)/r.o.Rate*float64(time.Second)) + 20*time.Second
	type event struct {
		at   time.Duration
		kill bool
	}
	var events []event
	for range r.o.Kills {
		events = append(events, event{at: time.Second + time.Duration(r.rng.Int64N(int64(window-time.Second))), kill: true})
	}
	for range r.o.DBRestarts {
		events = append(events, event{at: window/5 + time.Duration(r.rng.Int64N(int64(window*3/5)))})
	}
	sort.Slice(events, func(i, j int) bool { return events[i].at < events[j].at })
	res := &Result{Purchases: r.o.Purchases}
	loadCtx, stopChaos := context.WithCancel(ctx)
	chaosDone := make(chan error, 1)
	watchDone := make(chan struct{})
	// However load returns, the chaos and watch goroutines are over before
	// stopAll stops the processes they might be restarting.
	chaosOver := false
	defer func() {
		stopChaos()
		if !chaosOver {
			<-chaosDone
		}
		<-watchDone
	}()
	begin := time.Now()
	go func() {
		chaosDone <- func() error {
			for _, ev := range events {
				if !sleepCtx(loadCtx, time.Until(begin.Add(ev.at))) {
					return nil
				}
				if ev.kill {
					if err := r.kill(loadCtx); err != nil {
						return err
					}
					res.Kills++
					continue
				}
				r.say("restarting PostgreSQL (pg_ctl restart -m immediate) at +%s", time.Since(begin).Round(time.Second))
				if err := r.cluster.Restart(loadCtx, "immediate"); err != nil {
					return err
				}
				res.DBRestarts++
				r.say("PostgreSQL is back at +%s", time.Since(begin).Round(time.Second))
			}
			return nil
		}()
	}()
	go func() { defer close(watchDone); r.watch(loadCtx) }()
	paused := make(chan error, 1)
	var pause Pause
	go func() {
		var err error
		at, d := pauseWindow(time.Duration(float64(r.o.Purchases) / r.o.Rate * float64(time.Second)))
		pause, err = r.pause(loadCtx, pausedProvider, begin, at, d)
		paused <- err
	}()
	rotated := make(chan error, 1)
	go func() {
		if !sleepCtx(loadCtx, window/3) {
			rotated <- nil
			return
		}
		rotated <- r.rotateSecret(loadCtx, hooks, keys)
	}()

	api := newClient("http://"+r.proxy.Addr(), keys)
	createCtx, cancelCreate := context.WithTimeout(ctx, window+r.o.Deadline)
	defer cancelCreate()
	r.say("buying %d purchases at %.0f/s through the proxy; %d kills and %d database restarts over the first %s",
		r.o.Purchases, r.o.Rate, r.o.Kills, r.o.DBRestarts, window.Round(time.Second))
	if err := r.buy(createCtx, api, orders); err != nil {
		return nil, fmt.Errorf("buying: %w", err)
	}
	r.say("all %d purchases created at +%s", r.o.Purchases, time.Since(begin).Round(time.Second))
	if err := <-rotated; err != nil {
		return nil, err
	}
	if err := <-paused; err != nil {
		return nil, err
	}
	err = <-chaosDone
	chaosOver = true
	if err != nil {
		return nil, fmt.Errorf("chaos: %w", err)
	}
	stopChaos()

	// Every serve process must be up (and have recovered from the database
	// restart by itself) before the wait.
	for i, addr := range r.apis {
		if err := r.serves[i].WaitHTTP(ctx, "http://"+addr+"/readyz", time.Minute); err != nil {
			res.SelfExits = append(res.SelfExits, fmt.Sprintf("serve-%d not ready after the chaos: %v (log: %s)", i+1, err, r.serves[i].Log))
		}
	}
	open, err := r.waitSettled(ctx, r.o.Deadline)
	if err != nil {
		return nil, err
	}
	r.say("settled at +%s (%d still open)", time.Since(begin).Round(time.Second), open)
	for _, p := range r.serves {
		if !p.Running() {
			res.SelfExits = append(res.SelfExits, fmt.Sprintf("%s exited by itself after the chaos (log: %s)", p.Name, p.Log))
		}
	}
	if err := r.setFaults(ctx, simkit.Faults{}); err != nil {
		return nil, err
	}
	pending, err := r.waitWebhooks(ctx, 2*time.Minute)
	if err != nil {
		return nil, err
	}
	r.say("webhooks settled at +%s (%d still pending)", time.Since(begin).Round(time.Second), pending)
	if res.Webhooks, err = r.verifyWebhooks(ctx, hooks, clientIDs); err != nil {
		return nil, err
	}

	ledgers := map[string]simkit.LedgerView{}
	for provider, u := range r.simURL {
		l, err := Ledger(ctx, u)
		if err != nil {
			return nil, err
		}
		ledgers[provider] = l
	}
	cond := Conditions{InquiryWindow: inquiryWindow, Pauses: []Pause{pause}}
	found := map[string]bool{}
	res.Findings, err = Verify(ctx, r.pool, ledgers, func(p store.Purchase) (Expectation, bool) {
		o, ok := planned[p.ClientID.String()+"/"+p.ReferenceID]
		if !ok {
			return Expectation{}, false
		}
		found[orderKey(o)] = true
		return Expect(o, p.Route, cond), true
	})
	if err != nil {
		return nil, err
	}
	api.mu.Lock()
	res.API, res.APICount, res.Retries = api.problems, api.count, api.retries
	refused := api.refused
	api.mu.Unlock()
	for _, o := range planned {
		f, wasRefused := refused[orderKey(o)]
		switch {
		case wasRefused && found[orderKey(o)]:
			res.APICount++
			res.API = append(res.API, fmt.Sprintf("%s: answered 409 product_unavailable, yet its purchase exists", o.ReferenceID))
		case wasRefused && refusedWhilePaused(f, cond.Pauses):
			res.RefusedWhilePaused++
		case wasRefused:
			res.APICount++
			res.API = append(res.API, fmt.Sprintf("%s: %s answered 409 product_unavailable at %s, outside the pause of %s (%s to %s)",
				o.ReferenceID, o.Kind.Product, f.sent.Format(time.TimeOnly), pause.Provider, pause.From.Format(time.TimeOnly), pause.To.Format(time.TimeOnly)))
		case !found[orderKey(o)]:
			res.Missing++
		}
	}
	if res.Reconcile, err = r.reconcile(ctx, res.Findings, planned); err != nil {
		return nil, err
	}
	if res.SlowestEnd, res.DeadlineMargin, err = r.deadlineMargin(ctx); err != nil {
		return nil, err
	}
	r.procMu.Lock()
	res.SelfExits = append(res.SelfExits, r.exits...)
	r.procMu.Unlock()
	return res, nil
}

// buy sends every order at o.Rate per second from a pool of workers; manual
// purchases are confirmed or canceled alongside.
func (r *run) buy(ctx context.Context, api *client, orders []Order) error {
	ch := make(chan Order)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	fail := func(err error) {
		mu.Lock()
		if first == nil {
			first = err
		}
		mu.Unlock()
	}
	var manual sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			for o := range ch {
				id, err := api.buy(ctx, o)
				if err != nil {
					fail(fmt.Errorf("%s: %w", o.ReferenceID, err))
					continue
				}
				if o.Manual != "" && id != "" {
					manual.Go(func() {
						if err := api.settleManual(ctx, o, id); err != nil {
							fail(fmt.Errorf("%s: %s: %w", o.ReferenceID, o.Manual, err))
						}
					})
				}
			}
		})
	}
	tick := time.NewTicker(time.Duration(float64(time.Second) / r.o.Rate))
	defer tick.Stop()
	for _, o := range orders {
		select {
		case <-ctx.Done():
		case <-tick.C:
		}
		if ctx.Err() != nil {
			break
		}
		ch <- o
	}
	close(ch)
	wg.Wait()
	manual.Wait()
	if first == nil && ctx.Err() != nil {
		first = ctx.Err()
	}
	return first
}

// kill SIGKILLs a random serve process, waits a moment and starts it again.
func (r *run) kill(ctx context.Context) error {
	r.procMu.Lock()
	i := r.rng.IntN(len(r.serves))
	p := r.serves[i]
	r.killing = true
	r.procMu.Unlock()
	defer func() {
		r.procMu.Lock()
		r.killing = false
		r.procMu.Unlock()
	}()
	r.say("kill -9 %s", p.Name)
	if err := p.Kill(); err != nil {
		return fmt.Errorf("kill %s: %w", p.Name, err)
	}
	sleepCtx(ctx, time.Duration(200+r.rng.IntN(800))*time.Millisecond)
	if err := p.Restart(); err != nil {
		return fmt.Errorf("restart %s: %w", p.Name, err)
	}
	return nil
}

// watch notices a serve process that exited without being killed — a
// finding — and starts it again so the run goes on.
func (r *run) watch(ctx context.Context) {
	for sleepCtx(ctx, time.Second) {
		r.procMu.Lock()
		if !r.killing {
			for _, p := range r.serves {
				if !p.Running() {
					r.exits = append(r.exits, fmt.Sprintf("%s exited by itself (log: %s)", p.Name, p.Log))
					r.say("%s exited by itself; starting it again", p.Name)
					if err := p.Restart(); err != nil {
						r.exits = append(r.exits, fmt.Sprintf("%s could not be restarted: %v", p.Name, err))
					}
				}
			}
		}
		r.procMu.Unlock()
	}
}

// waitSettled waits until no purchase is open (terminal or needs_review
// only) or d passes; it returns how many are still open.
func (r *run) waitSettled(ctx context.Context, d time.Duration) (int, error) {
	deadline := time.Now().Add(d)
	lastSay := time.Now()
	for {
		counts, err := store.New(r.pool).PurchaseCountByStatus(ctx)
		if err != nil {
			return 0, fmt.Errorf("count open purchases: %w", err)
		}
		open := 0
		for _, c := range counts {
			if st := flow.Status(c.Status); !st.Terminal() && st != flow.StatusNeedsReview {
				open += int(c.Count)
			}
		}
		if open == 0 || time.Now().After(deadline) {
			return open, nil
		}
		if time.Since(lastSay) >= 15*time.Second {
			r.say("%d purchases still open", open)
			lastSay = time.Now()
		}
		if !sleepCtx(ctx, 500*time.Millisecond) {
			return 0, ctx.Err()
		}
	}
}

// deadlineMargin measures, over the purchases that succeeded or failed after
// their payment intent, the longest time from the intent to the end and the
// least time left before their STATUS_DEADLINE.
func (r *run) deadlineMargin(ctx context.Context) (slowest, margin time.Duration, err error) {
	all, err := store.New(r.pool).PurchaseListAll(ctx)
	if err != nil {
		return 0, 0, err
	}
	first := true
	for _, p := range all {
		st := flow.Status(p.Status)
		if (st != flow.StatusSucceeded && st != flow.StatusFailed) || p.DeadlineAt == nil || p.CompletedAt == nil {
			continue
		}
		left := p.DeadlineAt.Sub(*p.CompletedAt)
		slowest = max(slowest, r.o.StatusDeadline-left)
		if first || left < margin {
			margin, first = left, false
		}
	}
	return slowest, margin, nil
}

// reconcile runs `orchestrator reconcile --format json` and returns what it
// reports beyond the expected: the needs_review purchases Verify accepted
// and scenario 24's contradictions.
func (r *run) reconcile(ctx context.Context, f *Findings, planned map[string]Order) ([]string, error) {
	out, err := r.command(ctx, "reconcile", "--format", "json", "--since", "7d")
	var exit *exec.ExitError
	if err != nil && !(errors.As(err, &exit) && exit.ExitCode() == 1) {
		return nil, fmt.Errorf("orchestrator reconcile: %w\n%s", err, out)
	}
	var rep recon.Report
	if err := json.Unmarshal(out, &rep); err != nil {
		return nil, fmt.Errorf("orchestrator reconcile: unreadable JSON: %w", err)
	}
	var bad []string
	add := func(format string, args ...any) {
		if len(bad) < 50 {
			bad = append(bad, fmt.Sprintf(format, args...))
		}
	}
	for _, s := range rep.Stuck.Rows {
		add("stuck purchase %s (%s) in %s", s.PurchaseID, s.ReferenceID, s.Status)
	}
	if rep.NeedsReview.Count != f.ByStatus[flow.StatusNeedsReview] {
		add("%d needs_review purchases reported, the database holds %d", rep.NeedsReview.Count, f.ByStatus[flow.StatusNeedsReview])
	}
	for _, c := range rep.Contradictions.Rows {
		if o, ok := planned[c.ClientID.String()+"/"+c.ReferenceID]; !ok || o.Scenario != "24" {
			add("contradiction on %s (%s), not a scenario 24 purchase: %s", c.PurchaseID, c.ReferenceID, c.AlertMessage)
		}
	}
	for _, d := range rep.DoublePayments.Rows {
		add("double payment: %s reference %s accepted %d times (%s)", d.Provider, d.ProviderReference, d.AcceptedCalls, d.Codes)
	}
	for _, p := range rep.PriceAboveMax.Rows {
		add("price above max: %s (%s) %v > %v", p.PurchaseID, p.ReferenceID, p.Price, p.MaxPrice)
	}
	for _, p := range rep.PriceMismatch.Rows {
		add("price mismatch: %s (%s) amount %v price %v", p.PurchaseID, p.ReferenceID, p.Amount, p.Price)
	}
	for _, u := range rep.UnmatchedCallbacks.Rows {
		b, _ := json.Marshal(u)
		add("unmatched callback: %s", b)
	}
	for _, m := range rep.MultipleSuccesses.Rows {
		add("multiple successes: %s (%s) %s now at %s, attempt %d at %s reported a success too", m.PurchaseID, m.ReferenceID, m.Status, m.CurrentProvider, m.EarlierAttempt, m.EarlierProvider)
	}
	for _, w := range rep.WebhookFailures.Rows {
		add("webhook delivery failed: msg_%s (%s of %s) after %d attempts: %s", w.MessageID, w.EventType, w.ReferenceID, w.Attempts, w.LastError)
	}
	return bad, nil
}

// setFaults sets the fault rates of both simulators.
func (r *run) setFaults(ctx context.Context, f simkit.Faults) error {
	body, _ := json.Marshal(f)
	for _, u := range r.simURL {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, u+"/_sim/faults", bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return fmt.Errorf("set faults: %w", err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			return fmt.Errorf("set faults at %s: HTTP %d: %s", u, res.StatusCode, b)
		}
	}
	return nil
}

// command runs the binary to completion with the run's environment and
// returns its standard output (its standard error goes to commands.log).
func (r *run) command(ctx context.Context, args ...string) ([]byte, error) {
	logf, err := os.OpenFile(filepath.Join(r.o.Dir, "commands.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	fmt.Fprintf(logf, "$ orchestrator %s\n", strings.Join(args, " "))
	cmd := exec.CommandContext(ctx, r.o.Bin, args...)
	cmd.Env = append(os.Environ(), r.env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, logf
	err = cmd.Run()
	return out.Bytes(), err
}

// stopAll stops everything the run started, whatever happened.
func (r *run) stopAll() {
	if r.pool != nil {
		r.pool.Close()
	}
	r.procMu.Lock()
	for _, p := range r.serves {
		_ = p.Stop(10 * time.Second)
	}
	r.procMu.Unlock()
	if r.sim != nil {
		_ = r.sim.Stop(5 * time.Second)
	}
	if r.proxy != nil {
		_ = r.proxy.Close()
	}
	if r.cluster != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := r.cluster.Stop(ctx); err != nil {
			r.say("stopping PostgreSQL: %v", err)
		}
	}
}

// createDatabase creates a database on the cluster and returns its URL.
func createDatabase(ctx context.Context, clusterURL, name string) (string, error) {
	conn, err := pgx.Connect(ctx, clusterURL)
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", fmt.Errorf("create database %s: %w", name, err)
	}
	return strings.Replace(clusterURL, "/postgres?", "/"+name+"?", 1), nil
}

// sleepCtx sleeps d and reports false when ctx ended first.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
