package httpapi_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ppob-orchestrator/orchestrator/internal/flowtest"
	"github.com/ppob-orchestrator/orchestrator/internal/httpapi"
)

// hardened is the API behind the product's own *http.Server (NewServer, with
// its timeouts), on a real listener, and a client's API key.
type hardened struct {
	fe   *flowtest.Env
	addr string
	key  string
}

func setupHardened(t *testing.T) *hardened {
	t.Helper()
	ct := newContract(t)
	fe := flowtest.Setup(t, flowtest.Options{NoStart: true})
	key, _ := newClient(t, fe, "hardening")
	h := ct.wrap(httpapi.New(httpapi.Config{
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Ready:  func(ctx context.Context) error { return fe.Pool.Ping(ctx) },
		Flow:   fe.Svc, AdminToken: adminToken,
		RateLimitPerClient: 100000, Registry: prometheus.NewRegistry(),
	}))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := httpapi.NewServer(ln.Addr().String(), h)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return &hardened{fe: fe, addr: ln.Addr().String(), key: key}
}

// servedQuickly checks that a plain request is answered within a second.
func (h *hardened) servedQuickly(t *testing.T, what string) {
	t.Helper()
	c := &http.Client{Timeout: time.Second}
	start := time.Now()
	res, err := c.Get("http://" + h.addr + "/healthz")
	if err != nil {
		t.Fatalf("%s: /healthz not answered within a second: %v", what, err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("%s: /healthz answered %d", what, res.StatusCode)
	}
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("%s: /healthz took %s", what, d)
	}
}

// cutOff waits for the server to close conn (reading whatever it answers
// first) and returns how long after since it happened, or fails after max.
func cutOff(t *testing.T, conn net.Conn, since time.Time, max time.Duration) (time.Duration, string) {
	t.Helper()
	_ = conn.SetReadDeadline(since.Add(max))
	got, err := io.ReadAll(conn)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("the server still held the connection %s later", max)
	}
	return time.Since(since), string(got)
}

// A client that sends its request headers one byte at a time is cut off at
// the read-header timeout (5 s), and many such clients at once do not keep
// the server from answering everybody else meanwhile.
func TestSlowHeadersAreCutOff(t *testing.T) {
	t.Parallel()
	h := setupHardened(t)
	const slow = 50
	start := time.Now()
	conns := make([]net.Conn, slow)
	var wg sync.WaitGroup
	for i := range conns {
		conn, err := net.Dial("tcp", h.addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		conns[i] = conn
		wg.Go(func() {
			header := "POST /v1/purchases HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + h.key + "\r\nX-Padding: " + strings.Repeat("a", 10000)
			for j := range len(header) {
				if _, err := conn.Write([]byte{header[j]}); err != nil {
					return // cut off
				}
				time.Sleep(100 * time.Millisecond)
			}
		})
	}
	for i := range 6 {
		time.Sleep(500 * time.Millisecond)
		h.servedQuickly(t, fmt.Sprintf("with %d slow-header clients, check %d", slow, i+1))
	}
	for i, conn := range conns {
		d, _ := cutOff(t, conn, start, 15*time.Second)
		if d > 10*time.Second {
			t.Errorf("slow-header client %d was cut off only after %s", i, d)
		}
	}
	wg.Wait()
	h.servedQuickly(t, "after the slow-header clients")
}

// A client that sends its headers and then never finishes its body is cut
// off at the read timeout (30 s): the server answers or closes, stores
// nothing, and serves other requests — including purchases — meanwhile.
func TestUnfinishedBodyIsCutOff(t *testing.T) {
	t.Parallel()
	h := setupHardened(t)
	const slow = 20
	start := time.Now()
	conns := make([]net.Conn, slow)
	for i := range conns {
		conn, err := net.Dial("tcp", h.addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		conns[i] = conn
		req := "POST /v1/purchases HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + h.key +
			"\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n" +
			fmt.Sprintf(`{"reference_id":"never-finished-%d","product_code":"S10",`, i)
		if _, err := conn.Write([]byte(req)); err != nil {
			t.Fatal(err)
		}
	}
	// Meanwhile a real purchase goes through.
	time.Sleep(time.Second)
	h.servedQuickly(t, "with unfinished bodies pending")
	c := &http.Client{Timeout: 2 * time.Second}
	req, _ := http.NewRequest(http.MethodPost, "http://"+h.addr+"/v1/purchases",
		strings.NewReader(`{"reference_id":"meanwhile","product_code":"S10","customer_number":"081234560001"}`))
	req.Header.Set("Authorization", "Bearer "+h.key)
	req.Header.Set("Content-Type", "application/json")
	res, err := c.Do(req)
	if err != nil {
		t.Fatalf("a purchase was not served while bodies were pending: %v", err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("a purchase made meanwhile answered %d", res.StatusCode)
	}
	for i, conn := range conns {
		d, answer := cutOff(t, conn, start, 45*time.Second)
		if d > 40*time.Second {
			t.Errorf("unfinished-body client %d was cut off only after %s", i, d)
		}
		if status := firstLine(answer); status != "" && !strings.Contains(status, " 4") {
			t.Errorf("unfinished-body client %d was answered %q, want a 4xx or nothing", i, status)
		}
	}
	all, err := h.fe.Q.PurchaseListAll(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 1 || all[0].ReferenceID != "meanwhile" {
		t.Errorf("stored %d purchases, want only the one made meanwhile", len(all))
	}
}

func firstLine(s string) string {
	line, _, _ := bufio.NewReader(strings.NewReader(s)).ReadLine()
	return string(line)
}

// A storm of invalid requests — concurrent, every kind of bad body, header
// and path — answers 4xx every time, never 5xx or 2xx, and stores nothing.
func TestInvalidRequestStormStoresNothing(t *testing.T) {
	t.Parallel()
	h := setupHardened(t)
	valid := `"reference_id":"storm","product_code":"S10","customer_number":"081234560001"`
	bodies := []string{
		``, `{`, `}`, `[]`, `null`, `"text"`, `42`, `{}`,
		`{` + valid + `}{}`, `{` + valid + `} garbage`, `{` + valid + `,"unknown":1}`,
		`{` + valid + `,"reference_id":"twice"}`, `{"reference_id":1,"product_code":"S10","customer_number":"081234560001"}`,
		`{"reference_id":"a b","product_code":"S10","customer_number":"081234560001"}`,
		`{"reference_id":"` + strings.Repeat("r", 101) + `","product_code":"S10","customer_number":"081234560001"}`,
		`{"reference_id":"storm","product_code":"NOPE","customer_number":"081234560001"}`,
		`{"reference_id":"storm","product_code":"S10"}`,
		`{"reference_id":"storm","product_code":"S10","customer_number":"08123\u0000"}`,
		"{\"reference_id\":\"storm\xff\",\"product_code\":\"S10\",\"customer_number\":\"081234560001\"}",
		`{` + valid + `,"max_price":"1000"}`, `{` + valid + `,"max_price":1.5}`, `{` + valid + `,"max_price":1e400}`,
		`{` + valid + `,"confirmation":"sometimes"}`, `{` + valid + `,"allow_repeat":"yes"}`,
		`{` + valid + `,"user_id":"P1","zone_id":"SEA"}`,
		`{"reference_id":"storm","product_code":"ML-DIAMONDS-86","customer_number":"081234560001"}`,
		`{` + valid + `,"x":` + strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + `}`,
		`{` + valid + `,"pad":"` + strings.Repeat("x", 70<<10) + `"}`,
	}
	type shot struct {
		method, path, contentType, token, body string
	}
	var shots []shot
	for _, b := range bodies {
		shots = append(shots, shot{"POST", "/v1/purchases", "application/json", h.key, b})
	}
	shots = append(shots,
		shot{"POST", "/v1/purchases", "text/plain", h.key, `{` + valid + `}`},
		shot{"POST", "/v1/purchases", "", h.key, `{` + valid + `}`},
		shot{"POST", "/v1/purchases", "application/json", "", `{` + valid + `}`},
		shot{"POST", "/v1/purchases", "application/json", "not-a-key", `{` + valid + `}`},
		shot{"POST", "/v1/purchases/not-a-uuid/confirm", "application/json", h.key, ``},
		shot{"POST", "/v1/purchases/00000000-0000-0000-0000-000000000000/cancel", "application/json", h.key, ``},
		shot{"GET", "/v1/purchases/not-a-uuid", "", h.key, ``},
		shot{"POST", "/admin/purchases/00000000-0000-0000-0000-000000000000/resolve", "application/json", adminToken, `{"status":"maybe"}`},
		shot{"POST", "/admin/purchases/00000000-0000-0000-0000-000000000000/resolve", "application/json", "wrong", `{}`},
	)
	const rounds = 40
	var mu sync.Mutex
	bad := map[string]int{}
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	client := &http.Client{Timeout: 10 * time.Second}
	for range rounds {
		for _, s := range shots {
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				req, err := http.NewRequest(s.method, "http://"+h.addr+s.path, strings.NewReader(s.body))
				if err != nil {
					mu.Lock()
					bad["build "+s.path+": "+err.Error()]++
					mu.Unlock()
					return
				}
				if s.contentType != "" {
					req.Header.Set("Content-Type", s.contentType)
				}
				if s.token != "" {
					req.Header.Set("Authorization", "Bearer "+s.token)
				}
				res, err := client.Do(req)
				if err != nil {
					mu.Lock()
					bad[fmt.Sprintf("%s %s: %v", s.method, s.path, err)]++
					mu.Unlock()
					return
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode < 400 || res.StatusCode > 499 {
					mu.Lock()
					bad[fmt.Sprintf("%s %s %.60q: HTTP %d", s.method, s.path, s.body, res.StatusCode)]++
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	for what, n := range bad {
		t.Errorf("%d× %s, want a 4xx", n, what)
	}
	ctx := context.Background()
	purchases, err := h.fe.Q.PurchaseListAll(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var events, jobs int
	if err := h.fe.Pool.QueryRow(ctx, "SELECT (SELECT count(*) FROM purchase_events), (SELECT count(*) FROM river_job WHERE kind NOT IN ('sweep','catalog','balance'))").Scan(&events, &jobs); err != nil {
		t.Fatal(err)
	}
	if len(purchases) != 0 || events != 0 || jobs != 0 {
		t.Errorf("after %d invalid requests: %d purchases, %d events, %d jobs stored; want none", rounds*len(shots), len(purchases), events, jobs)
	}
	h.servedQuickly(t, "after the storm")
}
