package main

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"sync"
	"sync/atomic"
	"testing"
)

// Calls made at once keep their connections, and the next calls reuse them:
// the provider clients' transport keeps an idle connection per worker, so
// many workers calling a provider do not open (and close) a connection per
// call. Go's default transport, which keeps two, is the control.
func TestProviderTransportKeepsAConnectionPerWorker(t *testing.T) {
	t.Parallel()
	const workers = 16
	var opened atomic.Int32
	var arrived sync.WaitGroup
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Every call of a round is in flight at once: each holds its
		// connection until all have arrived.
		arrived.Done()
		arrived.Wait()
		_, _ = io.WriteString(w, "ok")
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			opened.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)

	// round makes workers calls at once and returns how many connections
	// the transport kept idle afterwards, once it has put back (or closed)
	// every one.
	round := func(c *http.Client) (kept int32) {
		t.Helper()
		arrived.Add(workers)
		var done, returned sync.WaitGroup
		returned.Add(workers)
		var k atomic.Int32
		trace := &httptrace.ClientTrace{PutIdleConn: func(err error) {
			if err == nil {
				k.Add(1)
			}
			returned.Done()
		}}
		for range workers {
			done.Go(func() {
				req, err := http.NewRequestWithContext(httptrace.WithClientTrace(t.Context(), trace), http.MethodGet, srv.URL, nil)
				if err != nil {
					t.Error(err)
					return
				}
				res, err := c.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, res.Body)
				_ = res.Body.Close()
			})
		}
		done.Wait()
		returned.Wait()
		return k.Load()
	}
	for _, tc := range []struct {
		name      string
		transport *http.Transport
		kept      int32
	}{
		{"provider transport", providerTransport(workers), workers},
		{"Go's default", http.DefaultTransport.(*http.Transport).Clone(), 2},
	} {
		c := &http.Client{Transport: tc.transport}
		if kept := round(c); kept != tc.kept {
			t.Errorf("%s: kept %d of %d connections, want %d", tc.name, kept, workers, tc.kept)
		}
		before := opened.Load()
		round(c)
		if got, want := opened.Load()-before, workers-tc.kept; got != want {
			t.Errorf("%s: the next calls opened %d connections, want %d", tc.name, got, want)
		}
		tc.transport.CloseIdleConnections()
	}
}
