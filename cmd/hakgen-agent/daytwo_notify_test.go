package main

import (
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hakgen/hakgen/failover"
	"github.com/hakgen/hakgen/hetzner/hetznertest"
)

// dayTwoState is a pair with an IPv4 and an IPv6 Floating IP and the
// private VIP on lb1, and a Floating IP of its own on lb2 (active/active):
// two VRRP instances, hakgen-prod and hakgen-prod-lb2.
const dayTwoState = `cluster: prod
controlPlanes: [{name: cp1, address: 10.0.0.11}]
loadBalancers:
  - {name: lb1, address: 10.0.0.5, serverID: 1001}
  - {name: lb2, address: 10.0.0.6, serverID: 1002}
hcloud: {tokenFile: hcloud-token}
floatingIPs:
  - {id: 4711, address: 203.0.113.10, interface: eth0}
  - {id: 4712, address: "2001:db8:1::1", interface: eth0}
  - {id: 4713, address: 203.0.113.11, interface: eth0, preferred: lb2}
privateVIP: {address: 10.0.255.1, network: k8s}
keepalived: {interface: enp7s0}
`

const (
	fip6ID   = hetznertest.FloatingIPv6ID
	lb2FIPID = int64(4713)
	vipRoute = "10.0.255.1/32"
)

// newDayTwoWorld is a notify world with dayTwoState, the fake holding the
// three Floating IPs on lb2 and the VIP's route leading to lb2.
func newDayTwoWorld(t *testing.T) *notifyWorld {
	t.Helper()
	w := newNotifyWorld(t, "10.0.0.5", true)
	w.fake.AddQuickStartNetwork()
	writeNotifyFile(t, w.statePath, dayTwoState, 0o644)
	w.fake.Grab(fip6ID, peerID)
	w.fake.AddFloatingIP(lb2FIPID, "203.0.113.11", peerID)
	w.fake.SetRoute(hetznertest.NetworkID, vipRoute, hetznertest.OtherServerPrivateIP)
	return w
}

// TestNotifyMovesEveryAddressOfTheInstance: keepalived's MASTER of
// hakgen-prod on lb1 assigns both of its Floating IPs and moves the VIP's
// route here, all at once; lb2's Floating IP stays on lb2. The route is
// deleted before it is added again: never two routes for the VIP.
func TestNotifyMovesEveryAddressOfTheInstance(t *testing.T) {
	w := newDayTwoWorld(t)
	w.fake.PlanActions(hetznertest.ActionPlan{RunningPolls: 1})
	code, stderr := w.notify(t, "--node", "lb1", "INSTANCE", "hakgen-prod", "MASTER", "250")
	if code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	for id, want := range map[int64]int64{fipID: thisID, fip6ID: thisID, lb2FIPID: peerID} {
		if got := w.fake.Owner(id); got != want {
			t.Errorf("Floating IP %d points to %d, want %d", id, got, want)
		}
	}
	if gw := w.fake.RouteGateway(hetznertest.NetworkID, vipRoute); gw != hetznertest.ThisServerPrivateIP {
		t.Errorf("the VIP's route leads to %q, want %s", gw, hetznertest.ThisServerPrivateIP)
	}
	for _, c := range w.fake.RouteChanges(hetznertest.NetworkID) {
		if len(c.Routes) > 1 {
			t.Errorf("two routes at once: %+v", c.Routes)
		}
	}
	var assigned []string
	for _, r := range w.fake.Requests() {
		if r.Endpoint == hetznertest.Assign {
			assigned = append(assigned, r.Path)
		}
	}
	slices.Sort(assigned)
	if want := []string{"/v1/floating_ips/4711/actions/assign", "/v1/floating_ips/4712/actions/assign"}; !slices.Equal(assigned, want) {
		t.Errorf("assigns %v, want %v", assigned, want)
	}
	logged := w.logged(t)
	for _, want := range []string{"notify floating IP assigned to this server", `"target": "floating IP 4712 (2001:db8:1::1)"`, "notify private VIP routed to this server"} {
		if !strings.Contains(logged, want) {
			t.Errorf("the journal lacks %q:\n%s", want, logged)
		}
	}
}

// TestNotifyMovesOnlyItsOwnInstance: lb2 becoming MASTER of its own
// instance takes only its Floating IP; lb1's stay where they are.
func TestNotifyMovesOnlyItsOwnInstance(t *testing.T) {
	w := newDayTwoWorld(t)
	for _, id := range []int64{fipID, fip6ID, lb2FIPID} {
		w.fake.Grab(id, thisID)
	}
	code, stderr := w.notify(t, "--node", "lb2", "INSTANCE", "hakgen-prod-lb2", "MASTER", "250")
	if code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	w.wantRequests(t, assignPollVerify...)
	if w.fake.Owner(lb2FIPID) != peerID || w.fake.Owner(fipID) != thisID || w.fake.Owner(fip6ID) != thisID {
		t.Errorf("owners %d, %d, %d; want only 4713 moved", w.fake.Owner(fipID), w.fake.Owner(fip6ID), w.fake.Owner(lb2FIPID))
	}
	rec, err := failover.NewStore(w.stateDir).LatestFor("hakgen-prod")
	if err != nil || rec.Seq != 0 {
		t.Errorf("lb2's instance recorded for hakgen-prod: %+v, %v", rec, err)
	}
}

// TestNotifyOneFailingAddress: the IPv6 Floating IP's assign is refused;
// the other Floating IP and the route move all the same, and the exit code
// and the journal name the one that failed: 64 + 2 (the second address).
func TestNotifyOneFailingAddress(t *testing.T) {
	w := newDayTwoWorld(t)
	w.fake.InjectOn(hetznertest.Assign, fip6ID, 1, hetznertest.Fault{Status: http.StatusForbidden, Code: "forbidden", Message: "insufficient permissions"})
	code, stderr := w.notify(t, "--node", "lb1", "INSTANCE", "hakgen-prod", "MASTER", "250")
	if code != failover.ExitMoves+2 {
		t.Errorf("exit %d, want %d, stderr:\n%s", code, failover.ExitMoves+2, stderr)
	}
	if w.fake.Owner(fipID) != thisID || w.fake.Owner(fip6ID) != peerID || w.fake.RouteGateway(hetznertest.NetworkID, vipRoute) != hetznertest.ThisServerPrivateIP {
		t.Errorf("owners %d, %d, route %s; want 4711 and the route here, 4712 not",
			w.fake.Owner(fipID), w.fake.Owner(fip6ID), w.fake.RouteGateway(hetznertest.NetworkID, vipRoute))
	}
	for _, out := range []string{stderr, w.logged(t)} {
		if !strings.Contains(out, "1 of 3 addresses not moved here: floating IP 4712 (2001:db8:1::1)") || !strings.Contains(out, "forbidden") {
			t.Errorf("the output does not name the failed address and why:\n%s", out)
		}
	}
	if !strings.Contains(w.logged(t), `"exit_code": 66`) {
		t.Errorf("the journal lacks the exit code:\n%s", w.logged(t))
	}
}

// TestNotifyUnknownInstance: with several instances, a name the state
// does not have is refused, naming the instances it has; nothing moves.
func TestNotifyUnknownInstance(t *testing.T) {
	w := newDayTwoWorld(t)
	code, stderr := w.notify(t, "--node", "lb1", "INSTANCE", "hakgen-staging", "MASTER", "250")
	if code != failover.ExitFailed || !strings.Contains(stderr, `"hakgen-staging" is no VRRP instance of the state (it has hakgen-prod, hakgen-prod-lb2)`) {
		t.Errorf("exit %d, stderr:\n%s", code, stderr)
	}
	if n := len(w.fake.Requests()); n != 0 {
		t.Errorf("%d requests, want none", n)
	}
}

// TestNotifyShortFormMovesEveryInstance: `notify MASTER` by hand on a pair
// with two instances makes this node hold all of them.
func TestNotifyShortFormMovesEveryInstance(t *testing.T) {
	w := newDayTwoWorld(t)
	if code, stderr := w.notify(t, "--node", "lb1", "MASTER"); code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	for _, id := range []int64{fipID, fip6ID, lb2FIPID} {
		if w.fake.Owner(id) != thisID {
			t.Errorf("Floating IP %d points to %d, want here", id, w.fake.Owner(id))
		}
	}
}

// TestNotifyReassertOfOneInstance checks only that instance's addresses,
// with a stamp of its own.
func TestNotifyReassertOfOneInstance(t *testing.T) {
	w := newDayTwoWorld(t)
	if code, stderr := w.notify(t, "--node", "lb1", "INSTANCE", "hakgen-prod-lb2", "BACKUP", "240"); code != 0 {
		t.Fatalf("BACKUP: exit %d\n%s", code, stderr)
	}
	if code, stderr := w.notify(t, "--node", "lb1", "INSTANCE", "hakgen-prod", "MASTER", "250"); code != 0 {
		t.Fatalf("MASTER: exit %d\n%s", code, stderr)
	}
	w.fake.Grab(fipID, peerID) // the other node's notify took it back in a split brain
	w.fake.ResetLog()
	if code, stderr := w.notify(t, "--node", "lb1", "--reassert", "INSTANCE", "hakgen-prod", "MASTER"); code != 0 {
		t.Fatalf("reassert: exit %d\n%s", code, stderr)
	}
	if w.fake.Owner(fipID) != thisID || w.fake.Owner(lb2FIPID) != peerID {
		t.Errorf("owners %d, %d; want 4711 back here, 4713 left on lb2", w.fake.Owner(fipID), w.fake.Owner(lb2FIPID))
	}
	if n := w.fake.Count(hetznertest.Assign); n != 1 {
		t.Errorf("%d assigns, want 1 (only what pointed elsewhere)", n)
	}
	if n := w.fake.Count(hetznertest.ListNetworks); n != 1 {
		t.Errorf("%d looks at the network, want 1", n)
	}
	if _, err := os.Stat(filepath.Join(w.stateDir, "reassert-hakgen-prod.stamp")); err != nil {
		t.Errorf("no stamp of the instance's own: %v", err)
	}
}
