package webhook

import (
	"fmt"
	"net"
	"net/netip"
	"syscall"
)

// blockedRange is a range of addresses a delivery never connects to unless
// WEBHOOK_ALLOW_PRIVATE is on, and what to call it in an attempt's error.
type blockedRange struct {
	prefix netip.Prefix
	kind   string
}

// blocked lists the ranges of docs/webhooks.md "SSRF guard": the addresses
// of the machine itself, of private and internal networks (cloud metadata
// services included) and the ones no public server has.
var blocked = func() []blockedRange {
	var out []blockedRange
	add := func(kind string, prefixes ...string) {
		for _, p := range prefixes {
			out = append(out, blockedRange{netip.MustParsePrefix(p), kind})
		}
	}
	add("this-network", "0.0.0.0/8")
	add("private", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")
	add("shared", "100.64.0.0/10")
	add("loopback", "127.0.0.0/8", "::1/128")
	add("link-local", "169.254.0.0/16", "fe80::/10")
	add("protocol-assignment", "192.0.0.0/24")
	add("documentation", "192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")
	add("benchmark", "198.18.0.0/15")
	add("multicast", "224.0.0.0/4", "ff00::/8")
	add("reserved", "240.0.0.0/4", "fec0::/10", "100::/64")
	add("unspecified", "::/128")
	// Local-use NAT64 (RFC 8215) leads into a local network; Teredo hides
	// an IPv4 address behind a relay.
	add("local-nat64", "64:ff9b:1::/48")
	add("teredo", "2001::/32")
	return out
}()

// IPv6 ranges that carry an IPv4 address, judged as that address.
var (
	nat64     = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour = netip.MustParsePrefix("2002::/16")
	v4Compat  = netip.MustParsePrefix("::/96")
)

// embeddedIPv4 returns the IPv4 address inside an IPv4-mapped, NAT64,
// 6to4 or IPv4-compatible IPv6 address.
func embeddedIPv4(a netip.Addr) (netip.Addr, bool) {
	switch {
	case a.Is4In6():
		return a.Unmap(), true
	case nat64.Contains(a):
		b := a.As16()
		return netip.AddrFrom4([4]byte(b[12:16])), true
	case sixToFour.Contains(a):
		b := a.As16()
		return netip.AddrFrom4([4]byte(b[2:6])), true
	case v4Compat.Contains(a) && a != netip.IPv6Unspecified() && a != netip.IPv6Loopback():
		b := a.As16()
		return netip.AddrFrom4([4]byte(b[12:16])), true
	}
	return netip.Addr{}, false
}

// judge returns what kind of forbidden address a is, or "" when a delivery
// may connect to it.
func judge(a netip.Addr) string {
	a = a.WithZone("")
	if v4, ok := embeddedIPv4(a); ok {
		if kind := judge(v4); kind != "" {
			return kind + " (embedded in " + a.String() + ")"
		}
		return ""
	}
	for _, r := range blocked {
		if r.prefix.Contains(a) {
			return r.kind
		}
	}
	return ""
}

// RefusedError is the error of an attempt whose address the SSRF guard
// refused: no connection was made.
type RefusedError struct {
	Addr netip.Addr
	Kind string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("refused to connect to %s: a %s address (WEBHOOK_ALLOW_PRIVATE is off)", e.Addr, e.Kind)
}

// guardControl is the net.Dialer's Control: it runs after name resolution,
// before connect(2), with the very address about to be dialled, so a name
// that resolves (or re-resolves) to a forbidden address is refused too.
func guardControl(_, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return fmt.Errorf("refused to connect to %q: %w", address, err)
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return fmt.Errorf("refused to connect to %q: not an IP address", address)
	}
	if kind := judge(a); kind != "" {
		return &RefusedError{Addr: a, Kind: kind}
	}
	return nil
}
