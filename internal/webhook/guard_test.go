package webhook

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// Every range of docs/webhooks.md's SSRF guard is refused, also hidden in
// an IPv4-mapped, NAT64, 6to4 or IPv4-compatible IPv6 address; public
// addresses are not.
func TestJudge(t *testing.T) {
	t.Parallel()
	for addr, want := range map[string]string{
		"127.0.0.1": "loopback", "127.255.0.9": "loopback", "::1": "loopback",
		"10.1.2.3": "private", "172.16.0.1": "private", "172.31.255.255": "private", "192.168.1.1": "private", "fd00::1": "private",
		"169.254.169.254": "link-local", "fe80::1": "link-local",
		"100.64.0.1": "shared", "100.127.255.254": "shared",
		"198.18.0.1": "benchmark", "198.19.255.255": "benchmark",
		"240.0.0.1": "reserved", "255.255.255.255": "reserved",
		"0.0.0.0": "this-network", "0.1.2.3": "this-network", "::": "unspecified",
		"224.0.0.1": "multicast", "239.1.1.1": "multicast", "ff02::1": "multicast",
		"::ffff:127.0.0.1":   "loopback (embedded in ::ffff:127.0.0.1)",
		"::ffff:10.0.0.1":    "private (embedded in ::ffff:10.0.0.1)",
		"64:ff9b::a9fe:a9fe": "link-local (embedded in 64:ff9b::a9fe:a9fe)",
		"2002:7f00:1::1":     "loopback (embedded in 2002:7f00:1::1)",
		"2002:a00:1::":       "private (embedded in 2002:a00:1::)",
		"::7f00:1":           "loopback (embedded in ::7f00:1)",
		"fe80::1%eth0":       "link-local",
		"2001:db8::1":        "documentation",
		"2001:0:4136:e378::": "teredo",
		// Public: allowed.
		"8.8.8.8": "", "1.1.1.1": "", "172.32.0.1": "", "100.128.0.1": "", "198.20.0.1": "", "2606:4700::1111": "",
		"::ffff:8.8.8.8": "", "64:ff9b::808:808": "", "2002:808:808::": "",
	} {
		if got := judge(netip.MustParseAddr(addr)); got != want {
			t.Errorf("judge(%s) = %q, want %q", addr, got, want)
		}
	}
}

// countingServer is a real listener that counts the connections it accepts.
func countingServer(t *testing.T, network, addr string) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var conns atomic.Int64
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Skipf("cannot listen on %s %s: %v", network, addr, err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	srv.Listener.Close()
	srv.Listener = ln
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, &conns
}

// With private addresses forbidden, a name that resolves to a forbidden
// address is refused at dial time — no connection is made — and the
// attempt says why; allowing them, the same request arrives (the control
// that shows the check is what stops it).
func TestDialRefusesForbiddenAddresses(t *testing.T) {
	t.Parallel()
	v4, v4conns := countingServer(t, "tcp4", "127.0.0.1:0")
	_, port, _ := net.SplitHostPort(v4.Listener.Addr().String())
	resolver := StartDNS(t, map[string][]netip.Addr{
		"loopback.test.": {netip.MustParseAddr("127.0.0.1")},
		"mapped.test.":   {netip.MustParseAddr("::ffff:127.0.0.1")},
		"private.test.":  {netip.MustParseAddr("10.1.2.3")},
		"metadata.test.": {netip.MustParseAddr("169.254.169.254")},
		"zero.test.":     {netip.MustParseAddr("0.0.0.0")},
		"v6.test.":       {netip.MustParseAddr("::1")},
	})
	guarded := newSender(2*time.Second, false, resolver, nil)
	send := func(s *sender, host string) answer {
		return s.send(context.Background(), attemptRequest{URL: "http://" + net.JoinHostPort(host, port) + "/hook", ID: "msg_x", Timestamp: time.Now(), Signature: "v1,x", Body: []byte("{}")})
	}
	for host, want := range map[string]string{
		"loopback.test": "refused to connect to 127.0.0.1: a loopback address",
		"mapped.test":   "refused to connect to 127.0.0.1: a loopback address",
		"private.test":  "refused to connect to 10.1.2.3: a private address",
		"metadata.test": "refused to connect to 169.254.169.254: a link-local address",
		"zero.test":     "refused to connect to 0.0.0.0: a this-network address",
		"v6.test":       "refused to connect to ::1: a loopback address",
		"127.0.0.1":     "refused to connect to 127.0.0.1: a loopback address",
		"::1":           "refused to connect to ::1: a loopback address",
	} {
		a := send(guarded, host)
		if a.Status != 0 || !strings.Contains(a.Err, want) || !strings.Contains(a.Err, "WEBHOOK_ALLOW_PRIVATE") {
			t.Errorf("%s: status %d, error %q; want %q", host, a.Status, a.Err, want)
		}
	}
	if n := v4conns.Load(); n != 0 {
		t.Fatalf("the guarded sender connected %d times to 127.0.0.1", n)
	}
	open := newSender(2*time.Second, true, resolver, nil)
	if a := send(open, "loopback.test"); a.Status != http.StatusOK {
		t.Fatalf("with private addresses allowed: %+v", a)
	}
	if n := v4conns.Load(); n != 1 {
		t.Fatalf("with private addresses allowed the server saw %d connections, want 1", n)
	}
	var refused *RefusedError
	if err := guardControl("tcp4", "10.0.0.1:443", nil); !errors.As(err, &refused) || refused.Kind != "private" {
		t.Errorf("guardControl(10.0.0.1) = %v", err)
	}
	if err := guardControl("tcp4", "93.184.216.34:443", nil); err != nil {
		t.Errorf("guardControl(public) = %v", err)
	}
}
