package chaos

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// The proxy sends a request whose backend refuses the connection to another
// backend, and never resends one that reached a backend that then died.
func TestProxyFailsOverOnlyBeforeTheRequestArrives(t *testing.T) {
	t.Parallel()
	var live, dying atomic.Int64
	good := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		live.Add(1)
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Backend", "good")
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write(b)
	}))
	defer good.Close()
	dead, err := FreeAddr() // nothing listens there
	if err != nil {
		t.Fatal(err)
	}
	p, err := StartProxy(dead, strings.TrimPrefix(good.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for i := range 10 {
		res, err := http.Post("http://"+p.Addr()+"/v1/purchases", "application/json", strings.NewReader(`{"n":1}`))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusCreated || string(b) != `{"n":1}` || res.Header.Get("X-Backend") != "good" {
			t.Fatalf("request %d: %d %s %v", i, res.StatusCode, b, res.Header)
		}
	}
	if live.Load() != 10 {
		t.Fatalf("the live backend got %d requests, want 10", live.Load())
	}

	// A backend that takes the request and dies without answering.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			dying.Add(1)
			buf := make([]byte, 4096)
			_, _ = c.Read(buf)
			c.Close()
		}
	}()
	live.Store(0)
	p2, err := StartProxy(ln.Addr().String(), strings.TrimPrefix(good.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer p2.Close()
	saw502 := false
	for range 4 {
		res, err := http.Post("http://"+p2.Addr()+"/v1/purchases", "application/json", strings.NewReader(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode == http.StatusBadGateway {
			saw502 = true
		}
	}
	if !saw502 || dying.Load() == 0 {
		t.Fatalf("a request lost by a dying backend was not answered 502 (dying backend saw %d)", dying.Load())
	}
	if live.Load()+dying.Load() != 4 {
		t.Errorf("4 requests reached backends %d times: a lost one was resent", live.Load()+dying.Load())
	}
}
