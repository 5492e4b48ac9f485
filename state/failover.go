package state

import (
	"path/filepath"
	"regexp"
	"time"
)

// MinAdvertInterval is the shortest keepalived.advertInterval the state
// accepts: five times the longest interval at which VRRP flapped in
// bench/vrrp-floor.sh's measurements (20ms, on a busy 2-CPU machine), see
// README.md.
const MinAdvertInterval = 100 * time.Millisecond

// FastAdvertInterval is the measured fast profile: the MASTER's links down
// put the Floating IP on the BACKUP within a second, with no transition
// without a fault over 10 minutes idle.
const FastAdvertInterval = 300 * time.Millisecond

var ifaceName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,14}$`)

// failover checks the sections keepalived and the Floating IP need, where
// they are present. Rendering haproxy.cfg needs none of them.
func (v *validator) failover() {
	s := v.s
	if len(s.LoadBalancers) == 1 {
		v.warnf("loadBalancers", "only one load balancer: keepalived has no peer to fail over to (expected two)")
	}
	names, addrs, ids := map[string]string{}, map[string]string{}, map[string]string{}
	for i, lb := range s.LoadBalancers {
		path := indexed("loadBalancers", i)
		v.label(path+".name", lb.Name)
		v.unique(names, path+".name", lb.Name, "name")
		if v.ip(path+".address", lb.Address, "10.0.0.5") {
			v.notLoopback(path+".address", lb.Address, "every machine has it, so each load balancer would take itself for this one and VRRP would talk to itself (expected the load balancer's private address, e.g. 10.0.0.5)")
			v.uniqueAddr(addrs, path+".address", lb.Address)
		}
		if lb.ServerID < 0 {
			v.errorf(path+".serverID", "%d is negative (expected the Hetzner server ID, or leave it out to ask the metadata service)", lb.ServerID)
		} else if lb.ServerID > 0 {
			v.unique(ids, path+".serverID", itoa64(lb.ServerID), "serverID")
		}
	}
	v.floatingIPs()
	v.privateVIP()
	v.instanceSizes()
	if h := s.HCloud; h != nil {
		v.filePath("hcloud.tokenFile", h.TokenFile)
		if f := s.FloatingIP; f != nil && f.TokenFile != "" && h.TokenFile != "" &&
			filepath.Clean(s.Resolve(f.TokenFile)) != filepath.Clean(s.Resolve(h.TokenFile)) {
			v.errorf("floatingIP.tokenFile", "%q and hcloud.tokenFile %q name two token files (expected one: hcloud.tokenFile, which every Hetzner call uses; remove floatingIP.tokenFile)", f.TokenFile, h.TokenFile)
		}
	}
	if k := s.Keepalived; k != nil {
		if !ifaceName.MatchString(k.Interface) {
			v.errorf("keepalived.interface", "%q is not a network interface name (expected e.g. enp7s0 or eth1)", k.Interface)
		}
		if k.VirtualRouterID < 1 || k.VirtualRouterID > 255 {
			v.errorf("keepalived.virtualRouterID", "%d is out of range (expected 1 to 255, the same on both load balancers)", k.VirtualRouterID)
		}
		if time.Duration(k.AdvertInterval) > 0 && time.Duration(k.AdvertInterval) < MinAdvertInterval {
			v.errorf("keepalived.advertInterval", "%s is below %s, where VRRP stops being stable: adverts delayed by a busy CPU make the BACKUP take over with no fault, and a node that comes back takes MASTER again (expected %s to 255s; %s is the fast profile)",
				k.AdvertInterval, Duration(MinAdvertInterval), Duration(MinAdvertInterval), Duration(FastAdvertInterval))
		} else {
			v.duration("keepalived.advertInterval", k.AdvertInterval, MinAdvertInterval, Duration(255*time.Second))
		}
	}
}
