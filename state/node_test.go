package state_test

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/hakgen/hakgen/state"
)

var pair = []state.LoadBalancer{
	{Name: "lb1", Address: "10.0.0.5"},
	{Name: "lb2", Address: "10.0.0.6"},
}

func addrs(list ...string) []netip.Addr {
	out := make([]netip.Addr, len(list))
	for i, a := range list {
		out[i] = netip.MustParseAddr(a)
	}
	return out
}

func TestFindNode(t *testing.T) {
	for _, c := range []struct {
		name    string
		byName  string
		local   []netip.Addr
		want    int
		wantErr string
	}{
		{name: "by address", local: addrs("127.0.0.1", "10.0.0.6", "fe80::1%eth0"), want: 1},
		{name: "IPv4-mapped local address", local: addrs("::ffff:10.0.0.5"), want: 0},
		{name: "by name wins over addresses", byName: "lb2", local: addrs("10.0.0.5"), want: 1},
		{name: "unknown name", byName: "lb9", local: addrs("10.0.0.5"),
			wantErr: `no load balancer is named "lb9" (expected one of lb1, lb2)`},
		{name: "no address matches", local: addrs("127.0.0.1", "10.0.0.7"),
			wantErr: "none of this machine's addresses (127.0.0.1, 10.0.0.7) is the address of a load balancer (lb1 10.0.0.5, lb2 10.0.0.6): pass the node's name (--node NAME) or fix loadBalancers[].address"},
		{name: "no local addresses", local: nil,
			wantErr: "none of this machine's addresses (none) is"},
		{name: "two match", local: addrs("10.0.0.6", "10.0.0.5"),
			wantErr: "this machine has the addresses of load balancers lb1 and lb2: pass the node's name (--node NAME)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := state.FindNode(pair, c.byName, c.local)
			if c.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), c.wantErr) {
					t.Fatalf("FindNode = %d, %v; want error %q", got, err, c.wantErr)
				}
				return
			}
			if err != nil || got != c.want {
				t.Fatalf("FindNode = %d, %v; want %d", got, err, c.want)
			}
		})
	}
}

func TestFindNodeWithoutLoadBalancers(t *testing.T) {
	if _, err := state.FindNode(nil, "lb1", addrs("10.0.0.5")); err == nil {
		t.Fatal("want an error for an empty list")
	}
}

// TestLocalAddrsIncludeLoopback reads the real interfaces: every machine
// the tests run on has a loopback address.
func TestLocalAddrsIncludeLoopback(t *testing.T) {
	local, err := state.LocalAddrs()
	if err != nil {
		t.Fatal(err)
	}
	lbs := []state.LoadBalancer{{Name: "lb1", Address: "10.255.255.254"}, {Name: "self", Address: "127.0.0.1"}}
	if i, err := state.FindNode(lbs, "", local); err != nil || i != 1 {
		t.Errorf("FindNode over %v = %d, %v; want the loopback entry", local, i, err)
	}
}

func TestTooManyLoadBalancersForKeepalived(t *testing.T) {
	var b strings.Builder
	b.WriteString("controlPlanes: [{name: cp1, address: 10.0.0.11}]\nfloatingIP: {id: 1, address: 203.0.113.10}\nkeepalived: {interface: eth1}\nloadBalancers:\n")
	for i := range state.MaxLoadBalancers + 1 {
		fmt.Fprintf(&b, "  - {name: lb%d, address: 10.0.1.%d}\n", i, i+1)
	}
	s, _, err := state.Parse("state.yaml", []byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	want := "state.yaml:5:3: loadBalancers: 21 load balancers (expected at most 20)"
	if err := s.CompleteForKeepalived(); err == nil || err.Error() != want {
		t.Errorf("CompleteForKeepalived = %v, want %s", err, want)
	}
}
