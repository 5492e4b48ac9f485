package state_test

import (
	"testing"

	"github.com/hakgen/hakgen/state"
)

func parseState(t *testing.T, yaml string) *state.State {
	t.Helper()
	s, _, err := state.Parse("state.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestVRRPInstancesOfTheShorthand: one Floating IP is the one instance
// hakgen-CLUSTER, preferring loadBalancers[0], at keepalived's router ID.
func TestVRRPInstancesOfTheShorthand(t *testing.T) {
	s := parseState(t, string(state.Example))
	ins := s.VRRPInstances()
	if len(ins) != 1 {
		t.Fatalf("instances = %+v, want one", ins)
	}
	in := ins[0]
	if in.Name != "hakgen-prod" || in.VirtualRouterID != 51 || in.Preferred != 0 || in.PrivateVIP != nil {
		t.Errorf("instance = %+v, want hakgen-prod, router ID 51, preferring lb1", in)
	}
	if len(in.FloatingIPs) != 1 || in.FloatingIPs[0].ID != 4711 || in.FloatingIPs[0].Path != "floatingIP" {
		t.Errorf("Floating IPs = %+v, want 4711 at floatingIP", in.FloatingIPs)
	}
	if in.Rank(0) != 0 || in.Rank(1) != 1 {
		t.Errorf("ranks %d, %d; want lb1 first", in.Rank(0), in.Rank(1))
	}
}

// TestVRRPInstancesActiveActive groups the Floating IPs by their preferred
// node: each group is an instance of its own with the next router ID, and
// the preferred node ranks first in it.
func TestVRRPInstancesActiveActive(t *testing.T) {
	s := parseState(t, `cluster: prod
controlPlanes: [{name: cp1, address: 10.0.0.11}]
keepalived: {interface: enp7s0, virtualRouterID: 60}
loadBalancers:
  - {name: lb1, address: 10.0.0.5}
  - {name: lb2, address: 10.0.0.6}
  - {name: lb3, address: 10.0.0.7}
floatingIPs:
  - {id: 1, address: 203.0.113.1, preferred: lb2}
  - {id: 2, address: 203.0.113.2}
  - {id: 3, address: "2001:db8:1::1", preferred: lb1}
  - {id: 4, address: "2001:db8:2::1", preferred: lb2}
privateVIP: {address: 10.0.255.1, network: k8s, preferred: lb3}
`)
	ins := s.VRRPInstances()
	type want struct {
		name  string
		vrid  int
		pref  int
		ids   []int64
		paths []string
		vip   bool
	}
	wants := []want{
		{"hakgen-prod", 60, 0, []int64{2, 3}, []string{"floatingIPs[1]", "floatingIPs[2]"}, false},
		{"hakgen-prod-lb2", 61, 1, []int64{1, 4}, []string{"floatingIPs[0]", "floatingIPs[3]"}, false},
		{"hakgen-prod-lb3", 62, 2, nil, nil, true},
	}
	if len(ins) != len(wants) {
		t.Fatalf("instances = %+v, want %d", ins, len(wants))
	}
	for i, w := range wants {
		in := ins[i]
		var ids []int64
		var paths []string
		for _, f := range in.FloatingIPs {
			ids, paths = append(ids, f.ID), append(paths, f.Path)
		}
		if in.Name != w.name || in.VirtualRouterID != w.vrid || in.Preferred != w.pref || !equalInts(ids, w.ids) || !equal(paths, w.paths) || (in.PrivateVIP != nil) != w.vip {
			t.Errorf("instance %d = %+v, want %+v", i, in, w)
		}
	}
	// lb2's instance: lb2 first, then lb1 and lb3 in the order of loadBalancers.
	if r := []int{ins[1].Rank(0), ins[1].Rank(1), ins[1].Rank(2)}; r[0] != 1 || r[1] != 0 || r[2] != 2 {
		t.Errorf("ranks in lb2's instance = %v, want [1 0 2]", r)
	}
	if r := []int{ins[2].Rank(0), ins[2].Rank(1), ins[2].Rank(2)}; r[0] != 1 || r[1] != 2 || r[2] != 0 {
		t.Errorf("ranks in lb3's instance = %v, want [1 2 0]", r)
	}
	if in, ok := s.Instance("hakgen-prod-lb2"); !ok || in.VirtualRouterID != 61 {
		t.Errorf("Instance(hakgen-prod-lb2) = %+v, %v", in, ok)
	}
	if _, ok := s.Instance("hakgen-prod-lb9"); ok {
		t.Error("Instance found an instance that does not exist")
	}
	if !ins[0].FloatingIPs[1].IPv6() || ins[0].FloatingIPs[0].IPv6() {
		t.Error("IPv6 does not tell 2001:db8:1::1 from 203.0.113.2")
	}
}

// TestFloatingIPsKeepTheHash: a state written with the floatingIP
// shorthand hashes as it did before floatingIPs existed (haproxy.cfg's
// header names the hash, so a new hash would reload HAProxy for nothing).
func TestFloatingIPsKeepTheHash(t *testing.T) {
	s := parseState(t, string(state.Example))
	// The hash of the example as README.md's rendered haproxy.cfg shows it.
	if got := s.Hash()[:12]; got != "7264d242406e" {
		t.Errorf("hash of the example = %s, want 7264d242406e", got)
	}
}

func equalInts(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
