package chaos

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// Proxy is the load balancer in front of the serve processes: it sends each
// request to the next backend in turn and, when a backend refuses the
// connection (it is dead or restarting), to the other ones. A request that
// reached a backend which then died is answered 502 and never resent: the
// client retries it, as a real client behind a real balancer would. Both the
// chaos run's API client and the simulators' callbacks go through it.
type Proxy struct {
	backends []string // host:port
	next     atomic.Uint64
	tr       *http.Transport
	srv      *http.Server
	ln       net.Listener
}

// maxProxiedBody bounds a proxied request body (the API takes 64 KiB).
const maxProxiedBody = 1 << 20

// StartProxy listens on a free loopback port and proxies to backends.
func StartProxy(backends ...string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{
		backends: backends,
		tr: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: time.Second}).DialContext,
			MaxIdleConnsPerHost: 64,
			IdleConnTimeout:     30 * time.Second,
		},
		ln: ln,
	}
	p.srv = &http.Server{Handler: p, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = p.srv.Serve(ln) }()
	return p, nil
}

// Addr returns the proxy's host:port.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Close stops the proxy.
func (p *Proxy) Close() error {
	err := p.srv.Close()
	p.tr.CloseIdleConnections()
	return err
}

// ServeHTTP forwards r to a live backend.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxProxiedBody))
	if err != nil {
		http.Error(w, "proxy: read request: "+err.Error(), http.StatusBadGateway)
		return
	}
	start := p.next.Add(1)
	var last error
	for i := range len(p.backends) {
		b := p.backends[(int(start)+i)%len(p.backends)]
		out, err := http.NewRequestWithContext(r.Context(), r.Method, "http://"+b+r.URL.RequestURI(), bytes.NewReader(body))
		if err != nil {
			http.Error(w, "proxy: "+err.Error(), http.StatusBadGateway)
			return
		}
		out.Header = r.Header.Clone()
		res, err := p.tr.RoundTrip(out)
		if err != nil {
			last = err
			if refused(err) {
				continue
			}
			break
		}
		defer res.Body.Close()
		for k, v := range res.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(res.StatusCode)
		_, _ = io.Copy(w, res.Body)
		return
	}
	http.Error(w, "proxy: no backend answered: "+errString(last), http.StatusBadGateway)
}

// refused reports whether err means the request never reached a backend,
// so it is safe to send it to another.
func refused(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

func errString(err error) string {
	if err == nil {
		return "no backends"
	}
	return err.Error()
}
