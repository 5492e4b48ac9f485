package preflight_test

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/hakgen/hakgen/preflight"
	"github.com/hakgen/hakgen/state"
)

func TestPrivateVIPAgainstItsNetwork(t *testing.T) {
	n := preflight.Network{Name: "k8s", IPRange: netip.MustParsePrefix("10.0.0.0/16"), Subnets: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/24")}}
	for _, c := range []struct {
		vip, lb2 string
		want     []string // the details of the results that did not pass
	}{
		{"10.0.255.1", "10.0.0.6", nil},
		{"10.1.0.1", "10.0.0.6", []string{"10.1.0.1 is outside network k8s's range 10.0.0.0/16"}},
		{"10.0.0.200", "10.0.0.6", []string{"10.0.0.200 is inside subnet 10.0.0.0/24 of network k8s"}},
		{"10.0.255.1", "10.0.1.6", []string{"10.0.1.6 is in no subnet of network k8s (10.0.0.0/24)"}},
	} {
		s, _, err := state.Parse("state.yaml", []byte(`controlPlanes: [{name: cp1, address: 10.0.0.11}]
loadBalancers: [{name: lb1, address: 10.0.0.5}, {name: lb2, address: `+c.lb2+`}]
privateVIP: {address: `+c.vip+`, network: k8s}
`))
		if err != nil {
			t.Fatal(err)
		}
		results := preflight.PrivateVIP(s, n)
		var got []string
		passed := 0
		for _, r := range results {
			if r.Status == preflight.Pass {
				passed++
				continue
			}
			got = append(got, r.Detail)
		}
		if len(got) != len(c.want) {
			t.Errorf("VIP %s, lb2 %s: problems %q, want %q", c.vip, c.lb2, got, c.want)
			continue
		}
		for i, w := range c.want {
			if !strings.HasPrefix(got[i], w) {
				t.Errorf("VIP %s, lb2 %s: %q, want it to begin %q", c.vip, c.lb2, got[i], w)
			}
		}
		if c.want == nil && passed != 1 {
			t.Errorf("VIP %s: %d checks passed, want the address's", c.vip, passed)
		}
	}
}
