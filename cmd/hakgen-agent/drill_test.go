package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/hakgen/hakgen/failover"
	"github.com/hakgen/hakgen/render"
)

// TestDrillRefusesWhatItCannotRehearse: drill sets nothing unless this
// node is the MASTER a failover would start from: a flag set already, --back
// on the preferred master, keepalived not running, a node that is not
// MASTER, a Floating IP not on this node each refuse with exit 4 and
// leave the maintenance flag as it was. The rehearsal itself runs in the
// HA lab.
func TestDrillRefusesWhatItCannotRehearse(t *testing.T) {
	dir := t.TempDir()
	statePath := filepath.Join(dir, "state.yaml")
	writeNotifyFile(t, statePath, quickStartState(t), 0o644)
	stateDir := filepath.Join(dir, "run")
	if err := os.Mkdir(stateDir, 0o755); err != nil {
		t.Fatal(err)
	}
	flag := filepath.Join(stateDir, render.MaintenanceFileName)
	pidFile := filepath.Join(dir, "keepalived.pid")
	drill := func(t *testing.T, want string, args ...string) {
		t.Helper()
		before, _ := os.ReadFile(flag)
		code, _, stderr := runCLI(t, append([]string{"drill", "--state", statePath, "--state-dir", stateDir, "--keepalived-pid-file", pidFile}, args...)...)
		if code != exitRefused || !strings.Contains(stderr, want) {
			t.Errorf("drill %v: exit %d, stderr:\n%s\nwant exit %d and %q", args, code, stderr, exitRefused, want)
		}
		if after, _ := os.ReadFile(flag); string(after) != string(before) {
			t.Errorf("drill %v changed the maintenance flag from %q to %q", args, before, after)
		}
	}

	writeNotifyFile(t, flag, "1\n", 0o644)
	drill(t, "the maintenance flag "+flag+" is set already", "--node", "lb1")
	writeNotifyFile(t, flag, "0\n", 0o644)
	drill(t, "lb1 is the preferred master: --back moves the Floating IP back to it", "--node", "lb1", "--back")
	drill(t, "keepalived is not running", "--node", "lb1")

	// A process named keepalived, as keepalived's pid file would name it.
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "keepalived")
	if data, err := os.ReadFile(sleep); err != nil || os.WriteFile(bin, data, 0o755) != nil {
		t.Fatalf("copying sleep: %v", err)
	}
	ka := exec.Command(bin, "60")
	if err := ka.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ka.Process.Kill(); _ = ka.Wait() })
	writeNotifyFile(t, pidFile, strconv.Itoa(ka.Process.Pid)+"\n", 0o644)
	store := failover.NewStore(stateDir)
	if _, err := store.Record(context.Background(), failover.Event{State: failover.Backup, Kind: "INSTANCE", Name: "hakgen-prod", Priority: 250}); err != nil {
		t.Fatal(err)
	}
	drill(t, `lb1 is not MASTER (keepalived last reported "BACKUP" here)`, "--node", "lb1")
	if _, err := store.Record(context.Background(), failover.Event{State: failover.Master, Kind: "INSTANCE", Name: "hakgen-prod", Priority: 250}); err != nil {
		t.Fatal(err)
	}
	drill(t, "the Floating IP 203.0.113.10 is not on this node", "--node", "lb1")
}

// TestDrillInstance: --instance picks one VRRP instance of a pair that has
// several, by its own flag; it is refused for a pair of one instance and
// for a name the state does not have, and a node that is not MASTER of the
// instance is refused, whatever it is of the other.
func TestDrillInstance(t *testing.T) {
	dir := t.TempDir()
	statePath := filepath.Join(dir, "state.yaml")
	stateDir := filepath.Join(dir, "run")
	run := func(args ...string) (int, string) {
		code, _, stderr := runCLI(t, append([]string{"drill", "--state", statePath, "--state-dir", stateDir, "--node", "lb1"}, args...)...)
		return code, stderr
	}
	writeNotifyFile(t, statePath, quickStartState(t), 0o644)
	if code, stderr := run("--instance", "hakgen-prod"); code != exitUsage || !strings.Contains(stderr, "the pair has one VRRP instance") {
		t.Errorf("--instance on a pair of one instance: exit %d\n%s", code, stderr)
	}
	writeNotifyFile(t, statePath, strings.Replace(dayTwoState, "hcloud: {tokenFile: hcloud-token}", "hcloud: {tokenFile: /nonexistent}", 1), 0o644)
	if code, stderr := run("--instance", "hakgen-staging"); code != exitUsage || !strings.Contains(stderr, `"hakgen-staging" is no VRRP instance of the state (it has hakgen-prod, hakgen-prod-lb2)`) {
		t.Errorf("an unknown instance: exit %d\n%s", code, stderr)
	}
	// A running keepalived; lb1 MASTER of its own instance, BACKUP of lb2's.
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "keepalived")
	if data, err := os.ReadFile(sleep); err != nil || os.WriteFile(bin, data, 0o755) != nil {
		t.Fatalf("copying sleep: %v", err)
	}
	ka := exec.Command(bin, "60")
	if err := ka.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ka.Process.Kill(); _ = ka.Wait() })
	pidFile := filepath.Join(dir, "keepalived.pid")
	writeNotifyFile(t, pidFile, strconv.Itoa(ka.Process.Pid)+"\n", 0o644)
	store := failover.NewStore(stateDir)
	for _, ev := range []failover.Event{
		{State: failover.Master, Kind: "INSTANCE", Name: "hakgen-prod", Priority: 250},
		{State: failover.Backup, Kind: "INSTANCE", Name: "hakgen-prod-lb2", Priority: 240},
	} {
		if _, err := store.Record(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
	}
	if code, stderr := run("--keepalived-pid-file", pidFile, "--instance", "hakgen-prod-lb2"); code != exitRefused || !strings.Contains(stderr, `lb1 is not MASTER of hakgen-prod-lb2 (keepalived last reported "BACKUP" here)`) {
		t.Errorf("the instance of the peer: exit %d\n%s", code, stderr)
	}
	flag := filepath.Join(stateDir, render.InstanceMaintenanceFile("hakgen-prod"))
	if code, stderr := run("--keepalived-pid-file", pidFile, "--instance", "hakgen-prod"); code != exitRefused || !strings.Contains(stderr, "the Floating IP 203.0.113.10 is not on this node") {
		t.Errorf("its own instance, address not here: exit %d\n%s", code, stderr)
	}
	if _, err := os.Stat(flag); err == nil {
		t.Errorf("a refused drill wrote the instance's flag %s", flag)
	}
}
