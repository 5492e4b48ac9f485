package state_test

import (
	"testing"

	"github.com/hakgen/hakgen/state"
)

// TestNodeStatsURL: a node's stats page is known to its peers when
// stats.bind names a load balancer's own address or a wildcard (every
// node then serves it on its private address), and unknown when it names
// another address, which no peer can be sure to reach.
func TestNodeStatsURL(t *testing.T) {
	for _, tc := range []struct {
		bind      string
		lb2       string
		wantKnown bool
	}{
		{"10.0.0.5:8404", "http://10.0.0.6:8404", true},
		{":8404", "http://10.0.0.6:8404", true},
		{"*:8404", "http://10.0.0.6:8404", true},
		{"0.0.0.0:8404", "http://10.0.0.6:8404", true},
		{"[::]:8405", "http://10.0.0.6:8405", true},
		{"127.0.0.1:8404", "", false},
		{"192.0.2.9:8404", "", false},
	} {
		doc := "controlPlanes:\n  - {name: cp1, address: 10.0.0.11}\n" +
			"loadBalancers:\n  - {name: lb1, address: 10.0.0.5}\n  - {name: lb2, address: 10.0.0.6}\n" +
			"stats: {bind: \"" + tc.bind + "\", user: admin, passwordFile: /etc/hakgen/stats-password}\n"
		s, _, err := state.Parse("state.yaml", []byte(doc))
		if err != nil {
			t.Fatalf("bind %s: %v", tc.bind, err)
		}
		got, known := s.NodeStatsURL("lb2")
		if got != tc.lb2 || known != tc.wantKnown {
			t.Errorf("bind %s: NodeStatsURL(lb2) = %q, %v; want %q, %v", tc.bind, got, known, tc.lb2, tc.wantKnown)
		}
		peers := s.PeerStatsURLs("lb1")
		if tc.wantKnown && (len(peers) != 1 || peers[0] != tc.lb2) {
			t.Errorf("bind %s: PeerStatsURLs(lb1) = %q; want [%s]", tc.bind, peers, tc.lb2)
		}
		if !tc.wantKnown && len(peers) != 0 {
			t.Errorf("bind %s: PeerStatsURLs(lb1) = %q; want none", tc.bind, peers)
		}
	}
}
