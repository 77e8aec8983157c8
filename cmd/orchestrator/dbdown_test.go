package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ppob-orchestrator/orchestrator/internal/chaos"
	"github.com/ppob-orchestrator/orchestrator/internal/dbtest"
	"github.com/ppob-orchestrator/orchestrator/internal/flow"
	"github.com/ppob-orchestrator/orchestrator/internal/httpapi"
	"github.com/ppob-orchestrator/orchestrator/internal/pgcluster"
	"github.com/ppob-orchestrator/orchestrator/internal/sandbox"
	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

// PostgreSQL down when serve starts: serve says so clearly and keeps
// running, /healthz answers 200 and /readyz 503 naming the reason, again and
// again; when the database comes back, serve recovers by itself — /readyz
// turns 200 and its workers, started only now, complete a purchase.
func TestServeWaitsForTheDatabaseAndRecovers(t *testing.T) {
	t.Parallel()
	if _, err := pgcluster.FindBinaries(); err != nil {
		t.Fatalf("this test needs PostgreSQL's binaries: %v", err)
	}
	ctx := context.Background()
	bin := buildBinary(t)
	dir := t.TempDir()

	// A cluster of its own (the shared test server is never stopped),
	// migrated, then stopped before serve starts.
	cluster := dbtest.StartCluster(t, pgcluster.Start)
	conn, err := pgx.Connect(ctx, cluster.URL())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE orchestrator"); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	dbURL := strings.Replace(cluster.URL(), "/postgres?", "/orchestrator?", 1)

	pe := newProcEnv(t, dir, dbURL, "LOG_LEVEL=info")
	env, apiAddr, simURL := pe.env, pe.api, "http://"+pe.simK
	if out, err := runBin(bin, env, "migrate", "up"); err != nil {
		t.Fatalf("migrate up: %v\n%s", err, out)
	}
	if err := cluster.Stop(ctx); err != nil {
		t.Fatal(err)
	}

	sim, err := chaos.Start(bin, "sim", filepath.Join(dir, "sim.log"), env, "sim")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sim.Stop(5 * time.Second) })
	serve, err := chaos.Start(bin, "serve", filepath.Join(dir, "serve.log"), env, "serve")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = serve.Stop(10 * time.Second) })

	waitCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := chaos.WaitHTTP(waitCtx, "http://"+apiAddr+"/healthz"); err != nil {
		t.Fatalf("serve is not alive with the database down: %v\n%s", err, tail(serve.Log))
	}
	if err := chaos.WaitHTTP(waitCtx, simURL+"/_sim/ledger"); err != nil {
		t.Fatalf("simulators: %v\n%s", err, tail(sim.Log))
	}
	// /readyz keeps answering 503 with the reason while the database is down.
	for i := range 5 {
		code, body := get(t, "http://"+apiAddr+"/readyz")
		if code != http.StatusServiceUnavailable || !strings.Contains(body, "database unreachable") {
			t.Fatalf("/readyz #%d with the database down: %d %s, want 503 naming the database", i+1, code, body)
		}
		time.Sleep(500 * time.Millisecond)
	}
	if !serve.Running() {
		t.Fatalf("serve exited with the database down:\n%s", tail(serve.Log))
	}
	if log := tail(serve.Log); !strings.Contains(log, "database not ready at start; waiting") || !strings.Contains(log, "database unreachable") {
		t.Errorf("serve's log does not say clearly that it waits for the database:\n%s", log)
	}

	// The database comes back (same port); nobody touches serve.
	if err := cluster.Restart(ctx, "fast"); err != nil {
		t.Fatal(err)
	}
	readyCtx, cancelReady := context.WithTimeout(ctx, 60*time.Second)
	defer cancelReady()
	if err := chaos.WaitHTTP(readyCtx, "http://"+apiAddr+"/readyz"); err != nil {
		t.Fatalf("serve did not recover when the database came back: %v\n%s", err, tail(serve.Log))
	}

	// Its workers run: a purchase made now completes.
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	q := store.New(pool)
	if err := flow.SeedCatalog(ctx, q, sandbox.Catalog(), time.Now()); err != nil {
		t.Fatal(err)
	}
	key, hash, prefix, err := httpapi.NewAPIKey()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := q.ClientInsert(ctx, store.ClientInsertParams{ID: uuid.New(), Name: "recovery", KeyHash: hash, KeyPrefix: prefix, CreatedAt: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	body := `{"reference_id":"after-recovery","product_code":"S10","customer_number":"081234560001"}`
	req, _ := http.NewRequest(http.MethodPost, "http://"+apiAddr+"/v1/purchases", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var p struct{ ID, Status string }
	_ = json.NewDecoder(res.Body).Decode(&p)
	res.Body.Close()
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("POST /v1/purchases after recovery: %d", res.StatusCode)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		cur, err := q.PurchaseGetByID(ctx, uuid.MustParse(p.ID))
		if err != nil {
			t.Fatal(err)
		}
		if cur.Status == store.PurchaseStatusSucceeded {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the purchase made after recovery is still %s: the workers did not start\n%s", cur.Status, tail(serve.Log))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// procEnv is the environment of sim and serve processes on one database,
// with fresh credentials and free addresses.
type procEnv struct {
	env             []string
	api, simK, simS string // host:port
	creds           sandbox.Credentials
}

// newProcEnv builds a procEnv for dbURL; extra variables come last (and win).
func newProcEnv(t *testing.T, dir, dbURL string, extra ...string) procEnv {
	t.Helper()
	creds, err := sandbox.NewCredentials()
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, err := creds.PrivateKeyPEM()
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(dir, "klikoo.pem")
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	addr := func() string {
		a, err := chaos.FreeAddr()
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	e := procEnv{api: addr(), simK: addr(), simS: addr(), creds: creds}
	e.env = append([]string{
		"DATABASE_URL=" + dbURL, "HTTP_ADDR=" + e.api, "ADMIN_TOKEN=process-test-admin-token",
		"KLIKOO_BASE_URL=http://" + e.simK + "/klikoo-b2b", "KLIKOO_CLIENT_ID=" + creds.KlikooClientID,
		"KLIKOO_CLIENT_SECRET=" + creds.KlikooClientSecret, "KLIKOO_PRIVATE_KEY_FILE=" + keyFile,
		"SNAPCART_BASE_URL=http://" + e.simS, "SNAPCART_API_KEY=" + creds.SnapcartAPIKey,
		"SNAPCART_CALLBACK_SECRET=" + creds.SnapcartCallbackSecret,
		"SIM_KLIKOO_ADDR=" + e.simK, "SIM_SNAPCART_ADDR=" + e.simS, "CALLBACK_BASE_URL=http://" + e.api,
		"PROVIDER_TIMEOUT=1s", "JOB_TIMEOUT=4s", "RESCUE_AFTER=6s", "LOOKUP_BACKOFF=1s,2s,3s", "WEBHOOK_TIMEOUT=2s",
	}, extra...)
	return e
}

func runBin(bin string, env []string, args ...string) (string, error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	res, err := (&http.Client{Timeout: 5 * time.Second}).Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer res.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(res.Body)
	return res.StatusCode, strings.TrimSpace(b.String())
}
