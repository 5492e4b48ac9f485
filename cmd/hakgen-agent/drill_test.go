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
