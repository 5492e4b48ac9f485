package render

import (
	"cmp"
	"net/netip"
	"path"

	"github.com/hakgen/hakgen/state"
)

// instanceView is one vrrp_instance of keepalived.conf.
type instanceView struct {
	Name            string
	VirtualRouterID int
	Priority        int
	// PreferredNode names the node preferred as MASTER when it is not
	// loadBalancers[0] (whose instance the comments explain as before).
	PreferredNode string
	// IPv4 and IPv6 are the instance's addresses, each as the words of
	// its line: keepalived holds one address family in
	// virtual_ipaddress and the other in virtual_ipaddress_excluded.
	IPv4, IPv6 [][]string
	// OneFloatingIP: the instance moves one Floating IP and nothing else.
	OneFloatingIP bool
	HasVIP        bool // it moves the private VIP
	// ReassertArgs are what notify --reassert gets after its flags:
	// MASTER for the only instance of a pair, else the instance named.
	ReassertArgs []string
	// MaintenanceTrack and MaintenanceFile are the instance's own
	// maintenance flag, when the pair has several instances.
	MaintenanceTrack, MaintenanceFile string
}

// ipv6Options keep this node's own connections from choosing an IPv6
// Floating IP's address as their source address, so none of them breaks
// when the address moves away; incoming connections to it are served all
// the same. keepalived 2.2 adds IPv6 addresses without duplicate address
// detection by default (usable at once: the /64 is routed to this server
// alone); its -nodad option would turn detection on, a second's delay.
var ipv6Options = []string{"preferred_lft", "0"}

// instanceViews are the VRRP instances of s as node me runs them; their
// maintenance flags live in stateDir.
func instanceViews(s *state.State, me int, stateDir string) []instanceView {
	ins := s.VRRPInstances()
	iface := s.Keepalived.Interface
	out := make([]instanceView, 0, len(ins))
	for _, in := range ins {
		v := instanceView{
			Name:            in.Name,
			VirtualRouterID: in.VirtualRouterID,
			Priority:        topPriority - priorityStep*in.Rank(me),
			OneFloatingIP:   len(in.FloatingIPs) == 1 && in.PrivateVIP == nil,
			HasVIP:          in.PrivateVIP != nil,
			ReassertArgs:    []string{"MASTER"},
		}
		if in.Preferred > 0 {
			v.PreferredNode = s.LoadBalancers[in.Preferred].Name
		}
		if len(ins) > 1 {
			v.ReassertArgs = []string{"INSTANCE", in.Name, "MASTER"}
			v.MaintenanceTrack = "hakgen_maintenance_" + in.Name
			v.MaintenanceFile = path.Join(stateDir, InstanceMaintenanceFile(in.Name))
		}
		for _, f := range in.FloatingIPs {
			dev := cmp.Or(f.Interface, iface)
			a := netip.MustParseAddr(f.Address).Unmap()
			if a.Is4() {
				v.IPv4 = append(v.IPv4, []string{a.String() + "/32", "dev", dev})
				continue
			}
			v.IPv6 = append(v.IPv6, append([]string{a.String() + "/64", "dev", dev}, ipv6Options...))
		}
		if p := in.PrivateVIP; p != nil {
			v.IPv4 = append(v.IPv4, []string{netip.MustParseAddr(p.Address).Unmap().String() + "/32", "dev", iface})
		}
		out = append(out, v)
	}
	return out
}

// legacyView is the keepalived view as it was while a pair had exactly one
// Floating IP: its JSON is what such a pair's settings hash is taken
// from. Fields and their order must not change.
type legacyView struct {
	Cluster, Hash, Node string
	Instance            string
	Interface           string
	VirtualRouterID     int
	Priority            int
	Version3            bool
	AdvertInt           string
	Address             string
	Peers               []string
	FloatingIP          string
	FloatingIface       string
	Agent               string
	CheckURL            string
	PeerStats           []string
	TrackFile           string
	BackendsFile        string
	MaintenanceFile     string
	StateDir            string
	NotifyFlags         []string
}

// legacy returns v as a legacyView when v is the one instance
// hakgen-CLUSTER with one IPv4 Floating IP and nothing else.
func (v *keepalivedView) legacy() (legacyView, bool) {
	if len(v.Instances) != 1 {
		return legacyView{}, false
	}
	in := v.Instances[0]
	if in.Name != "hakgen-"+v.Cluster || !in.OneFloatingIP || len(in.IPv4) != 1 {
		return legacyView{}, false
	}
	addr := in.IPv4[0]
	return legacyView{
		Cluster: v.Cluster, Node: v.Node, Instance: in.Name, Interface: v.Interface,
		VirtualRouterID: in.VirtualRouterID, Priority: in.Priority, Version3: v.Version3, AdvertInt: v.AdvertInt,
		Address: v.Address, Peers: v.Peers, FloatingIP: addr[0][:len(addr[0])-len("/32")], FloatingIface: addr[2],
		Agent: v.Agent, CheckURL: v.CheckURL, PeerStats: v.PeerStats, TrackFile: v.TrackFile, BackendsFile: v.BackendsFile,
		MaintenanceFile: v.MaintenanceFile, StateDir: v.StateDir, NotifyFlags: v.NotifyFlags,
	}, true
}
