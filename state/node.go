package state

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// FindNode returns the index in lbs of the load balancer this machine is.
// With name set it is the load balancer of that name. Otherwise it is the
// one whose address is among local, this machine's own addresses (see
// LocalAddrs); exactly one must match. Errors say what was looked for and
// how to pick the node by name instead.
func FindNode(lbs []LoadBalancer, name string, local []netip.Addr) (int, error) {
	if len(lbs) == 0 {
		return -1, fmt.Errorf("the state lists no loadBalancers to find this node in")
	}
	if name != "" {
		for i, lb := range lbs {
			if lb.Name == name {
				return i, nil
			}
		}
		return -1, fmt.Errorf("no load balancer is named %q (expected one of %s)", name, lbNames(lbs))
	}
	mine := map[netip.Addr]bool{}
	for _, a := range local {
		mine[a.Unmap().WithZone("")] = true
	}
	found := -1
	for i, lb := range lbs {
		a, err := netip.ParseAddr(lb.Address)
		if err != nil || !mine[a.Unmap()] {
			continue
		}
		if found >= 0 {
			return -1, fmt.Errorf("this machine has the addresses of load balancers %s and %s: pass the node's name (--node NAME)", lbs[found].Name, lb.Name)
		}
		found = i
	}
	if found < 0 {
		return -1, fmt.Errorf("none of this machine's addresses (%s) is the address of a load balancer (%s): pass the node's name (--node NAME) or fix loadBalancers[].address",
			addrList(local), lbList(lbs))
	}
	return found, nil
}

// LocalAddrs returns the addresses of this machine's network interfaces.
func LocalAddrs() ([]netip.Addr, error) {
	ifAddrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil, fmt.Errorf("listing this machine's addresses: %w", err)
	}
	out := make([]netip.Addr, 0, len(ifAddrs))
	for _, ia := range ifAddrs {
		ipNet, ok := ia.(*net.IPNet)
		if !ok {
			continue
		}
		if a, ok := netip.AddrFromSlice(ipNet.IP); ok {
			out = append(out, a.Unmap())
		}
	}
	return out, nil
}

func lbNames(lbs []LoadBalancer) string {
	out := make([]string, len(lbs))
	for i, lb := range lbs {
		out[i] = lb.Name
	}
	return strings.Join(out, ", ")
}

func lbList(lbs []LoadBalancer) string {
	out := make([]string, len(lbs))
	for i, lb := range lbs {
		out[i] = lb.Name + " " + lb.Address
	}
	return strings.Join(out, ", ")
}

func addrList(addrs []netip.Addr) string {
	if len(addrs) == 0 {
		return "none"
	}
	out := make([]string, len(addrs))
	for i, a := range addrs {
		out[i] = a.String()
	}
	return strings.Join(out, ", ")
}
