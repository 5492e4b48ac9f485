package state

import (
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
)

// canonical returns the form of a host address that comparisons use: an
// IP address unmapped (::ffff:10.0.0.11 is 10.0.0.11) and in its shortest
// form (fd00:0:0::11 is fd00::11), a DNS name in lower case without a final
// dot. ip is the parsed address when addr is one.
func canonical(addr string) (key string, ip netip.Addr, isIP bool) {
	if a, err := netip.ParseAddr(addr); err == nil {
		a = a.Unmap()
		return a.String(), a, true
	}
	return strings.ToLower(strings.TrimSuffix(addr, ".")), netip.Addr{}, false
}

// sameHost reports whether two addresses as written name the same host.
func sameHost(a, b string) bool {
	ka, _, _ := canonical(a)
	kb, _, _ := canonical(b)
	return a != "" && b != "" && ka == kb
}

var limitedBroadcast = netip.AddrFrom4([4]byte{255, 255, 255, 255})

// notAHost says why an IP address cannot be the address of one host: the
// unspecified address means "any" (a connection to it reaches this very
// machine), a multicast or broadcast address means many. It returns ""
// for an address that can be a host's.
func notAHost(a netip.Addr) string {
	switch a = a.Unmap(); {
	case a.IsUnspecified():
		return "the unspecified address (it means any address; a connection to it reaches this machine itself)"
	case a.IsMulticast():
		return "a multicast address (it names a group of hosts)"
	case a == limitedBroadcast:
		return "the broadcast address (it names every host of the network)"
	}
	return ""
}

// isLoopback reports whether addr is a loopback address of whatever
// machine uses it: 127.0.0.0/8, ::1, or the DNS name localhost (RFC 6761
// reserves it and every name under it for loopback).
func isLoopback(addr string) bool {
	key, ip, isIP := canonical(addr)
	if isIP {
		return ip.IsLoopback()
	}
	return key == "localhost" || strings.HasSuffix(key, ".localhost")
}

// quoteAddr quotes an address as written, adding its canonical form when
// it differs: "fd00:0:0::11" (fd00::11).
func quoteAddr(addr string) string {
	key, _, isIP := canonical(addr)
	if isIP && key != addr {
		return strconv.Quote(addr) + " (" + key + ")"
	}
	return strconv.Quote(addr)
}

// uniqueAddr reports addr when an earlier entry of the same list has the
// same address in canonical form.
func (v *validator) uniqueAddr(seen map[string]string, path, addr string) {
	key, _, _ := canonical(addr)
	if first, dup := seen[key]; dup {
		v.errorf(path, "address %s is already used by %s (expected each address once)", quoteAddr(addr), first)
		return
	}
	seen[key] = parent(path)
}

// address checks the address of a backend server: an IP address of one
// host, or a DNS name. It reports whether the address is usable.
func (v *validator) address(path, addr string) bool {
	if !IsAddress(addr) {
		v.errorf(path, "%q is not an IPv4 or IPv6 address or DNS name (expected e.g. 10.0.0.21, fd00::21 or node1.example.com)", addr)
		return false
	}
	if _, ip, isIP := canonical(addr); isIP {
		if why := notAHost(ip); why != "" {
			v.errorf(path, "%q is %s, not a server's (expected e.g. 10.0.0.21, fd00::21 or node1.example.com)", addr, why)
			return false
		}
	}
	return true
}

// ip checks the IP address of one host; example is a good one for the
// message. It reports whether the address is usable.
func (v *validator) ip(path, addr, example string) bool {
	a, err := netip.ParseAddr(addr)
	if err != nil || a.Zone() != "" {
		v.errorf(path, "%q is not an IPv4 or IPv6 address (expected e.g. %s)", addr, example)
		return false
	}
	if why := notAHost(a); why != "" {
		v.errorf(path, "%q is %s, not a host's (expected e.g. %s)", addr, why, example)
		return false
	}
	return true
}

var dnsName = regexp.MustCompile(`^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.?$`)
var allDigits = regexp.MustCompile(`^[0-9]+$`)

// IsAddress reports whether addr is an IP address without zone or a DNS name
// whose last label is not all digits (so a mistyped IPv4 address is not
// taken for a name).
func IsAddress(addr string) bool {
	if a, err := netip.ParseAddr(addr); err == nil {
		return a.Zone() == ""
	}
	if len(addr) > 253 || !dnsName.MatchString(addr) {
		return false
	}
	labels := strings.Split(strings.TrimSuffix(addr, "."), ".")
	return !allDigits.MatchString(labels[len(labels)-1])
}

// SplitBind splits a stats bind address ("10.0.0.5:8404", "[fd00::5]:8404",
// ":8404" or "*:8404") into host and port. The host is empty or an IP address.
func SplitBind(bind string) (host string, port int, err error) {
	h, p, err := net.SplitHostPort(bind)
	if err != nil {
		return "", 0, fmt.Errorf("%q is not an address and port", bind)
	}
	if h == "*" {
		h = ""
	}
	if a, err := netip.ParseAddr(h); h != "" && (err != nil || a.Zone() != "") {
		return "", 0, fmt.Errorf("%q is not an IP address", h)
	}
	port, err = strconv.Atoi(p)
	if err != nil {
		return "", 0, fmt.Errorf("%q is not a port number", p)
	}
	return h, port, nil
}

// IsWildcard reports whether a bind host listens on every address.
func IsWildcard(host string) bool {
	a, err := netip.ParseAddr(host)
	return host == "" || (err == nil && a.Unmap().IsUnspecified())
}
