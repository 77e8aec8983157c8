package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/ppob-orchestrator/orchestrator/internal/config"
	"github.com/ppob-orchestrator/orchestrator/internal/flow"
	"github.com/ppob-orchestrator/orchestrator/internal/httpapi"
	"github.com/ppob-orchestrator/orchestrator/internal/providers/klikoo"
	"github.com/ppob-orchestrator/orchestrator/internal/providers/snapcart"
	"github.com/ppob-orchestrator/orchestrator/internal/recon"
	"github.com/ppob-orchestrator/orchestrator/internal/telemetry"

	"github.com/ppob-orchestrator/orchestrator/internal/webhook"
)

// serveOptions are what `dev` changes about `serve`.
type serveOptions struct {
	listener net.Listener // listen here instead of HTTP_ADDR
	// snapcartCatalogTypes adds catalog types beyond the documented four
	// (the simulator also lists its postpaid products under "postpaid").
	snapcartCatalogTypes []string
	// beforeServe runs once the flow exists, before the API accepts requests.
	beforeServe func(ctx context.Context, pool *pgxpool.Pool, svc *flow.Service) error
	// onReady is called with the listen address once the API accepts requests.
	onReady func(addr string)
	// onPools is called with the workers' and the API's pools once they exist.
	onPools func(workers, api *pgxpool.Pool)
	// dev serves the console's cookies without Secure (plain HTTP).
	dev bool
	// traceExporter, when set, receives every span as it ends, in place of
	// OTEL_EXPORTER_OTLP_ENDPOINT (tests).
	traceExporter sdktrace.SpanExporter

	// onWebhooks is called with the webhook service once it exists.
	onWebhooks func(*webhook.Service)
}

// webhookConns is the size of the webhook deliveries' own pool: a bulkhead,
// so that attempts to slow endpoints never wait for, or hold, a connection
// the purchase steps or the API need.
const webhookConns = 2

// serve runs the API and the workers until ctx is done, then shuts down
// cleanly: the API stops taking requests, running jobs finish (or are left
// for River to rescue), the pool closes.
func serve(ctx context.Context, cfg *config.Config, logger *slog.Logger, o serveOptions) error {
	if err := cfg.Require("DATABASE_URL", "ADMIN_TOKEN", "KLIKOO_BASE_URL", "KLIKOO_CLIENT_ID",
		"KLIKOO_CLIENT_SECRET", "KLIKOO_PRIVATE_KEY_FILE", "SNAPCART_BASE_URL", "SNAPCART_API_KEY"); err != nil {
		return err
	}
	tracing, err := telemetry.New(ctx, telemetry.Config{Endpoint: cfg.OTLPEndpoint, Exporter: o.traceExporter})
	if err != nil {
		return err
	}
	defer func() { // last, so it exports the spans of the shutdown too
		stopCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := tracing.Shutdown(stopCtx); err != nil {
			logger.Warn("tracing shutdown", "err", err)
		}
	}()
	kc, sc, err := providerClients(cfg, logger, o.snapcartCatalogTypes, tracing.HTTPClient(cfg.ProviderTimeout, providerTransport(cfg.Workers)))
	if err != nil {
		return err
	}
	pool, err := newPool(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	// API requests and callbacks get a pool of their own (a bulkhead): the
	// workers' small pool keeps the database from thrashing under a
	// backlog, and a request never queues behind fifty workers.
	apiPool, err := newPoolSized(ctx, cfg, cfg.APIMaxConns, poolAPI)
	if err != nil {
		return err
	}
	if o.onPools != nil {
		o.onPools(pool, apiPool)
	}
	defer apiPool.Close()
	db := stdlib.OpenDBFromPool(apiPool)
	defer db.Close()
	check := schemaCheck(db)

	// Workers need the schema; wait for it (a database that is down or not
	// yet migrated is not fatal: /readyz says so meanwhile).
	if err := check(ctx); err != nil {
		logger.Warn("database not ready at start; waiting", "reason", err.Error())
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	whPool, err := newPoolSized(ctx, cfg, webhookConns, poolWebhooks)
	if err != nil {
		return err
	}
	defer whPool.Close()
	if cfg.WebhookSecretKey == nil {
		logger.Warn("WEBHOOK_SECRET_KEY is not set: webhook endpoints cannot be created (the API answers 503) until it is")
	}
	wh, err := webhook.New(webhook.Config{
		Pool: whPool, SecretKey: cfg.WebhookSecretKey, Timeout: cfg.WebhookTimeout, Retention: cfg.WebhookRetention,
		AllowInsecure: cfg.WebhookAllowInsecure, AllowPrivate: cfg.WebhookAllowPrivate, Schedule: cfg.WebhookRetrySchedule,
		Workers: cfg.WebhookWorkers, Lease: cfg.JobTimeout, Logger: logger, Registerer: reg,
		WrapTransport: tracing.Transport,
	})
	if err != nil {
		return err
	}
	if o.onWebhooks != nil {
		o.onWebhooks(wh)
	}
	svc, err := flow.New(flow.Config{
		Pool:                 pool,
		APIPool:              apiPool,
		Providers:            providerSetups(cfg, kc, sc),
		Logger:               logger,
		Metrics:              flow.NewMetrics(reg),
		StatusDeadline:       cfg.StatusDeadline,
		PaymentRepeatMinAge:  cfg.PaymentRepeatMinAge,
		InquiryTTL:           cfg.InquiryTTL,
		InquiryRetryWindow:   cfg.InquiryRetryWindow,
		PriceRefreshWindow:   cfg.PriceRefreshWindow,
		FailoverRefusedAfter: cfg.FailoverRefusedAfter,
		ProviderTripAfter:    cfg.ProviderTripAfter,
		ProviderTripFor:      cfg.ProviderTripFor,
		PriceMaxAge:          cfg.PriceMaxAge,
		DuplicateWindow:      cfg.DuplicateWindow,
		LookupBackoff:        cfg.LookupBackoff,
		JobTimeout:           cfg.JobTimeout,
		RescueAfter:          cfg.RescueAfter,
		Workers:              cfg.Workers,
		StepFetchInterval:    cfg.StepFetchInterval,
		FetchCooldown:        cfg.FetchCooldown,
		JobRetention:         cfg.JobRetention,
		Periodic:             true,
		Middleware:           tracing.RiverMiddleware(),

		Outbox:     wh,
		Queues:     wh.Queues(),
		AddWorkers: wh.AddWorkers,
	})
	if err != nil {
		return err
	}
	registerOpsMetrics(reg, cfg, apiPool, logger)

	svc.River().PeriodicJobs().AddMany(wh.PeriodicJobs())

	api := httpapi.New(httpapi.Config{
		Logger: logger, Ready: check, Flow: svc, AdminToken: cfg.AdminToken,
		Recon:              func(ctx context.Context, o recon.Options) (*recon.Report, error) { return recon.Build(ctx, apiPool, o) },
		RateLimitPerClient: cfg.RateLimitPerClient, Registry: reg, Now: time.Now, KeyCacheTTL: cfg.KeyCacheTTL,
		MetricsElsewhere: cfg.MetricsAddr != "",

		Webhooks: wh,
	})
	con, err := newConsole(cfg, logger, apiPool, svc, wh, o.dev)
	if err != nil {
		return err
	}
	if err := con.Start(ctx); err != nil {
		return fmt.Errorf("console: %w", err)
	}
	handler := withConsole(api, con)
	if cfg.ConsoleAddr != "" {
		stopConsole, err := serveConsoleAlone(ctx, cfg.ConsoleAddr, con, logger)
		if err != nil {
			return err
		}
		defer stopConsole()
		handler = api
	}
	srv := httpapi.NewServer(cfg.HTTPAddr, tracing.Handler(handler))
	ln := o.listener
	if ln == nil {
		if ln, err = net.Listen("tcp", cfg.HTTPAddr); err != nil {
			return fmt.Errorf("HTTP_ADDR %s: %w", cfg.HTTPAddr, err)
		}
	}
	errc := make(chan error, 2)
	stopMetrics, err := serveMetrics(cfg, reg, logger, errc)
	if err != nil {
		return err
	}
	defer stopMetrics()
	go func() { errc <- fmt.Errorf("http server: %w", srv.Serve(ln)) }()
	defer func() {
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("http shutdown", "err", err)
		}
	}()

	// Start the workers once the schema is there.
	for {
		if err := check(ctx); err == nil {
			break
		}
		select {
		case <-ctx.Done():
			return nil
		case err := <-errc:
			return err
		case <-time.After(2 * time.Second):
		}
	}
	if o.beforeServe != nil {
		if err := o.beforeServe(ctx, pool, svc); err != nil {
			return err
		}
	}
	if err := svc.Start(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("start workers: %w", err)
	}
	defer func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), cfg.JobTimeout)
		defer cancel()
		if err := svc.Stop(stopCtx); err != nil {
			logger.Warn("workers did not stop in time; River rescues their jobs", "err", err)
		}
	}()
	logger.Info("serving", "addr", ln.Addr().String())
	if o.onReady != nil {
		o.onReady(ln.Addr().String())
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		logger.Info("shutting down")
		return nil
	}
}

// providerSetups is what the flow knows of each provider: its client, its
// callback verifier, its policy and its deposit alert level. A third
// aggregator is added here (and in providerClients), beside its package.
func providerSetups(cfg *config.Config, kc *klikoo.Client, sc *snapcart.Client) map[string]flow.ProviderSetup {
	snap := flow.ProviderSetup{Client: sc, Policy: snapcart.Policy, BalanceAlertBelow: cfg.SnapcartBalanceAlertBelow}
	if secret := []byte(cfg.SnapcartCallbackSecret); len(secret) > 0 {
		snap.VerifyCallback = func(body []byte, sig string) bool { return snapcart.VerifyCallback(secret, body, sig) }
	}
	return map[string]flow.ProviderSetup{
		klikoo.Name:   {Client: kc, Policy: klikoo.Policy, BalanceAlertBelow: cfg.KlikooBalanceAlertBelow},
		snapcart.Name: snap,
	}
}

// providerTransport is the provider clients' HTTP transport. It keeps as
// many idle connections per provider as there are workers, each of which
// may be in a call at once: with Go's default of two, a burst of calls
// opened a connection for nearly every call and closed it after, leaving
// sockets in TIME_WAIT (and, against a real provider, a TLS handshake per
// call).
func providerTransport(workers int) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 0 // no limit over all providers; MaxIdleConnsPerHost bounds each
	t.MaxIdleConnsPerHost = workers
	return t
}

// providerClients builds the Klikoo and Snapcart clients from configuration;
// both call through hc.
func providerClients(cfg *config.Config, logger *slog.Logger, extraTypes []string, hc *http.Client) (*klikoo.Client, *snapcart.Client, error) {
	pemBytes, err := os.ReadFile(cfg.KlikooPrivateKeyFile)
	if err != nil {
		return nil, nil, fmt.Errorf("KLIKOO_PRIVATE_KEY_FILE: %w", err)
	}
	key, err := klikoo.ParsePrivateKeyPEM(pemBytes)
	if err != nil {
		return nil, nil, fmt.Errorf("KLIKOO_PRIVATE_KEY_FILE: %w", err)
	}
	kc, err := klikoo.New(klikoo.Config{
		BaseURL: cfg.KlikooBaseURL, ClientID: cfg.KlikooClientID, ClientSecret: cfg.KlikooClientSecret,
		PrivateKey: key, HTTPClient: hc, Logger: logger,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("klikoo: %w", err)
	}
	sc, err := snapcart.New(snapcart.Config{
		BaseURL: cfg.SnapcartBaseURL, APIKey: cfg.SnapcartAPIKey, HTTPClient: hc, Logger: logger,
		CatalogTypes: append(append([]string{}, snapcart.CatalogTypes...), extraTypes...),
	})
	if err != nil {
		return nil, nil, fmt.Errorf("snapcart: %w", err)
	}
	return kc, sc, nil
}
