package preflight

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/hakgen/hakgen/state"
)

// Network is a Hetzner network as the private VIP's checks see it.
type Network struct {
	Name    string
	IPRange netip.Prefix
	Subnets []netip.Prefix
}

// PrivateVIP checks the private VIP against its network as the API shows
// it: the address lies inside the network's range, where the nodes route
// it to the network, and outside every subnet, where the network's route
// for it can lead (a route's destination must not overlap a subnet). It
// also checks that each load balancer's address is in a subnet, since the
// route's gateway is the MASTER's address on the network.
func PrivateVIP(s *state.State, n Network) []Result {
	v := s.PrivateVIP
	if v == nil {
		return nil
	}
	check := "private VIP " + v.Address
	addr, err := netip.ParseAddr(v.Address)
	if err != nil {
		return nil // validation has reported it
	}
	addr = addr.Unmap()
	var results []Result
	switch {
	case !n.IPRange.Contains(addr):
		results = append(results, fail(check, "privateVIP.address",
			"pick an address inside "+n.IPRange.String()+" and outside its subnets",
			"%s is outside network %s's range %s: the nodes would not send it to the network", addr, n.Name, n.IPRange))
	default:
		inSubnet := ""
		for _, sub := range n.Subnets {
			if sub.Contains(addr) {
				inSubnet = sub.String()
			}
		}
		if inSubnet != "" {
			results = append(results, fail(check, "privateVIP.address",
				"pick an address of "+n.IPRange.String()+" that no subnet holds",
				"%s is inside subnet %s of network %s: the network takes no route to an address of a subnet", addr, inSubnet, n.Name))
		} else {
			results = append(results, pass(check, "privateVIP.address", "%s is inside network %s's range %s and outside its subnets (%s)", addr, n.Name, n.IPRange, prefixList(n.Subnets)))
		}
	}
	for i, lb := range s.LoadBalancers {
		a, err := netip.ParseAddr(lb.Address)
		if err != nil {
			continue
		}
		held := false
		for _, sub := range n.Subnets {
			held = held || sub.Contains(a.Unmap())
		}
		if !held {
			results = append(results, fail("load balancer "+lb.Name, fmt.Sprintf("loadBalancers[%d].address", i),
				"attach the load balancer to network "+n.Name+" (hcloud server attach-to-network)",
				"%s is in no subnet of network %s (%s): the route for the private VIP could not lead to it", lb.Address, n.Name, prefixList(n.Subnets)))
		}
	}
	return results
}

func prefixList(ps []netip.Prefix) string {
	if len(ps) == 0 {
		return "no subnets"
	}
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return strings.Join(out, ", ")
}
