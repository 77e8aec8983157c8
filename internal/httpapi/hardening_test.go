package httpapi_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
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

// served checks that a plain request is answered 200, within a deadline
// generous for a loaded machine: whether it was served while slow
// clients were still connected is for the caller to check (slowClients).
func (h *hardened) served(t *testing.T, what string) {
	t.Helper()
	c := &http.Client{Timeout: 30 * time.Second}
	res, err := c.Get("http://" + h.addr + "/healthz")
	if err != nil {
		t.Fatalf("%s: /healthz not answered: %v", what, err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("%s: /healthz answered %d", what, res.StatusCode)
	}
}

// slowClients watches connections the server should cut off: each is read
// until the server closes it, and what it answered first is kept.
type slowClients struct {
	cut     atomic.Int32
	answers []chan string
}

func watch(conns []net.Conn) *slowClients {
	w := &slowClients{answers: make([]chan string, len(conns))}
	for i, conn := range conns {
		w.answers[i] = make(chan string, 1)
		go func() {
			got, _ := io.ReadAll(conn)
			w.cut.Add(1)
			w.answers[i] <- string(got)
		}()
	}
	return w
}

// pending reports whether none of the connections was cut off yet.
func (w *slowClients) pending() bool { return w.cut.Load() == 0 }

// wait waits until the server has closed every connection, failing after
// d (generous: the server's own timeouts are what cut them off), and
// returns what each was answered.
func (w *slowClients) wait(t *testing.T, d time.Duration, what string) []string {
	t.Helper()
	deadline := time.After(d)
	out := make([]string, len(w.answers))
	for i, a := range w.answers {
		select {
		case out[i] = <-a:
		case <-deadline:
			t.Fatalf("%s: the server still held %d of %d connections after %s", what, len(w.answers)-int(w.cut.Load()), len(w.answers), d)
		}
	}
	return out
}

// The server cuts off clients by its own timeouts: headers must arrive
// within 5 s, a whole request within 30 s (the tests below show both
// happen; these are the values they happen at).
func TestServerTimeouts(t *testing.T) {
	t.Parallel()
	srv := httpapi.NewServer("127.0.0.1:0", http.NotFoundHandler())
	if srv.ReadHeaderTimeout != 5*time.Second || srv.ReadTimeout != 30*time.Second || srv.WriteTimeout == 0 || srv.IdleTimeout == 0 {
		t.Fatalf("timeouts: read header %s, read %s, write %s, idle %s", srv.ReadHeaderTimeout, srv.ReadTimeout, srv.WriteTimeout, srv.IdleTimeout)
	}
}

// A client that sends its request headers one byte at a time is cut off
// at the read-header timeout, and many such clients at once do not keep the
// server from answering everybody else while they are connected.
func TestSlowHeadersAreCutOff(t *testing.T) {
	t.Parallel()
	h := setupHardened(t)
	const slow = 50
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
				time.Sleep(100 * time.Millisecond) // the client's pace, not a wait
			}
		})
	}
	watched := watch(conns)
	// Others are served while every slow client is still connected.
	servedMeanwhile := 0
	for watched.pending() && servedMeanwhile < 5 {
		h.served(t, fmt.Sprintf("with %d slow-header clients, check %d", slow, servedMeanwhile+1))
		if watched.pending() {
			servedMeanwhile++
		}
	}
	if servedMeanwhile == 0 {
		t.Fatal("no request was answered before the slow-header clients were cut off")
	}
	watched.wait(t, 2*time.Minute, "slow headers")
	wg.Wait()
	h.served(t, "after the slow-header clients")
}

// A client that sends its headers and then never finishes its body is cut
// off at the read timeout: the server answers 4xx or closes, stores
// nothing, and serves other requests — purchases included — meanwhile.
func TestUnfinishedBodyIsCutOff(t *testing.T) {
	t.Parallel()
	h := setupHardened(t)
	const slow = 20
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
	watched := watch(conns)
	// Meanwhile a real purchase goes through.
	h.served(t, "with unfinished bodies pending")
	c := &http.Client{Timeout: 30 * time.Second}
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
	if !watched.pending() {
		t.Fatal("the purchase was answered only after the unfinished bodies were cut off")
	}
	for i, answer := range watched.wait(t, 3*time.Minute, "unfinished bodies") {
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
	h.served(t, "after the storm")
}
