package main

import (
	"context"
	"net"
	"net/netip"
	"os"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"
	"go.uber.org/zap"

	"github.com/hakgen/hakgen/hetzner"
	"github.com/hakgen/hakgen/preflight"
)

// checkPrivateVIP checks the private VIP against its network as the API
// shows it (one GET); offline it only says that it did not.
func (v *validation) checkPrivateVIP(ctx context.Context) {
	p := v.s.PrivateVIP
	if p == nil {
		return
	}
	if v.opts.offline {
		v.results = append(v.results, preflight.Result{Check: "private VIP", Status: preflight.Warn, Field: "privateVIP.network",
			Detail: "network " + p.Network + " is not read offline: the address is not checked against its range and subnets",
			Fix:    "run validate on a load balancer"})
		return
	}
	n, err := v.readNetwork(ctx, p.Network)
	if err != nil {
		v.results = append(v.results, preflight.Result{Check: "private VIP", Status: preflight.Fail, Field: "privateVIP.network",
			Detail: "cannot read network " + p.Network + " from the Hetzner API: " + err.Error()})
		return
	}
	v.results = append(v.results, preflight.PrivateVIP(v.s, n)...)
}

// readNetwork reads a network through the API, with the state's token and
// $HCLOUD_ENDPOINT as notify uses them.
func (v *validation) readNetwork(ctx context.Context, network string) (preflight.Network, error) {
	token, _, err := hetzner.LoadToken(tokenFileOf(v.s))
	if err != nil {
		return preflight.Network{}, err
	}
	eps, err := hetzner.EndpointsFromEnv(os.Getenv)
	if err != nil {
		return preflight.Network{}, err
	}
	ver, _ := buildVersion()
	c, err := hetzner.NewClient(hetzner.Config{Endpoint: eps.API, Token: token, Version: ver}, zap.NewNop())
	if err != nil {
		return preflight.Network{}, err
	}
	n, err := c.Network(ctx, network)
	if err != nil {
		return preflight.Network{}, err
	}
	return networkOf(n), nil
}

// networkOf is what the checks need of a network.
func networkOf(n *hcloud.Network) preflight.Network {
	out := preflight.Network{Name: n.Name, IPRange: prefixOf(n.IPRange)}
	for _, s := range n.Subnets {
		out.Subnets = append(out.Subnets, prefixOf(s.IPRange))
	}
	return out
}

// prefixOf converts a prefix of hcloud-go's; the zero Prefix for nil.
func prefixOf(n *net.IPNet) netip.Prefix {
	if n == nil {
		return netip.Prefix{}
	}
	a, _ := netip.AddrFromSlice(n.IP)
	ones, _ := n.Mask.Size()
	return netip.PrefixFrom(a.Unmap(), ones)
}
