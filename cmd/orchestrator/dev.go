package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ppob-orchestrator/orchestrator/internal/config"
	"github.com/ppob-orchestrator/orchestrator/internal/flow"
	"github.com/ppob-orchestrator/orchestrator/internal/httpapi"
	"github.com/ppob-orchestrator/orchestrator/internal/pgcluster"
	"github.com/ppob-orchestrator/orchestrator/internal/sandbox"
	"github.com/ppob-orchestrator/orchestrator/internal/store"
	"github.com/ppob-orchestrator/orchestrator/internal/webhook"
	"github.com/ppob-orchestrator/orchestrator/migrations"
)

// devDir is where `dev` keeps its state, under the working directory: the
// PostgreSQL cluster and the generated Klikoo key. Delete it to start over.
const devDir = ".orchestrator"

// runDev runs everything on this machine: a throwaway PostgreSQL when
// DATABASE_URL is unset, the migrations, both provider simulators in-process
// with generated credentials, the demo catalog, a demo client, and the
// service. Ctrl-C stops all of it.
//
// With --webhook-url URL it registers URL as a webhook endpoint of the demo
// client and prints its secret. dev allows plain http and private
// addresses for webhooks, and generates WEBHOOK_SECRET_KEY unless it is
// set (kept in the dev directory, so endpoints outlive a restart).
func runDev(ctx context.Context, cfg *config.Config, args []string, logger *slog.Logger, stdout io.Writer) error {
	fs := flag.NewFlagSet("dev", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	webhookURL := fs.String("webhook-url", "", "")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("dev: %w (usage: orchestrator dev [--webhook-url URL])", err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("dev: unexpected argument %q (usage: orchestrator dev [--webhook-url URL])", fs.Arg(0))
	}
	dir, err := filepath.Abs(devDir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if cfg.DatabaseURL == "" {
		url, stop, err := localDatabase(ctx, pgcluster.Start, filepath.Join(dir, "pgdata"), "orchestrator", logger, stdout)
		if err != nil {
			return err
		}
		defer stop()
		cfg.DatabaseURL = url
	}
	if err := migrateUp(ctx, cfg.DatabaseURL); err != nil {
		return err
	}

	// The API's listener first: the simulators send callbacks to it.
	apiLn, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("HTTP_ADDR %s: %w", cfg.HTTPAddr, err)
	}
	apiURL := "http://" + apiLn.Addr().String()
	if cfg.CallbackBaseURL == "" {
		cfg.CallbackBaseURL = apiURL
	}
	if cfg.AdminToken == "" {
		cfg.AdminToken = randomToken()
	}
	cfg.WebhookAllowInsecure, cfg.WebhookAllowPrivate = true, true
	if cfg.WebhookSecretKey == nil {
		if cfg.WebhookSecretKey, err = devWebhookKey(filepath.Join(dir, "webhook-secret-key")); err != nil {
			return err
		}
	}
	creds, err := devCredentials(cfg, dir)
	if err != nil {
		return err
	}
	sims, err := startSims(ctx, cfg, creds, sandbox.Options{CallbackBaseURL: cfg.CallbackBaseURL, Logger: logger}, logger)
	if err != nil {
		return err
	}
	defer sims.stop()
	if cfg.KlikooBaseURL == "" {
		cfg.KlikooBaseURL = sims.klikooURL + "/klikoo-b2b"
	}
	if cfg.SnapcartBaseURL == "" {
		cfg.SnapcartBaseURL = sims.snapcartURL
	}

	var apiKey, hookNote string
	var wh *webhook.Service
	return serve(ctx, cfg, logger, serveOptions{
		listener:             apiLn,
		dev:                  true,
		snapcartCatalogTypes: []string{"postpaid"},
		onWebhooks:           func(w *webhook.Service) { wh = w },
		beforeServe: func(ctx context.Context, pool *pgxpool.Pool, _ *flow.Service) error {
			q := store.New(pool)
			if err := flow.SeedCatalog(ctx, q, sandbox.Catalog(), time.Now()); err != nil {
				return err
			}
			if apiKey, err = createClient(ctx, q, "demo"); err != nil {
				return err
			}
			if *webhookURL == "" {
				return nil
			}
			hookNote, err = devEndpoint(ctx, q, wh, apiKey, *webhookURL)
			return err
		},
		onReady: func(addr string) {
			fmt.Fprintf(stdout, `
orchestrator is ready on http://%[1]s
  simulators: Klikoo %[2]s, Snapcart %[3]s
  demo client API key (shown once): %[4]s
  admin token: %[5]s

Buy a PLN token from the Klikoo simulator:
  export API_KEY=%[4]s
  curl -s -X POST http://%[1]s/v1/purchases -H "Authorization: Bearer $API_KEY" \
    -H 'Content-Type: application/json' \
    -d '{"reference_id":"demo-1","product_code":"PLN20","customer_number":"01105691111"}'

Operator console: %[6]s
  %[7]s

%[8]sCtrl-C stops everything.

`, addr, sims.klikooURL, sims.snapcartURL, apiKey, cfg.AdminToken, consoleURL(cfg, addr), consoleSignin(cfg), hookNote)
		},
	})
}

// devWebhookKey reads the dev directory's WEBHOOK_SECRET_KEY, or writes a
// new one there.
func devWebhookKey(file string) ([]byte, error) {
	if b, err := os.ReadFile(file); err == nil {
		return webhook.ParseSecretKey(string(b))
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("WEBHOOK_SECRET_KEY: %w", err)
	}
	key, err := webhook.NewSecretKey()
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(file, []byte(key+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("WEBHOOK_SECRET_KEY: %w", err)
	}
	return webhook.ParseSecretKey(key)
}

// devEndpoint registers url as a webhook endpoint of the client of apiKey
// and returns the lines that tell the developer about it, with its secret.
func devEndpoint(ctx context.Context, q *store.Queries, wh *webhook.Service, apiKey, url string) (string, error) {
	cl, err := q.ClientGetByKeyHash(ctx, httpapi.HashAPIKey(apiKey))
	if err != nil {
		return "", fmt.Errorf("--webhook-url: find the demo client: %w", err)
	}
	ep, secret, err := wh.CreateEndpoint(ctx, cl.ID, webhook.EndpointInput{URL: &url})
	if err != nil {
		return "", fmt.Errorf("--webhook-url %s: %w", url, err)
	}
	return fmt.Sprintf(`Webhooks: endpoint %s receives every status change of the demo client's purchases
  url:    %s
  secret: %s   (shown once; verify messages with it: docs/webhooks.md)

`, ep.ID, url, secret), nil
}

// devCredentials uses the configured provider credentials, or generates
// matching ones for the in-process simulators (the Klikoo key is written to
// the dev directory, since KLIKOO_PRIVATE_KEY_FILE names a file).
func devCredentials(cfg *config.Config, dir string) (sandbox.Credentials, error) {
	if cfg.KlikooPrivateKeyFile != "" {
		return credentialsFromConfig(cfg)
	}
	creds, err := sandbox.NewCredentials()
	if err != nil {
		return creds, err
	}
	pemBytes, err := creds.PrivateKeyPEM()
	if err != nil {
		return creds, err
	}
	keyFile := filepath.Join(dir, "klikoo-dev-key.pem")
	if err := os.WriteFile(keyFile, pemBytes, 0o600); err != nil {
		return creds, err
	}
	cfg.KlikooPrivateKeyFile = keyFile
	set := func(dst *string, v string) {
		if *dst == "" {
			*dst = v
		}
	}
	set(&cfg.KlikooClientID, creds.KlikooClientID)
	set(&cfg.KlikooClientSecret, creds.KlikooClientSecret)
	set(&cfg.SnapcartAPIKey, creds.SnapcartAPIKey)
	set(&cfg.SnapcartCallbackSecret, creds.SnapcartCallbackSecret)
	return credentialsFromConfig(cfg)
}

func randomToken() string {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// localDatabase starts a PostgreSQL cluster from the installed binaries in
// dataDir (initializing it if new) with start (pgcluster.Start, or
// pgcluster.StartDurable for fsync on), makes sure the named database
// exists, and returns its URL and a function that stops the cluster.
func localDatabase(ctx context.Context, start func(context.Context, string) (*pgcluster.Cluster, error), dataDir, name string, logger *slog.Logger, stdout io.Writer) (string, func(), error) {
	fmt.Fprintf(stdout, "starting PostgreSQL in %s\n", dataDir)
	cluster, err := start(ctx, dataDir)
	if err != nil {
		return "", nil, err
	}
	stop := func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := cluster.Stop(stopCtx); err != nil {
			logger.Error("stop PostgreSQL", "err", err)
		} else {
			fmt.Fprintln(stdout, "PostgreSQL stopped")
		}
	}
	url, err := ensureDatabase(ctx, cluster.URL(), name)
	if err != nil {
		stop()
		return "", nil, err
	}
	return url, stop, nil
}

// The pools' names, their sessions' application_name: pg_stat_activity
// (and the bench's CPU by process) tells them apart.
const (
	poolWorkers   = "orchestrator-workers"   // the steps and River (DB_MAX_CONNS)
	poolAPI       = "orchestrator-api"       // API requests and callbacks (API_DB_MAX_CONNS)
	poolWebhooks  = "orchestrator-webhooks"  // webhook deliveries
	poolReconcile = "orchestrator-reconcile" // `orchestrator reconcile`
	poolBench     = "orchestrator-bench"     // the bench's observer and its floor with our settings
	poolFloor     = "orchestrator-bench-floor"
)

// newPool opens the workers' pgx pool of DATABASE_URL with DB_MAX_CONNS
// connections.
func newPool(ctx context.Context, cfg *config.Config) (*pgxpool.Pool, error) {
	return newPoolSized(ctx, cfg, cfg.DBMaxConns, poolWorkers)
}

// poolConfig is the pgx pool configuration of url with size connections,
// whose sessions are named name (application_name) unless url names them.
// Its sessions run with PostgreSQL's JIT off: every statement of the
// service is a short one, and on a big table a planner's high estimate
// made PostgreSQL spend 100–270 ms compiling a query that then ran in
// under a millisecond (docs/performance.md#big-tables).
func poolConfig(url string, size int32, name string) (*pgxpool.Config, error) {
	poolCfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, errors.New("DATABASE_URL: not a valid PostgreSQL URL")
	}
	poolCfg.MaxConns = size
	poolCfg.ConnConfig.RuntimeParams["jit"] = "off"
	if _, set := poolCfg.ConnConfig.RuntimeParams["application_name"]; !set {
		poolCfg.ConnConfig.RuntimeParams["application_name"] = name
	}
	store.ConfigurePool(poolCfg)
	return poolCfg, nil
}

// newPoolSized opens a pgx pool of DATABASE_URL with size connections
// named name.
func newPoolSized(ctx context.Context, cfg *config.Config, size int32, name string) (*pgxpool.Pool, error) {
	poolCfg, err := poolConfig(cfg.DatabaseURL, size, name)
	if err != nil {
		return nil, err
	}
	return openPool(ctx, poolCfg)
}

// openPool opens a pool of poolCfg (from poolConfig); an error names
// DATABASE_URL, where the configuration came from.
func openPool(ctx context.Context, poolCfg *pgxpool.Config) (*pgxpool.Pool, error) {
	pool, err := pgxpool.NewWithConfig(ctx, poolCfg)
	if err != nil {
		return nil, fmt.Errorf("DATABASE_URL: %w", err)
	}
	return pool, nil
}

// ensureDatabase creates the named database on the server unless it exists
// and returns its URL.
func ensureDatabase(ctx context.Context, serverURL, name string) (string, error) {
	conn, err := pgx.Connect(ctx, serverURL)
	if err != nil {
		return "", err
	}
	defer conn.Close(context.Background())
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return "", err
	}
	if !exists {
		if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
			return "", err
		}
	}
	u, err := url.Parse(serverURL)
	if err != nil {
		return "", err
	}
	u.Path = "/" + name
	return u.String(), nil
}

func migrateUp(ctx context.Context, dbURL string) error {
	db, err := sql.Open("pgx", dbURL)
	if err != nil {
		return err
	}
	defer db.Close()
	p, err := migrations.NewProvider(db)
	if err != nil {
		return err
	}
	if _, err := p.Up(ctx); err != nil {
		if errors.Is(err, context.Canceled) {
			return err
		}
		return fmt.Errorf("migrate up: %w", err)
	}
	return nil
}

// consoleURL is where `dev` serves the console: CONSOLE_ADDR, else the API's
// listener.
func consoleURL(cfg *config.Config, apiAddr string) string {
	if cfg.ConsoleAddr != "" {
		return "http://" + cfg.ConsoleAddr + "/console/"
	}
	return "http://" + apiAddr + "/console/"
}

// consoleSignin says how to sign in to `dev`'s console.
func consoleSignin(cfg *config.Config) string {
	if len(cfg.ConsoleOperators) > 0 {
		return "sign in with your name and token from CONSOLE_OPERATORS"
	}
	return "sign in as admin with token " + cfg.AdminToken
}
