package main

import (
	"context"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"

	"github.com/hakgen/hakgen/hetzner/hetznertest"
)

// TestHealerReadsTheTokenForEachCheck: a token file fixed after the daemon
// started (here: its mode) is used by the next check, without a restart.
func TestHealerReadsTheTokenForEachCheck(t *testing.T) {
	fake := hetznertest.New(t)
	fake.RequireToken(notifyToken)
	tokenFile := filepath.Join(t.TempDir(), "hcloud-token")
	if err := os.WriteFile(tokenFile, []byte(notifyToken+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(tokenFile, 0o644); err != nil {
		t.Fatal(err)
	}
	c := &tokenClient{tokenFile: tokenFile, endpoint: fake.APIEndpoint(), log: zaptest.NewLogger(t)}
	if _, err := c.Owner(context.Background(), fipID); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("an exposed token file was used: %v", err)
	}
	if n := len(fake.Requests()); n != 0 {
		t.Fatalf("%d requests with a refused token, want none", n)
	}
	if err := os.Chmod(tokenFile, 0o600); err != nil {
		t.Fatal(err)
	}
	owner, err := c.Owner(context.Background(), fipID)
	if err != nil || owner != fake.Owner(fipID) {
		t.Fatalf("after chmod 600: owner %d, %v; want %d", owner, err, fake.Owner(fipID))
	}
}

// startNamed runs a long sleep whose process name (comm) is name, and
// returns its PID; cleanup kills it.
func startNamed(t *testing.T, name string) int {
	t.Helper()
	bin := filepath.Join(t.TempDir(), name)
	data, err := os.ReadFile("/bin/sleep")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd.Process.Pid
}

// TestConfirmMaster: the healer acts only while a keepalived runs and the
// Floating IP is on this node.
func TestConfirmMaster(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "keepalived.pid")
	fip := netip.MustParseAddr("203.0.113.10")
	withFIP := func() ([]netip.Addr, error) { return []netip.Addr{netip.MustParseAddr("10.0.0.5"), fip}, nil }
	withoutFIP := func() ([]netip.Addr, error) { return []netip.Addr{netip.MustParseAddr("10.0.0.5")}, nil }
	writePID := func(pid int) {
		if err := os.WriteFile(pidFile, []byte(strconv.Itoa(pid)+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	if err := confirmMaster(fip, pidFile, withFIP)(); err == nil || !strings.Contains(err.Error(), "keepalived is not running") {
		t.Errorf("no pid file: %v", err)
	}
	writePID(startNamed(t, "not-keepalived"))
	if err := confirmMaster(fip, pidFile, withFIP)(); err == nil || !strings.Contains(err.Error(), "is gone") {
		t.Errorf("a PID that is not keepalived: %v", err)
	}
	writePID(startNamed(t, "keepalived"))
	if err := confirmMaster(fip, pidFile, withoutFIP)(); err == nil || !strings.Contains(err.Error(), "203.0.113.10 is not on this node") {
		t.Errorf("the address not here: %v", err)
	}
	if err := confirmMaster(fip, pidFile, withFIP)(); err != nil {
		t.Errorf("keepalived running with the address here: %v", err)
	}
}

// TestHealerStartsOnceTheStateIsUsable: a state file missing when the agent
// starts does not leave self-healing off for good.
func TestHealerStartsOnceTheStateIsUsable(t *testing.T) {
	dir := t.TempDir()
	statePath := filepath.Join(dir, "state.yaml")
	o := parseOptions[*runOptions](t, "run", "--state", statePath, "--node", "lb1", "--state-dir", filepath.Join(dir, "run"),
		"--keepalived-pid-file", filepath.Join(dir, "keepalived.pid"), "--heal-interval", "20ms")
	core, logs := observer.New(zap.InfoLevel)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	startHealer(ctx, *o, zap.New(core))

	waitLog := func(msg string) {
		t.Helper()
		for range 250 {
			if logs.FilterMessage(msg).Len() > 0 {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatalf("no log %q; got %v", msg, logs.All())
	}
	waitLog("Floating IP self-healing cannot start yet; trying again")
	yaml := "controlPlanes: [{name: cp1, address: 10.0.0.11}]\nloadBalancers:\n  - {name: lb1, address: 10.0.0.5, serverID: 1001}\n  - {name: lb2, address: 10.0.0.6, serverID: 1002}\nfloatingIP: {id: 4711, address: 203.0.113.10}\n"
	if err := os.WriteFile(statePath, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	waitLog("Floating IP self-healing on")
}
