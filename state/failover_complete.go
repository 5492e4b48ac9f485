package state

import (
	"net/netip"
	"slices"
	"time"
)

// MaxLoadBalancers is the most load balancers keepalived.conf is rendered
// for: VRRP priorities are spaced 10 apart, from 200 down.
const MaxLoadBalancers = 20

// VRRPv3 counts advertisement intervals in centiseconds, in 12 bits.
const (
	vrrp3Unit = 10 * time.Millisecond
	vrrp3Max  = 4095 * vrrp3Unit
)

// CompleteForNotify checks that the state has what `hakgen-agent notify`
// needs to move the addresses of the MASTER: a loadBalancers list to find
// this node in, and a Floating IP (floatingIP or floatingIPs) or the
// private VIP. The error joins one Problem per missing field, each naming
// it; nil when nothing is missing.
func (s *State) CompleteForNotify() error {
	v := &validator{s: s}
	v.needLoadBalancers(1)
	v.needFailoverAddress()
	sortProblems(v.problems)
	return v.problems.Err()
}

// CompleteForKeepalived checks that the state has what keepalived.conf is
// rendered from: two or more load balancers with IPv4 addresses (VRRP
// runs over the IPv4 private network), a Floating IP or the private VIP,
// every VRRP instance (see VRRPInstances) with an IPv4 address and a
// virtual router ID of its own, and a keepalived section whose
// advertInterval VRRP can carry. The error joins one Problem per missing
// or unusable field; nil when there is none.
func (s *State) CompleteForKeepalived() error {
	v := &validator{s: s}
	v.needLoadBalancers(2)
	for i, lb := range s.LoadBalancers {
		if a, err := netip.ParseAddr(lb.Address); err == nil && !a.Is4() {
			v.errorf(indexed("loadBalancers", i)+".address", "%s is not an IPv4 address (expected the load balancer's address on the private network: VRRP runs over IPv4 there)", lb.Address)
		}
	}
	if v.needFailoverAddress() {
		v.instancesRenderable()
	}
	if s.Keepalived == nil {
		v.errorf("keepalived", "missing (expected a keepalived section, e.g. {interface: enp7s0}, to render keepalived.conf)")
	} else {
		v.advertInterval(time.Duration(s.Keepalived.AdvertInterval))
	}
	sortProblems(v.problems)
	return v.problems.Err()
}

// instancesRenderable reports a VRRP instance keepalived cannot run as
// rendered: one without an IPv4 address (keepalived puts IPv6 addresses
// beside the IPv4 ones of an instance that runs over IPv4, and warns about
// an instance with none), or one whose virtual router ID would pass 255.
func (v *validator) instancesRenderable() {
	for _, in := range v.s.VRRPInstances() {
		if in.PrivateVIP == nil && !slices.ContainsFunc(in.FloatingIPs, func(f InstanceFloatingIP) bool { return !f.IPv6() }) {
			f := in.FloatingIPs[0]
			v.errorf(f.Path+".address", "%s is an IPv6 address, and VRRP instance %s has no IPv4 one (expected an IPv4 Floating IP or the private VIP with the same preferred load balancer: keepalived runs the instance over the IPv4 private network and needs an IPv4 address in it)", f.Address, in.Name)
		}
		if v.s.Keepalived != nil && in.VirtualRouterID > 255 {
			v.errorf("keepalived.virtualRouterID", "%d leaves no virtual router ID for VRRP instance %s (expected at most %d: the instance preferring loadBalancers[%d] takes keepalived.virtualRouterID + %d)",
				v.s.Keepalived.VirtualRouterID, in.Name, 255-in.Preferred, in.Preferred, in.Preferred)
		}
	}
}

// needLoadBalancers reports a loadBalancers list shorter than n.
func (v *validator) needLoadBalancers(n int) {
	lbs := v.s.LoadBalancers
	switch {
	case len(lbs) == 0:
		v.errorf("loadBalancers", "missing (expected the load balancers, preferred master first, e.g. [{name: lb1, address: 10.0.0.5}, {name: lb2, address: 10.0.0.6}])")
	case len(lbs) < n:
		v.errorf("loadBalancers", "%d load balancer (expected at least %d: keepalived needs a peer to fail over to)", len(lbs), n)
	case n > 1 && len(lbs) > MaxLoadBalancers:
		v.errorf("loadBalancers", "%d load balancers (expected at most %d)", len(lbs), MaxLoadBalancers)
	}
}

// needFailoverAddress reports a state with no address for the MASTER to
// hold; it returns whether there is one.
func (v *validator) needFailoverAddress() bool {
	if !v.s.HasFailoverAddress() {
		v.errorf("floatingIP", "missing (expected {id, address, tokenFile}: the Floating IP that follows the keepalived MASTER; or floatingIPs, or privateVIP)")
		return false
	}
	return true
}

// advertInterval reports an interval VRRP cannot carry exactly: version 2
// (used for whole seconds) counts seconds, version 3 (used otherwise)
// counts centiseconds up to 40.95 s.
func (v *validator) advertInterval(d time.Duration) {
	if d%time.Second == 0 {
		return // VRRPv2; validation already bounds it to 255 s
	}
	if d%vrrp3Unit != 0 || d > vrrp3Max {
		v.errorf("keepalived.advertInterval", "%s cannot be carried by VRRP (expected whole seconds up to 255s, or a multiple of 10ms up to 40950ms)", Duration(d))
	}
}
