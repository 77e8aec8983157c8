package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ppob-orchestrator/orchestrator/internal/config"
	"github.com/ppob-orchestrator/orchestrator/internal/httpapi"
	"github.com/ppob-orchestrator/orchestrator/internal/providers/klikoo"
	"github.com/ppob-orchestrator/orchestrator/internal/providers/snapcart"
	"github.com/ppob-orchestrator/orchestrator/internal/recon"
)

// registerOpsMetrics registers, beside the flow's and the API's metrics,
// what the alert rules of deploy/prometheus read: the reconciliation
// gauges, read at scrape time through the API's pool (a scrape never waits
// for a worker's connection), and each provider's deposit alert level.
func registerOpsMetrics(reg *prometheus.Registry, cfg *config.Config, apiPool *pgxpool.Pool, logger *slog.Logger) {
	levels := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "provider_balance_alert_below_rupiah",
		Help: "The deposit level below which a provider's balance raises an alert (KLIKOO_/SNAPCART_BALANCE_ALERT_BELOW).",
	}, []string{"provider"})
	levels.WithLabelValues(klikoo.Name).Set(float64(cfg.KlikooBalanceAlertBelow))
	levels.WithLabelValues(snapcart.Name).Set(float64(cfg.SnapcartBalanceAlertBelow))
	reg.MustRegister(levels, recon.NewCollector(apiPool, recon.CollectorOptions{Logger: logger}))
}

// serveMetrics serves reg (and pprof when METRICS_PPROF) on METRICS_ADDR,
// apart from the API, until the returned stop is called; a failure of the
// server later goes to errc. Without METRICS_ADDR it serves nothing: the
// API's listener answers /metrics, as it always did.
func serveMetrics(cfg *config.Config, reg *prometheus.Registry, logger *slog.Logger, errc chan<- error) (stop func(), err error) {
	if cfg.MetricsAddr == "" {
		logger.Info("metrics are served on the API's listener; set METRICS_ADDR to keep them private")
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", cfg.MetricsAddr)
	if err != nil {
		return nil, fmt.Errorf("METRICS_ADDR %s: %w", cfg.MetricsAddr, err)
	}
	srv := httpapi.NewServer(cfg.MetricsAddr, httpapi.MetricsHandler(reg, cfg.MetricsPprof))
	go func() {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("metrics server: %w", err)
		}
	}()
	logger.Info("serving metrics", "addr", ln.Addr().String(), "pprof", cfg.MetricsPprof)
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}, nil
}
