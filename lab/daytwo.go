package lab

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/hakgen/hakgen/state"
)

// The day-two lab's own addresses: the public network's IPv6 side (the
// lab's, RFC 3849), where the IPv6 Floating IP is routed to a load
// balancer; the client's IPv6 address; and the node on the private
// segment only, which reaches the API through the private VIP.
var (
	GatewayV6    = netip.MustParseAddr("2001:db8:ffff::1")
	ClientAddrV6 = netip.MustParseAddr("2001:db8:c::10")
	// PrivateClientAddr is the address of the node that has only the
	// private network, as a Kubernetes node in it would.
	PrivateClientAddr = netip.MustParseAddr("10.0.0.31")
)

// publicV6PrefixLen is the length of the public network's IPv6 prefix.
const publicV6PrefixLen = 64

// FloatingIPPlan is one Floating IP of the lab's state.
type FloatingIPPlan struct {
	ID        int64
	Addr      netip.Addr // the address keepalived configures
	Preferred string     // the load balancer holding it in normal operation
}

// IPv6 reports whether the Floating IP is an IPv6 one.
func (f FloatingIPPlan) IPv6() bool { return f.Addr.Is6() }

// Routed is what the lab's network routes to a load balancer for it: the
// /32, or the /64 of an IPv6 Floating IP.
func (f FloatingIPPlan) Routed() netip.Prefix {
	if f.IPv6() {
		return netip.PrefixFrom(f.Addr, 64).Masked()
	}
	return netip.PrefixFrom(f.Addr, 32)
}

// Prefix is the Floating IP as the API shows it: the address, or the /64.
func (f FloatingIPPlan) Prefix() string { return f.Routed().String() }

// publicV6 is the IPv6 address of the i-th load balancer's public side.
func publicV6(i int) netip.Addr {
	a := GatewayV6.As16()
	a[15] += byte(i + 1)
	return netip.AddrFrom16(a)
}

// addState adds to the plan what a lab state names beyond the quick
// start's: every Floating IP (the first is FloatingIP) and the private VIP.
func (p *Plan) addState(stateYAML []byte) error {
	s, _, err := state.Parse("state.yaml", stateYAML)
	if err != nil {
		return fmt.Errorf("the lab's state: %w", err)
	}
	p.FloatingIPs = nil
	for i, f := range s.FloatingIPList() {
		a, err := netip.ParseAddr(f.Address)
		if err != nil {
			return fmt.Errorf("%s.address: %w", s.FloatingIPPath(i), err)
		}
		pref := f.Preferred
		if pref == "" {
			pref = p.LBs[0].Name
		}
		p.FloatingIPs = append(p.FloatingIPs, FloatingIPPlan{ID: f.ID, Addr: a.Unmap(), Preferred: pref})
	}
	if len(p.FloatingIPs) > 0 {
		p.FloatingIP, p.FloatingIPID = p.FloatingIPs[0].Addr, p.FloatingIPs[0].ID
	}
	if v := s.PrivateVIP; v != nil {
		if p.PrivateVIP, err = netip.ParseAddr(v.Address); err != nil {
			return fmt.Errorf("privateVIP.address: %w", err)
		}
		p.PrivateVIPNetwork = v.Network
	}
	return nil
}

// HasIPv6 reports whether a Floating IP of the plan is an IPv6 one.
func (p *Plan) HasIPv6() bool { return slices.ContainsFunc(p.FloatingIPs, FloatingIPPlan.IPv6) }

// FloatingIPByID returns the plan of Floating IP id.
func (p *Plan) FloatingIPByID(id int64) (FloatingIPPlan, bool) {
	for _, f := range p.FloatingIPs {
		if f.ID == id {
			return f, true
		}
	}
	return FloatingIPPlan{}, false
}

// The day-two states: the quick start's pair with IPv4 and IPv6
// Floating IPs, with a Floating IP preferring each node, and with the
// private VIP beside the Floating IP.
const (
	quickStartFloatingIP = "floatingIP: {id: 4711, address: 203.0.113.10, tokenFile: /etc/hakgen/hcloud-token, interface: eth0}"
	dualStackFloatingIPs = `hcloud: {tokenFile: /etc/hakgen/hcloud-token}
floatingIPs:
  - {id: 4711, address: 203.0.113.10, interface: eth0}
  - {id: 4712, address: "2001:db8:1::1", interface: eth0}`
	activeActiveFloatingIPs = `hcloud: {tokenFile: /etc/hakgen/hcloud-token}
floatingIPs:
  - {id: 4711, address: 203.0.113.10, interface: eth0}
  - {id: 4713, address: 203.0.113.11, interface: eth0, preferred: lb2}`
	privateVIPLine = "privateVIP: {address: 10.0.255.1, network: k8s}"
)

// DualStackState, ActiveActiveState and PrivateVIPState are LabState of
// the quick start with the day-two addresses of README.md in place of its
// one Floating IP (or beside it, for the private VIP).
func DualStackState(quickStart []byte) ([]byte, error) {
	return editQuickStart(quickStart, dualStackFloatingIPs)
}

// ActiveActiveState: see DualStackState.
func ActiveActiveState(quickStart []byte) ([]byte, error) {
	return editQuickStart(quickStart, activeActiveFloatingIPs)
}

// PrivateVIPState: see DualStackState.
func PrivateVIPState(quickStart []byte) ([]byte, error) {
	return editQuickStart(quickStart, quickStartFloatingIP+"\n"+privateVIPLine)
}

func editQuickStart(quickStart []byte, floating string) ([]byte, error) {
	out, err := Edit(bytes.Clone(quickStart), quickStartFloatingIP, floating)
	if err != nil {
		return nil, err
	}
	return LabState(out), nil
}

// buildDayTwoNetwork adds the public network's IPv6 side when a Floating
// IP is an IPv6 one, and the node on the private segment only when the
// plan has the private VIP.
func (l *Lab) buildDayTwoNetwork(ctx context.Context) error {
	p := l.Plan
	if p.HasIPv6() {
		if err := l.Internet.ipBatch(ctx,
			fmt.Sprintf("addr add %s/128 dev lo", ClientAddrV6),
			fmt.Sprintf("addr add %s/%d dev %s nodad", GatewayV6, publicV6PrefixLen, publicBridge),
		); err != nil {
			return err
		}
		for i, lb := range l.LBs {
			if err := lb.ipBatch(ctx,
				fmt.Sprintf("addr add %s/%d dev %s nodad", publicV6(i), publicV6PrefixLen, p.PublicIface),
				fmt.Sprintf("route add ::/0 via %s", GatewayV6),
			); err != nil {
				return err
			}
		}
	}
	if l.PrivateClient != nil {
		if err := l.plug(ctx, l.Private, privateBridge, l.PrivateClient, backendsIface); err != nil {
			return err
		}
		if err := l.PrivateClient.ipBatch(ctx, "link set lo up",
			fmt.Sprintf("addr add %s/%d dev %s", PrivateClientAddr, privatePrefixLen, backendsIface),
			"link set "+backendsIface+" up"); err != nil {
			return err
		}
	}
	for _, f := range p.FloatingIPs[1:] {
		if err := l.routeFloatingIP(ctx, f, l.lbNamed(f.Preferred)); err != nil {
			return err
		}
	}
	if len(p.FloatingIPs) > 1 {
		// A load balancer reaches the other's Floating IP through the
		// internet's routes, as through Hetzner's (drill's probe does).
		if _, err := l.Internet.Run(ctx, l.tools.Bash, "-c",
			"echo 1 > /proc/sys/net/ipv4/ip_forward && echo 1 > /proc/sys/net/ipv6/conf/all/forwarding"); err != nil {
			return err
		}
	}
	return nil
}

// lbNamed is the plan of the load balancer named name (the first when
// there is none of that name).
func (l *Lab) lbNamed(name string) LBPlan {
	if lb, ok := l.Plan.LB(name); ok {
		return lb
	}
	return l.Plan.LBs[0]
}

// routeFloatingIP points the internet's route for a Floating IP to a load
// balancer's public address of the same family, as Hetzner's network does
// once an assign is done.
func (l *Lab) routeFloatingIP(ctx context.Context, f FloatingIPPlan, lb LBPlan) error {
	via := lb.Public
	if f.IPv6() {
		via = lb.PublicV6
	}
	return l.Internet.ipBatch(ctx, fmt.Sprintf("route replace %s via %s", f.Routed(), via))
}

// RouteOf is the public address the internet routes a Floating IP to now.
func (l *Lab) RouteOf(ctx context.Context, f FloatingIPPlan) (netip.Addr, error) {
	family := "-4"
	if f.IPv6() {
		family = "-6"
	}
	out, err := l.Internet.Run(ctx, l.tools.IP, family, "route", "show", f.Routed().String())
	if err != nil {
		return netip.Addr{}, err
	}
	return viaOf(out)
}

// WaitRouted waits until Floating IP f is assigned to lb and routed to it.
func (l *Lab) WaitRouted(ctx context.Context, f FloatingIPPlan, lb *LB) error {
	for {
		if l.API.Owner(f.ID) == lb.Plan.ServerID {
			via, err := l.RouteOf(ctx, f)
			if err == nil && (via == lb.Plan.Public || via == lb.Plan.PublicV6) {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("Floating IP %d (%s) never moved to %s: %w", f.ID, f.Addr, lb.Name, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}
