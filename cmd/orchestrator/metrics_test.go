package main

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ppob-orchestrator/orchestrator/internal/config"
	"github.com/ppob-orchestrator/orchestrator/internal/httpapi"
)

// freeAddr returns a loopback address nothing listens on (for a moment).
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// With METRICS_ADDR the metrics (the reconciliation gauges and the deposit
// alert levels included) and, with METRICS_PPROF, pprof are served there and
// only there: the API's listener answers 404 for both, and the metrics
// listener serves nothing of the API.
func TestMetricsOnTheirOwnListener(t *testing.T) {
	t.Parallel()
	addr := freeAddr(t)
	testService(t, map[string]string{"METRICS_ADDR": addr, "METRICS_PPROF": "true", "KLIKOO_BALANCE_ALERT_BELOW": "250000"}, serveOptions{},
		func(s *inProcess, cfg *config.Config) {
			metrics := "http://" + addr
			code, body := call(t, http.MethodGet, metrics+"/metrics", "", "")
			for _, want := range []string{"recon_up 1", `purchases_open{status="received"} 0`, `purchases_stuck{status="processing"} 0`,
				`provider_balance_alert_below_rupiah{provider="klikoo"} 250000`, "go_goroutines"} {
				if code != http.StatusOK || !strings.Contains(string(body), want) {
					t.Fatalf("METRICS_ADDR /metrics: %d, without %q", code, want)
				}
			}
			for _, path := range []string{"/debug/pprof/", "/debug/pprof/cmdline"} {
				if code, body := call(t, http.MethodGet, metrics+path, "", ""); code != http.StatusOK {
					t.Fatalf("METRICS_ADDR %s: %d %.200s", path, code, body)
				}
			}
			if code, _ := call(t, http.MethodGet, metrics+"/v1/products", "", ""); code != http.StatusNotFound {
				t.Fatalf("the metrics listener serves the API: /v1/products answered %d", code)
			}
			for _, path := range []string{"/metrics", "/debug/pprof/"} {
				if code, body := call(t, http.MethodGet, s.apiURL+path, "", ""); code != http.StatusNotFound || strings.Contains(string(body), "go_goroutines") {
					t.Fatalf("the API's listener answered %s with %d %.200s, want 404", path, code, body)
				}
			}
		})
}

// pprof is off unless asked for.
func TestMetricsHandlerWithoutPprof(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(httpapi.MetricsHandler(prometheus.NewRegistry(), false))
	t.Cleanup(srv.Close)
	for path, want := range map[string]int{"/metrics": http.StatusOK, "/debug/pprof/": http.StatusNotFound, "/debug/pprof/cmdline": http.StatusNotFound} {
		if code, _ := call(t, http.MethodGet, srv.URL+path, "", ""); code != want {
			t.Errorf("%s answered %d, want %d", path, code, want)
		}
	}
}
