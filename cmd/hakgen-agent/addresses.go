package main

import (
	"context"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/hakgen/hakgen/failover"
	"github.com/hakgen/hakgen/hetzner"
	"github.com/hakgen/hakgen/state"
)

// instancesOf returns the VRRP instances of s that event ev is for: every
// instance for the short form (notify MASTER, by hand); the one instance
// of a pair that has one, whatever name keepalived passes (a
// keepalived.conf rendered before the cluster was renamed still works);
// else the instance of that name.
func instancesOf(s *state.State, ev failover.Event) ([]state.VRRPInstance, error) {
	all := s.VRRPInstances()
	if ev.Kind == "" || len(all) == 1 {
		return all, nil
	}
	if in, ok := s.Instance(ev.Name); ok {
		return []state.VRRPInstance{in}, nil
	}
	return nil, fmt.Errorf("keepalived's %s %q is no VRRP instance of the state (it has %s): is keepalived.conf older than the state? hakgen-agent run rewrites it",
		strings.ToLower(ev.Kind), ev.Name, strings.Join(s.InstanceNames(), ", "))
}

// healInstance is the instance name a healer of in follows: its own, also
// while the pair has one instance, so that the record of an instance that
// is gone (DELETED after a rename, or after going back to one instance)
// never stands for it. A file written before records were kept per
// instance counts as its (Store.LatestFor).
func healInstance(_ *state.State, in state.VRRPInstance) string {
	return in.Name
}

// instanceAddrs are the addresses keepalived puts on this node while it is
// MASTER of the instances: their Floating IPs and private VIP.
func instanceAddrs(ins []state.VRRPInstance) []netip.Addr {
	var out []netip.Addr
	for _, in := range ins {
		for _, f := range in.FloatingIPs {
			out = append(out, netip.MustParseAddr(f.Address).Unmap())
		}
		if v := in.PrivateVIP; v != nil {
			out = append(out, netip.MustParseAddr(v.Address).Unmap())
		}
	}
	return out
}

// vipPrefix is the destination of the private VIP's route.
func vipPrefix(v *state.PrivateVIP) netip.Prefix {
	return netip.PrefixFrom(netip.MustParseAddr(v.Address).Unmap(), 32)
}

func floatingIPName(f state.InstanceFloatingIP) string {
	return "floating IP " + strconv.FormatInt(f.ID, 10) + " (" + f.Address + ")"
}

func privateVIPName(v *state.PrivateVIP) string {
	return "private VIP " + v.Address + " (network " + v.Network + ")"
}

// notifyTargets are what a MASTER run of the instances moves to this
// node, me, in order: each instance's Floating IPs, then its private VIP.
func notifyTargets(ins []state.VRRPInstance, c *hetzner.Client, me state.LoadBalancer) []failover.Target {
	var out []failover.Target
	for _, in := range ins {
		for _, f := range in.FloatingIPs {
			t := failover.FloatingIPTarget(f.ID, c)
			t.Name = floatingIPName(f)
			out = append(out, t)
		}
		if v := in.PrivateVIP; v != nil {
			gateway := netip.MustParseAddr(me.Address).Unmap()
			out = append(out, failover.Target{
				Key: failover.PrivateVIPKey, Name: privateVIPName(v), Moved: "private VIP routed to this server",
				Move: func(ctx context.Context, _ int64) (hetzner.Result, error) {
					return c.MoveRoute(ctx, v.Network, vipPrefix(v), gateway)
				},
			})
		}
	}
	return out
}

// routeHealTarget is the healer's view of the private VIP's route: it
// knows its holders by load balancer, by the route's gateway.
type routeHealTarget struct {
	client  *tokenClient
	vip     *state.PrivateVIP
	lbs     []state.LoadBalancer
	gateway netip.Addr // this node's private address
}

var _ failover.HealTarget = (*routeHealTarget)(nil)

func (r *routeHealTarget) Holder(ctx context.Context) (failover.Holder, error) {
	c, err := r.client.client()
	if err != nil {
		return failover.Holder{}, err
	}
	gw, err := c.RouteGateway(ctx, r.vip.Network, vipPrefix(r.vip))
	if err != nil || !gw.IsValid() {
		return failover.Holder{ByNode: true, Where: "no route"}, err
	}
	h := failover.Holder{ByNode: true, Where: "gateway " + gw.String()}
	for _, lb := range r.lbs {
		if a, err := netip.ParseAddr(lb.Address); err == nil && a.Unmap() == gw {
			h.Node, h.Server, h.Where = lb.Name, lb.ServerID, h.Where+" ("+lb.Name+")"
		}
	}
	return h, nil
}

func (r *routeHealTarget) Assign(ctx context.Context, _ int64) (hetzner.Result, error) {
	c, err := r.client.client()
	if err != nil {
		return hetzner.Result{}, err
	}
	return c.MoveRoute(ctx, r.vip.Network, vipPrefix(r.vip), r.gateway)
}

// healerConfigs are the healers of this node (index me in loadBalancers):
// one per address of every instance, each following its instance, with
// the peers ranked as that instance ranks them and confirm(address) as
// its Confirm.
func healerConfigs(s *state.State, me int, base failover.HealerConfig, client *tokenClient, confirm func(netip.Addr) func() error) []failover.HealerConfig {
	var out []failover.HealerConfig
	node := s.LoadBalancers[me]
	for _, in := range s.VRRPInstances() {
		cfg := base
		cfg.Instance, cfg.VRRPInstance, cfg.Node, cfg.Peers = healInstance(s, in), in.Name, node.Name, instancePeers(s, in, me)
		for _, f := range in.FloatingIPs {
			c := cfg
			c.FloatingIPID, c.Key, c.Name, c.Kind = f.ID, failover.FloatingIPKey(f.ID), floatingIPName(f), "floating IP"
			c.Target = failover.FloatingIPHealTarget(f.ID, client)
			c.Confirm = confirm(netip.MustParseAddr(f.Address).Unmap())
			out = append(out, c)
		}
		if v := in.PrivateVIP; v != nil {
			c := cfg
			c.Key, c.Name, c.Kind = failover.PrivateVIPKey, privateVIPName(v), "private VIP"
			c.Target = &routeHealTarget{client: client, vip: v, lbs: s.LoadBalancers, gateway: netip.MustParseAddr(node.Address).Unmap()}
			c.Confirm = confirm(netip.MustParseAddr(v.Address).Unmap())
			out = append(out, c)
		}
	}
	return out
}

// instancePeers are the load balancers other than the one at index me, for
// the healer's rule in a partition: above means before this node in the
// instance's order of preference.
func instancePeers(s *state.State, in state.VRRPInstance, me int) []failover.Peer {
	var peers []failover.Peer
	for j, lb := range s.LoadBalancers {
		if j == me {
			continue
		}
		stats, _ := s.NodeStatsURL(lb.Name)
		peers = append(peers, failover.Peer{Name: lb.Name, ServerID: lb.ServerID, Stats: stats, Above: in.Rank(j) < in.Rank(me)})
	}
	return peers
}
