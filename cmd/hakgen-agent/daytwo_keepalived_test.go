package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hakgen/hakgen/failover"
	"github.com/hakgen/hakgen/hetzner/hetznertest"
	"github.com/hakgen/hakgen/internal/tooltest"
	"github.com/hakgen/hakgen/state"
)

// TestKeepalivedRunsTwoInstancesWithIPv6AndThePrivateVIP runs Debian's
// keepalived on the keepalived.conf render --keepalived writes for lb1 of
// a dual-stack, active/active pair with a private VIP, with the real
// hakgen-agent as check and notify, in a network namespace of its own,
// against the fake Hetzner API. Its peer is silent, so lb1 becomes MASTER
// of both instances:
//   - keepalived puts every address on its interface before notify runs
//     (notify runs with --require-vip and finds them), the IPv6 one
//     usable at once (no tentative state) and never chosen as a source;
//   - the two notify runs move all three Floating IPs and the VIP's route;
//   - when the check fails, both instances go to FAULT, the addresses
//     leave the interfaces, and each instance's FAULT is recorded.
func TestKeepalivedRunsTwoInstancesWithIPv6AndThePrivateVIP(t *testing.T) {
	tooltest.NeedRoot(t)
	keepalived := tooltest.Need(t, "keepalived")
	ip := tooltest.Need(t, "ip")
	unshare := tooltest.Need(t, "unshare")
	agent := buildNotifyAgent(t)

	ns := newTestNetns(t)
	ns.run(t, ip, "link", "set", "lo", "up")
	for _, link := range []struct{ name, addr string }{{"enp7s0", "10.0.0.5/24"}, {"eth0", "192.0.2.5/24"}} {
		ns.run(t, ip, "link", "add", link.name, "type", "veth", "peer", "name", link.name+"-peer")
		ns.run(t, ip, "addr", "add", link.addr, "dev", link.name)
		ns.run(t, ip, "link", "set", link.name, "up")
		ns.run(t, ip, "link", "set", link.name+"-peer", "up")
	}
	var fake *hetznertest.Fake
	var frontend net.Listener // stands in for HAProxy's stats frontend
	var err error
	ns.do(func() {
		fake = hetznertest.New(t)
		frontend, err = net.Listen("tcp", "127.0.0.1:0")
	})
	if err != nil {
		t.Fatal(err)
	}
	defer frontend.Close()
	go func() {
		_ = http.Serve(frontend, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != state.HealthPath {
				w.WriteHeader(http.StatusNotFound)
			}
		}))
	}()
	fake.RequireToken(notifyToken)
	fake.AddQuickStartNetwork()
	fake.AddFloatingIP(lb2FIPID, "203.0.113.11", peerID)
	fake.Grab(fip6ID, peerID)
	fake.SetRoute(hetznertest.NetworkID, vipRoute, hetznertest.OtherServerPrivateIP)

	dir := t.TempDir()
	runDir := filepath.Join(dir, "run-hakgen")
	if err := os.Mkdir(runDir, 0o755); err != nil {
		t.Fatal(err)
	}
	writeNotifyFile(t, filepath.Join(dir, "hcloud-token"), notifyToken+"\n", 0o600)
	statePath := filepath.Join(dir, "state.yaml")
	st := strings.Replace(dayTwoState, "controlPlanes: [{name: cp1, address: 10.0.0.11}]",
		fmt.Sprintf("controlPlanes: [{name: cp1, address: 10.0.0.11}]\nstats: {bind: \"127.0.0.1:%d\"}", frontend.Addr().(*net.TCPAddr).Port), 1)
	writeNotifyFile(t, statePath, st, 0o644)
	code, conf, stderr := runCLI(t, "render", "--keepalived", "--node", "lb1", "--state", statePath, "--agent-path", agent)
	if code != exitOK {
		t.Fatalf("render --keepalived: exit %d\n%s", code, stderr)
	}
	confPath := filepath.Join(dir, "keepalived.conf")
	writeNotifyFile(t, confPath, conf, 0o644)

	out := startKeepalived(t, ns, unshare, keepalived, confPath, runDir, fake)
	store := failover.NewStore(runDir)
	waitForKeepalived(t, "every address to move here", out, func() bool {
		return fake.Owner(fipID) == thisID && fake.Owner(fip6ID) == thisID && fake.Owner(lb2FIPID) == thisID &&
			fake.RouteGateway(hetznertest.NetworkID, vipRoute) == hetznertest.ThisServerPrivateIP
	})
	for _, name := range []string{"hakgen-prod", "hakgen-prod-lb2"} {
		if rec, err := store.LatestFor(name); err != nil || rec.State != failover.Master || rec.Instance != name {
			t.Errorf("%s: recorded %+v, %v; want MASTER", name, rec, err)
		}
	}
	eth0 := addrShow(t, ns, ip, "eth0")
	for _, want := range []string{"inet 203.0.113.10/32", "inet 203.0.113.11/32", "inet6 2001:db8:1::1/64 scope global nodad deprecated"} {
		if !strings.Contains(eth0, want) {
			t.Errorf("eth0 lacks %q:\n%s", want, eth0)
		}
	}
	if strings.Contains(eth0, "tentative") {
		t.Errorf("the IPv6 Floating IP is still tentative:\n%s", eth0)
	}
	if enp := addrShow(t, ns, ip, "enp7s0"); !strings.Contains(enp, "inet 10.0.255.1/32") {
		t.Errorf("enp7s0 lacks the private VIP:\n%s", enp)
	}
	for _, c := range fake.RouteChanges(hetznertest.NetworkID) {
		if len(c.Routes) > 1 {
			t.Errorf("two routes at once: %+v", c.Routes)
		}
	}

	requests := len(fake.Requests())
	frontend.Close()
	waitForKeepalived(t, "FAULT of both instances", out, func() bool {
		a, _ := store.LatestFor("hakgen-prod")
		b, _ := store.LatestFor("hakgen-prod-lb2")
		return a.State == failover.Fault && b.State == failover.Fault
	})
	waitForKeepalived(t, "the addresses to leave the interfaces", out, func() bool {
		return !strings.Contains(addrShow(t, ns, ip, "eth0"), "203.0.113") && !strings.Contains(addrShow(t, ns, ip, "enp7s0"), "10.0.255.1")
	})
	if got := len(fake.Requests()); got != requests {
		t.Errorf("FAULT made %d requests, want none", got-requests)
	}
}

// addrShow is `ip addr show dev NAME` in ns.
func addrShow(t *testing.T, ns *testNetns, ip, name string) string {
	t.Helper()
	var out []byte
	var err error
	ns.do(func() { out, err = exec.Command(ip, "addr", "show", "dev", name).CombinedOutput() })
	if err != nil {
		t.Fatalf("ip addr show dev %s: %v\n%s", name, err, out)
	}
	return string(out)
}
