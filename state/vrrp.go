package state

import (
	"net/netip"
	"slices"
)

// MaxInstanceAddresses is the most addresses (Floating IPs and the private
// VIP) one VRRP instance moves: notify's exit code names each one that
// failed by a bit of its own, and six bits keep it below 128.
const MaxInstanceAddresses = 6

// FloatingIPList is every Floating IP of the state: the floatingIPs list,
// or the floatingIP shorthand as a list of one. The order is the file's.
func (s *State) FloatingIPList() []FloatingIPEntry {
	if f := s.FloatingIP; f != nil {
		return []FloatingIPEntry{{ID: f.ID, Address: f.Address, Interface: f.Interface, Preferred: f.Preferred}}
	}
	return s.FloatingIPs
}

// FloatingIPPath is the field path of FloatingIPList()[i] in the file:
// floatingIP for the shorthand, floatingIPs[i] for the list.
func (s *State) FloatingIPPath(i int) string {
	if s.FloatingIP != nil {
		return "floatingIP"
	}
	return indexed("floatingIPs", i)
}

// HasFailoverAddress reports whether the state names an address for the
// MASTER to hold: a Floating IP or the private VIP.
func (s *State) HasFailoverAddress() bool {
	return len(s.FloatingIPList()) > 0 || s.PrivateVIP != nil
}

// VRRPInstance is one keepalived VRRP instance of the pair: the addresses
// that move together to its MASTER. Every load balancer runs every
// instance; each prefers its own node as MASTER, so in normal operation
// the pair is active/active when the addresses name two preferred nodes.
type VRRPInstance struct {
	// Name is the instance's name in keepalived.conf and in the
	// INSTANCE argument notify gets: hakgen-CLUSTER for the instance
	// preferring loadBalancers[0], hakgen-CLUSTER-NODE for the others.
	Name string
	// VirtualRouterID is keepalived.virtualRouterID plus the index of
	// the preferred node in loadBalancers.
	VirtualRouterID int
	// Preferred is the index in loadBalancers of the node preferred as
	// MASTER: it gets the top priority, the others follow in the order
	// of loadBalancers.
	Preferred int
	// FloatingIPs are the instance's Floating IPs in the file's order,
	// with their field paths.
	FloatingIPs []InstanceFloatingIP
	// PrivateVIP is set in the instance the private VIP belongs to.
	PrivateVIP *PrivateVIP
}

// InstanceFloatingIP is a Floating IP of a VRRP instance and its field
// path in the file (floatingIP, floatingIPs[2]).
type InstanceFloatingIP struct {
	FloatingIPEntry
	Path string
}

// IPv6 reports whether the Floating IP's address is an IPv6 address.
func (f FloatingIPEntry) IPv6() bool {
	a, err := netip.ParseAddr(f.Address)
	return err == nil && !a.Unmap().Is4()
}

// Rank is where the load balancer at index lb comes in the instance's
// order of preference: 0 for the preferred node, then the others in the
// order of loadBalancers.
func (in VRRPInstance) Rank(lb int) int {
	switch {
	case lb == in.Preferred:
		return 0
	case lb < in.Preferred:
		return lb + 1
	}
	return lb
}

// Addresses is how many addresses the instance moves.
func (in VRRPInstance) Addresses() int {
	n := len(in.FloatingIPs)
	if in.PrivateVIP != nil {
		n++
	}
	return n
}

// VRRPInstances groups the Floating IPs and the private VIP by their
// preferred load balancer, one VRRP instance per group, ordered by the
// position of that node in loadBalancers. A state with one Floating IP
// and no preference has the one instance hakgen-CLUSTER. An address whose
// preferred node is not in loadBalancers (which validation reports) goes
// to the instance of loadBalancers[0].
func (s *State) VRRPInstances() []VRRPInstance {
	byNode := map[int]*VRRPInstance{}
	var order []int
	group := func(preferred string) *VRRPInstance {
		i := s.lbIndex(preferred)
		if in, ok := byNode[i]; ok {
			return in
		}
		in := &VRRPInstance{Name: s.instanceName(i), VirtualRouterID: s.baseRouterID() + i, Preferred: i}
		byNode[i] = in
		order = append(order, i)
		return in
	}
	for i, f := range s.FloatingIPList() {
		in := group(f.Preferred)
		in.FloatingIPs = append(in.FloatingIPs, InstanceFloatingIP{FloatingIPEntry: f, Path: s.FloatingIPPath(i)})
	}
	if v := s.PrivateVIP; v != nil {
		group(v.Preferred).PrivateVIP = v
	}
	slices.Sort(order)
	out := make([]VRRPInstance, 0, len(order))
	for _, n := range order {
		out = append(out, *byNode[n])
	}
	return out
}

// Instance returns the VRRP instance named name (see VRRPInstance.Name).
func (s *State) Instance(name string) (VRRPInstance, bool) {
	for _, in := range s.VRRPInstances() {
		if in.Name == name {
			return in, true
		}
	}
	return VRRPInstance{}, false
}

// InstanceNames lists the names of the VRRP instances, for messages.
func (s *State) InstanceNames() []string {
	var names []string
	for _, in := range s.VRRPInstances() {
		names = append(names, in.Name)
	}
	return names
}

// lbIndex is the index of the load balancer named name, 0 for "" or a
// name that is not in loadBalancers.
func (s *State) lbIndex(name string) int {
	for i, lb := range s.LoadBalancers {
		if lb.Name == name {
			return i
		}
	}
	return 0
}

func (s *State) instanceName(lb int) string {
	name := "hakgen-" + s.Cluster
	if lb > 0 && lb < len(s.LoadBalancers) {
		name += "-" + s.LoadBalancers[lb].Name
	}
	return name
}

func (s *State) baseRouterID() int {
	if s.Keepalived == nil {
		return DefaultVirtualRouterID
	}
	return s.Keepalived.VirtualRouterID
}
