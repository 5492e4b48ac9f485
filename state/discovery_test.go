package state_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hakgen/hakgen/state"
)

const discoveringState = `discovery:
  hcloud:
    network: 4711
    controlPlanes: "cluster=prod,role=control-plane"
    workers: "cluster=prod,role=worker"
workers:
  - {name: w1, address: 10.0.0.21}
extraPorts:
  - {name: rke2, port: 9345, backends: workers}
loadBalancers:
  - {name: lb1, address: 10.0.0.5}
  - {name: lb2, address: 10.0.0.6}
floatingIP: {id: 1, address: 203.0.113.10}
`

// TestDiscoveryParses: with control planes discovered, the static list
// may be empty; the network may be an ID; the interval defaults to 30s.
func TestDiscoveryParses(t *testing.T) {
	s, warnings, err := state.Parse("state.yaml", []byte(discoveringState))
	if err != nil {
		t.Fatal(err)
	}
	d := s.HCloudDiscovery()
	if d == nil || d.Network != "4711" || time.Duration(d.Interval) != 30*time.Second || d.Selector(state.ListWorkers) != "cluster=prod,role=worker" {
		t.Errorf("discovery.hcloud = %+v", d)
	}
	if len(s.ControlPlanes) != 0 || len(warnings) != 0 {
		t.Errorf("control planes %v, warnings %v", s.ControlPlanes, warnings)
	}
	plain, _, err := state.Parse("state.yaml", []byte(strings.Replace(discoveringState, "    workers: \"cluster=prod,role=worker\"\n", "", 1)))
	if err != nil {
		t.Fatal(err)
	}
	if plain.HCloudDiscovery().Selector(state.ListWorkers) != "" {
		t.Error("a selector that is not there")
	}
}

// TestDiscoveredWorkersClaimIngressPorts: with workers discovered, the
// ingress frontends count as present even with no static worker, so an
// extra port on 443 is refused before any worker shows up.
func TestDiscoveredWorkersClaimIngressPorts(t *testing.T) {
	yaml := "controlPlanes: [{name: cp1, address: 10.0.0.11}]\n" +
		"discovery: {hcloud: {network: k8s, workers: role=worker}}\n" +
		"extraPorts: [{name: tls, port: 443, backends: workers}]\n"
	_, _, err := state.Parse("state.yaml", []byte(yaml))
	if err == nil || !strings.Contains(err.Error(), "state.yaml:3:32: extraPorts[0].port: port 443 is already used by ingress.https.port") {
		t.Errorf("err = %v", err)
	}
}

func server(name, addr string) state.Server { return state.Server{Name: name, Address: addr} }

// TestWithDiscovered adds discovered servers after the static ones and
// leaves out those the state would refuse, each with its reason; the
// state it was called on is unchanged.
func TestWithDiscovered(t *testing.T) {
	s, _, err := state.Parse("state.yaml", []byte(discoveringState))
	if err != nil {
		t.Fatal(err)
	}
	hash := s.Hash()
	cps := []state.Server{server("cp1", "10.0.0.11"), server("cp2", "10.0.0.5"), server("cp3", "10.0.0.13")}
	workers := []state.Server{server("w1", "10.0.0.22"), server("w2", "10.0.0.21"), server("w3", "203.0.113.10"), server("w4", "10.0.0.24"), server("W5", "10.0.0.25")}
	out, rejected, err := s.WithDiscovered(cps, workers)
	if err != nil {
		t.Fatal(err)
	}
	var gotCPs, gotWorkers []string
	for _, srv := range out.ControlPlanes {
		gotCPs = append(gotCPs, srv.Name)
	}
	for _, srv := range out.Workers {
		gotWorkers = append(gotWorkers, srv.Name)
	}
	if !slices.Equal(gotCPs, []string{"cp1", "cp3"}) || !slices.Equal(gotWorkers, []string{"w1", "w4"}) {
		t.Errorf("control planes %v, workers %v; want [cp1 cp3] and [w1 w4]", gotCPs, gotWorkers)
	}
	want := map[string]string{
		"cp2": `address: "10.0.0.5" is the address of loadBalancers[0]`,
		"w1":  `name: name "w1" is already used by workers[0]`,
		"w2":  `address: address "10.0.0.21" is already used by workers[0]`,
		"w3":  "is the Floating IP",
		"W5":  `name: "W5" is not a lowercase DNS label`,
	}
	if len(rejected) != len(want) {
		t.Errorf("rejected %+v, want %d", rejected, len(want))
	}
	for _, r := range rejected {
		if w, ok := want[r.Server.Name]; !ok || !strings.Contains(r.Reason, w) {
			t.Errorf("rejected %s (%s): %q, want it to say %q", r.Server.Name, r.List, r.Reason, w)
		}
	}
	if s.Hash() != hash || len(s.Workers) != 1 || len(s.ControlPlanes) != 0 {
		t.Error("WithDiscovered changed the state it was called on")
	}
	if out.Hash() == hash {
		t.Error("the state with discovered servers hashes as the one without")
	}
}

// TestWithDiscoveredNoControlPlane: a state whose control planes are all
// to be discovered is not applicable before one is found.
func TestWithDiscoveredNoControlPlane(t *testing.T) {
	s, _, err := state.Parse("state.yaml", []byte(discoveringState))
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = s.WithDiscovered(nil, []state.Server{server("w9", "10.0.0.29")})
	if err == nil || !strings.Contains(err.Error(), "no control plane: the state lists none and discovery found none") {
		t.Errorf("err = %v", err)
	}
}
