package state

import (
	"net/netip"
	"regexp"
	"strings"
)

// networkRef is a Hetzner network's name or ID as privateVIP.network
// takes it: it reaches only an API query, never a generated file.
var networkRef = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9._-]{0,62}[A-Za-z0-9])?$`)

// floatingIPs checks floatingIP and floatingIPs: one of them at most, and
// every Floating IP in them.
func (v *validator) floatingIPs() {
	s := v.s
	if s.FloatingIP != nil && s.FloatingIPs != nil {
		v.errorf("floatingIPs", "given together with floatingIP (expected one of them: floatingIPs, or floatingIP as the shorthand for a list of one)")
	}
	if s.FloatingIPs != nil && len(s.FloatingIPs) == 0 {
		v.errorf("floatingIPs", "empty (expected at least one {id, address}, or leave floatingIPs out)")
	}
	ids, addrs := map[string]string{}, map[string]string{}
	check := func(path string, f FloatingIPEntry) {
		if f.ID <= 0 {
			v.errorf(path+".id", "%d is not a Floating IP ID (expected the positive ID shown by `hcloud floating-ip list`)", f.ID)
		} else {
			v.unique(ids, path+".id", itoa64(f.ID), "Floating IP ID")
		}
		if v.floatingIPAddress(path+".address", f.Address) {
			v.uniqueAddr(addrs, path+".address", f.Address)
		}
		if f.Interface != "" && !ifaceName.MatchString(f.Interface) {
			v.errorf(path+".interface", "%q is not a network interface name (expected e.g. eth0)", f.Interface)
		}
		v.preferred(path+".preferred", f.Preferred)
	}
	if f := s.FloatingIP; f != nil {
		check("floatingIP", FloatingIPEntry{ID: f.ID, Address: f.Address, Interface: f.Interface, Preferred: f.Preferred})
		v.filePath("floatingIP.tokenFile", f.TokenFile)
	}
	for i, f := range s.FloatingIPs {
		check(indexed("floatingIPs", i), f)
	}
}

// floatingIPAddress checks the address of a Floating IP: an IPv4 address,
// or an address of an IPv6 Floating IP's /64 that a host can use. It
// reports whether the address is usable.
func (v *validator) floatingIPAddress(path, addr string) bool {
	if strings.Contains(addr, "/") {
		v.errorf(path, "%q is a prefix (expected the address to configure: the IPv4 Floating IP, or one address of an IPv6 Floating IP's /64, e.g. 2001:db8:1::1)", echo(addr))
		return false
	}
	if !v.ip(path, addr, "203.0.113.10") {
		return false
	}
	if isLoopback(addr) {
		v.notLoopback(path, addr, "it never leaves the machine, so clients cannot reach it (expected the Floating IP shown by `hcloud floating-ip list`, e.g. 203.0.113.10)")
		return false
	}
	a := netip.MustParseAddr(addr).Unmap()
	switch {
	case a.Is4():
	case a.IsLinkLocalUnicast():
		v.errorf(path, "%q is a link-local address (expected an address of the IPv6 Floating IP's /64, e.g. 2001:db8:1::1)", addr)
		return false
	case netip.PrefixFrom(a, 64).Masked().Addr() == a:
		v.errorf(path, "%q is the /64's subnet-router anycast address, not one a host may use (expected an address in the IPv6 Floating IP's /64, e.g. %s)", addr, a.Next())
		return false
	}
	return true
}

// privateVIP checks the private VIP: an RFC 1918 IPv4 address (Hetzner
// networks carry IPv4 only, and their routes lead to private ranges only)
// and the network by name or ID.
func (v *validator) privateVIP() {
	p := v.s.PrivateVIP
	if p == nil {
		return
	}
	const example = "10.0.255.1"
	if v.ip("privateVIP.address", p.Address, example) {
		a := netip.MustParseAddr(p.Address).Unmap()
		switch {
		case isLoopback(p.Address):
			v.notLoopback("privateVIP.address", p.Address, "nodes cannot reach it (expected an address of the Hetzner network's range outside its subnets, e.g. "+example+")")
		case !a.Is4() || !a.IsPrivate():
			v.errorf("privateVIP.address", "%q is not a private IPv4 address (expected an address of the Hetzner network's range outside its subnets, e.g. %s: the network carries IPv4, and its routes lead to RFC 1918 ranges only)", p.Address, example)
		}
	}
	switch {
	case p.Network == "":
		v.errorf("privateVIP.network", "missing (expected the Hetzner network's name or ID, as `hcloud network list` shows it)")
	case !networkRef.MatchString(p.Network):
		v.errorf("privateVIP.network", "%q is not a network name or ID (expected the Hetzner network's name or ID, as `hcloud network list` shows it)", echo(p.Network))
	}
	v.preferred("privateVIP.preferred", p.Preferred)
}

// preferred checks a preferred load balancer's name: one of loadBalancers.
func (v *validator) preferred(path, name string) {
	if name == "" {
		return
	}
	lbs := v.s.LoadBalancers
	for _, lb := range lbs {
		if lb.Name == name {
			return
		}
	}
	if len(lbs) == 0 {
		v.errorf(path, "%q names no load balancer: loadBalancers is empty (expected the name of one of loadBalancers)", echo(name))
		return
	}
	v.errorf(path, "%q is not a load balancer (expected one of %s)", echo(name), lbNames(lbs))
}

// instanceSizes checks that no VRRP instance moves more addresses than
// notify's exit code can name.
func (v *validator) instanceSizes() {
	for _, in := range v.s.VRRPInstances() {
		if in.Addresses() <= MaxInstanceAddresses {
			continue
		}
		path := "privateVIP"
		if len(in.FloatingIPs) > MaxInstanceAddresses {
			path = in.FloatingIPs[MaxInstanceAddresses].Path
		}
		v.errorf(path, "VRRP instance %s would move %d addresses (expected at most %d per instance: notify's exit code names each one that failed; give some of them another preferred load balancer)", in.Name, in.Addresses(), MaxInstanceAddresses)
	}
}

// privateVIPName is what messages call the private VIP.
const privateVIPName = "the private VIP"

// movingAddr is an address that follows the MASTER: a Floating IP or the
// private VIP, with its field path and what to call it in messages.
type movingAddr struct {
	path, addr, what string
}

// movingAddrs returns the usable addresses that follow the MASTER (IP
// addresses of a host, not loopback): an unusable one is reported where it
// is written, not again at every address it equals.
func (v *validator) movingAddrs() []movingAddr {
	var out []movingAddr
	add := func(path, addr, what string) {
		_, ip, isIP := canonical(addr)
		if isIP && ip.Zone() == "" && notAHost(ip) == "" && !ip.IsLoopback() {
			out = append(out, movingAddr{path: path, addr: addr, what: what})
		}
	}
	for i, f := range v.s.FloatingIPList() {
		add(v.s.FloatingIPPath(i)+".address", f.Address, "the Floating IP")
	}
	if p := v.s.PrivateVIP; p != nil {
		add("privateVIP.address", p.Address, privateVIPName)
	}
	return out
}

// movingOverlaps checks that the private VIP is no Floating IP (the
// Floating IPs are compared among themselves where they are listed), and
// that no address that follows the MASTER is a load balancer's own.
func (v *validator) movingOverlaps(moving []movingAddr) {
	for j, m := range moving {
		if m.what == privateVIPName {
			for _, other := range moving[:j] {
				if sameHost(m.addr, other.addr) {
					v.errorf(m.path, "address %s is already used by %s (expected an address of its own)", quoteAddr(m.addr), parent(other.path))
				}
			}
		}
		for i, lb := range v.s.LoadBalancers {
			if sameHost(m.addr, lb.Address) {
				v.errorf(m.path, "%s is the address of %s (%s): keepalived would add it to the MASTER and take it from that node (expected an address of neither load balancer%s)",
					quoteAddr(m.addr), indexed("loadBalancers", i), lb.Name, movingExample(m))
			}
		}
	}
}

func movingExample(m movingAddr) string {
	if m.what == privateVIPName {
		return ", e.g. 10.0.255.1"
	}
	return ", the Floating IP shown by `hcloud floating-ip list`"
}

// movingAt returns the address that follows the MASTER and is the same
// host as addr.
func movingAt(moving []movingAddr, addr string) (movingAddr, bool) {
	for _, m := range moving {
		if sameHost(m.addr, addr) {
			return m, true
		}
	}
	return movingAddr{}, false
}
