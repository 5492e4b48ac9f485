//go:build linux

package e2e

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hakgen/hakgen/e2e/sdbox"
	"github.com/hakgen/hakgen/hetzner/hetznertest"
	"github.com/hakgen/hakgen/internal/tooltest"
)

// quickStartToken is the fake API's token in these tests.
const quickStartToken = "quick-start-t0ken"

// TestPackageQuickStart follows the README's Hetzner quick start on one
// load balancer, lb1, with the installed package under a real systemd:
// the quick start's state (its marker line removed, as step 6 says), the
// token in a root-only file, the agent started before keepalived (step 7).
// The agent reports applied and healthy within 15 s, keepalived makes the
// node MASTER (it has no peer) and notify moves the Floating IP through the
// fake API. The README's log commands show what they promise: the
// daemon's warnings with -p warning and nothing below, the failover
// history under hakgen-notify. Removing the package warns that
// keepalived.conf still calls the agent; purging removes /etc/hakgen with
// the token and says so.
func TestPackageQuickStart(t *testing.T) {
	t.Parallel()
	tooltest.Need(t, "keepalived")
	deb := buildDeb(t)
	m := bootForPackage(t, deb)
	prepareHAProxy(t, m)
	dpkgInstall(t, m, deb)
	exposeInstalledUnit(t, m)
	// lb1's private (VRRP) and public (Floating IP) interfaces.
	run(t, m, "ip", "link", "add", "enp7s0", "type", "veth", "peer", "name", "peer0")
	run(t, m, "ip", "addr", "add", "10.0.0.5/24", "dev", "enp7s0")
	run(t, m, "ip", "link", "add", "eth0", "type", "veth", "peer", "name", "peer1")
	run(t, m, "ip", "addr", "add", "192.0.2.5/24", "dev", "eth0")
	for _, l := range []string{"enp7s0", "peer0", "eth0", "peer1"} {
		run(t, m, "ip", "link", "set", l, "up")
	}
	fake := fakeInMachine(t, m)
	fake.RequireToken(quickStartToken)
	env := fmt.Sprintf("[Service]\nEnvironment=HCLOUD_ENDPOINT=%s\n", fake.APIEndpoint())
	for _, unit := range []string{agentUnit, "keepalived.service"} {
		writeFile(t, m, "/run/systemd/system/"+unit+".d/fake-api.conf", env)
	}
	systemctl(t, m, "daemon-reload")

	// Step 5: the token, root-only. Step 6: the state, without its first line.
	run(t, m, "install", "-m", "600", "-o", "root", "-g", "root", "/dev/null", "/etc/hakgen/hcloud-token")
	writeFile(t, m, "/etc/hakgen/hcloud-token", quickStartToken+"\n")
	run(t, m, "chmod", "600", "/etc/hakgen/hcloud-token")
	// The machine's file limit is the host's (often 20000): HAProxy's
	// default of 50000 connections needs more.
	quick := dropFirstLine(readFile(t, m, statePath)) + "haproxy: {maxconn: 2000}\n"
	writeFile(t, m, statePath, quick)
	run(t, m, "hakgen-agent", "validate")
	doctor(t, m, fake, "WARN  VRRP adverts: no VRRP advert from a peer arrived in 2s, and keepalived has reported no state on this node yet")

	// Step 7, in its order.
	systemctl(t, m, "start", agentUnit)
	if out, err := m.Run(context.Background(), "hakgen-agent", "status"); err != nil || !strings.Contains(out, "applied") {
		t.Errorf("status before keepalived runs: %v\n%s", err, out)
	}
	systemctl(t, m, "enable", "--now", "keepalived.service")
	eventuallyWithin(t, quickStartWait, "status applied and healthy, and keepalived.conf loaded", func() error {
		out, err := m.Run(context.Background(), "hakgen-agent", "status")
		if err != nil || !strings.Contains(out, "state ") || strings.Contains(out, "reload owed") {
			return fmt.Errorf("status: %v\n%s", err, out)
		}
		return nil
	})
	eventuallyWithin(t, quickStartWait, "the Floating IP on lb1", func() error {
		if got := fake.Owner(hetznertest.FloatingIPID); got != hetznertest.ThisServer {
			return fmt.Errorf("the Floating IP points to %d", got)
		}
		return nil
	})

	// Step 8: doctor again; lb1 is MASTER now.
	doctor(t, m, fake, "WARN  VRRP adverts: this node is MASTER")

	// Logs, as the README has them.
	writeFile(t, m, statePath, strings.Replace(quick, "  - {name: cp3, address: 10.0.0.13}\n", "  - {name: cp3, address: 10.0.0.13}\n  - {name: cp4, address: 10.0.0.14}\n", 1))
	eventually(t, "the warning of an even count in the journal", func() error {
		out := run(t, m, "journalctl", "--no-pager", "-u", "hakgen-agent", "-p", "warning")
		if !strings.Contains(out, "4 control planes") {
			return fmt.Errorf("journalctl -u hakgen-agent -p warning:\n%s", out)
		}
		if strings.Contains(out, "applied") || strings.Contains(out, "watching") {
			return fmt.Errorf("journalctl -u hakgen-agent -p warning shows info lines:\n%s", out)
		}
		return nil
	})
	failovers := run(t, m, "journalctl", "--no-pager", "-t", "hakgen-notify")
	if !strings.Contains(failovers, "floating IP assigned to this server") || strings.Contains(failovers, "watching") || strings.Contains(failovers, quickStartToken) {
		t.Errorf("journalctl -t hakgen-notify is not the failover history:\n%s", failovers)
	}
	drill := run(t, m, "journalctl", "--no-pager", "-t", "hakgen-notify", "-t", "Keepalived_vrrp")
	if !strings.Contains(drill, "Entering MASTER STATE") || !strings.Contains(drill, "floating IP assigned to this server") {
		t.Errorf("the drill's journalctl shows not both keepalived's transitions and the failover:\n%s", drill)
	}

	// Removal and purge.
	removed := run(t, m, "dpkg", "--remove", "hakgen-agent")
	if !strings.Contains(removed, "WARNING: /etc/keepalived/keepalived.conf still runs /usr/bin/hakgen-agent") {
		t.Errorf("dpkg --remove gave no warning about keepalived.conf:\n%s", removed)
	}
	purged := run(t, m, "dpkg", "--purge", "hakgen-agent")
	if !strings.Contains(purged, "removing /etc/hakgen") || !strings.Contains(purged, "hcloud-token") {
		t.Errorf("dpkg --purge does not say it removes /etc/hakgen and the token:\n%s", purged)
	}
	if out, err := m.Run(context.Background(), "test", "-e", "/etc/hakgen"); err == nil {
		t.Errorf("/etc/hakgen is still there after purge %s", out)
	}
}

// doctor runs doctor on lb1 as the quick start does. lb1 has no peer and
// no control plane runs, so it only warns; what it can check passes, and
// its VRRP check says vrrp.
func doctor(t *testing.T, m *sdbox.Machine, fake *hetznertest.Fake, vrrp string) {
	t.Helper()
	out, err := m.Run(context.Background(), "env", "HCLOUD_ENDPOINT="+fake.APIEndpoint(), "HCLOUD_METADATA_ENDPOINT="+fake.MetadataEndpoint(),
		"hakgen-agent", "doctor", "--name", "k8s.example.com", "--vrrp-wait", "2s")
	for _, want := range []string{vrrp, "PASS  server ID: server ID 1001 matches the metadata service", "PASS  API token: ", "PASS  token file /etc/hakgen/hcloud-token",
		"WARN  certificate of cp1: cannot read the certificate", "PASS  file descriptors: ", "lb1: no check failed, some warned"} {
		if err == nil || !strings.Contains(out, want) || strings.Contains(out, "FAIL") {
			t.Errorf("doctor on lb1: %v, want exit 5 and %q, no FAIL:\n%s", err, want, out)
		}
	}
}

// quickStartWait is the quick start's promise: applied within 15 s.
const quickStartWait = 15 * time.Second

// fakeInMachine starts the fake Hetzner API on the loopback interface of
// m's network namespace, so that the machine's services reach it.
func fakeInMachine(t *testing.T, m *sdbox.Machine) *hetznertest.Fake {
	t.Helper()
	var fake *hetznertest.Fake
	var err error
	done := make(chan struct{})
	go func() {
		defer close(done)
		// This thread enters the machine's network namespace and is never
		// unlocked: it ends with the goroutine instead of going back to
		// the scheduler's pool.
		runtime.LockOSThread()
		var f *os.File
		if f, err = os.Open(fmt.Sprintf("/proc/%d/ns/net", m.PID())); err != nil {
			return
		}
		defer f.Close()
		if err = unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			return
		}
		fake = hetznertest.New(t)
	}()
	<-done
	if err != nil {
		t.Fatalf("entering the machine's network namespace: %v", err)
	}
	return fake
}
