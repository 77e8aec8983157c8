package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/ppob-orchestrator/orchestrator/internal/config"
	"github.com/ppob-orchestrator/orchestrator/internal/providers/klikoo"
	"github.com/ppob-orchestrator/orchestrator/internal/sandbox"
)

// runSim serves both provider simulators until ctx is done, with the
// credentials of the KLIKOO_* and SNAPCART_* variables (the Klikoo simulator
// derives its public key from KLIKOO_PRIVATE_KEY_FILE), so that `sim` and
// `serve` started with one environment agree.
func runSim(ctx context.Context, cfg *config.Config, args []string, logger *slog.Logger, stdout io.Writer) error {
	fs := flag.NewFlagSet("sim", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var o sandbox.Options
	fs.DurationVar(&o.SlowAnswer, "slow-answer", 0, "how long slow scenarios (31, 32, 35, 14) hold an answer (default 15s)")
	fs.DurationVar(&o.IndexLag, "index-lag", 0, "how long scenario 35 stays invisible to lookups (default 60s)")
	fs.DurationVar(&o.CallbackDelay, "callback-delay", 0, "from acceptance to the first callback (default 2s; scenario 01 calls back at once)")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("sim: %w (flags: --slow-answer, --index-lag, --callback-delay)", err)
	}
	for name, d := range map[string]time.Duration{"--slow-answer": o.SlowAnswer, "--index-lag": o.IndexLag, "--callback-delay": o.CallbackDelay} {
		if d < 0 {
			return fmt.Errorf("sim: %s must not be negative", name)
		}
	}
	if err := cfg.Require("KLIKOO_CLIENT_ID", "KLIKOO_CLIENT_SECRET", "KLIKOO_PRIVATE_KEY_FILE", "SNAPCART_API_KEY"); err != nil {
		return err
	}
	creds, err := credentialsFromConfig(cfg)
	if err != nil {
		return err
	}
	o.CallbackBaseURL = cfg.CallbackBaseURL
	o.Logger = logger
	sims, err := startSims(ctx, cfg, creds, o, logger)
	if err != nil {
		return err
	}
	defer sims.stop()
	fmt.Fprintf(stdout, "simulators ready: Klikoo %s/klikoo-b2b, Snapcart %s\n", sims.klikooURL, sims.snapcartURL)
	<-ctx.Done()
	return nil
}

// credentialsFromConfig reads the provider credentials of the environment.
func credentialsFromConfig(cfg *config.Config) (sandbox.Credentials, error) {
	pemBytes, err := os.ReadFile(cfg.KlikooPrivateKeyFile)
	if err != nil {
		return sandbox.Credentials{}, fmt.Errorf("KLIKOO_PRIVATE_KEY_FILE: %w", err)
	}
	key, err := klikoo.ParsePrivateKeyPEM(pemBytes)
	if err != nil {
		return sandbox.Credentials{}, fmt.Errorf("KLIKOO_PRIVATE_KEY_FILE: %w", err)
	}
	return sandbox.Credentials{
		KlikooClientID: cfg.KlikooClientID, KlikooClientSecret: cfg.KlikooClientSecret, KlikooPrivateKey: key,
		SnapcartAPIKey: cfg.SnapcartAPIKey, SnapcartCallbackSecret: cfg.SnapcartCallbackSecret,
	}, nil
}

// runningSims are the simulators serving on SIM_KLIKOO_ADDR and SIM_SNAPCART_ADDR.
type runningSims struct {
	sims                   *sandbox.Sims
	servers                []*http.Server
	klikooURL, snapcartURL string
}

func startSims(ctx context.Context, cfg *config.Config, creds sandbox.Credentials, o sandbox.Options, logger *slog.Logger) (*runningSims, error) {
	sims, err := sandbox.NewSims(creds, o)
	if err != nil {
		return nil, err
	}
	r := &runningSims{sims: sims}
	for _, s := range []struct {
		name, addr string
		h          http.Handler
		url        *string
	}{
		{"SIM_KLIKOO_ADDR", cfg.SimKlikooAddr, sims.Klikoo, &r.klikooURL},
		{"SIM_SNAPCART_ADDR", cfg.SimSnapcartAddr, sims.Snapcart, &r.snapcartURL},
	} {
		ln, err := net.Listen("tcp", s.addr)
		if err != nil {
			r.stop()
			return nil, fmt.Errorf("%s %s: %w", s.name, s.addr, err)
		}
		srv := &http.Server{Handler: s.h, ReadHeaderTimeout: 5 * time.Second}
		r.servers = append(r.servers, srv)
		*s.url = "http://" + ln.Addr().String()
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				logger.Error("simulator server", "addr", s.addr, "err", err)
			}
		}()
	}
	return r, nil
}

func (r *runningSims) stop() {
	for _, s := range r.servers {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = s.Shutdown(ctx)
		cancel()
	}
	r.sims.Close()
}
