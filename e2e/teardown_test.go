//go:build linux

package e2e

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/hakgen/hakgen/e2e/sdbox"
	"github.com/hakgen/hakgen/internal/tooltest"
)

// TestTeardownLeavesNothingBehind boots a machine in a subtest, so that its
// cleanup has run when the subtest returns, then checks the host: no
// process left in the machine's pid namespace, the host's /tmp intact and
// untouched by what ran inside.
func TestTeardownLeavesNothingBehind(t *testing.T) {
	t.Parallel()
	tooltest.NeedRoot(t)
	marker, err := os.CreateTemp("/tmp", "hakgen-e2e-marker-*")
	if err != nil {
		t.Fatal(err)
	}
	marker.Close()
	t.Cleanup(func() { os.Remove(marker.Name()) })
	insideName := filepath.Base(marker.Name()) + "-inside"

	var pidNS string
	t.Run("machine", func(t *testing.T) {
		m := sdbox.Boot(t, sdbox.Options{})
		pidNS = namespaceOf(t, m.PID())
		if out := run(t, m, "ls", "-A", "/tmp"); out != "" {
			t.Errorf("the machine's /tmp is not empty: %q", out)
		}
		writeFile(t, m, "/tmp/"+insideName, "inside\n")
		writeFile(t, m, "/run/systemd/system/probe.service", probeUnit)
		systemctl(t, m, "daemon-reload")
		systemctl(t, m, "start", "probe.service")
		run(t, m, "systemd-run", "--unit=sleeper", "/bin/sleep", "infinity")
	})
	if t.Failed() {
		return
	}

	if left := processesIn(pidNS); len(left) > 0 {
		t.Errorf("processes left in the machine's pid namespace %s: %v", pidNS, left)
	}
	if _, err := os.Stat(marker.Name()); err != nil {
		t.Errorf("host /tmp marker: %v", err)
	}
	if _, err := os.Stat(filepath.Join("/tmp", insideName)); !os.IsNotExist(err) {
		t.Errorf("a file written to the machine's /tmp reached the host: %v", err)
	}
}

// namespaceOf names the pid namespace of a host process ("pid:[inode]").
func namespaceOf(t *testing.T, pid int) string {
	t.Helper()
	ns, err := os.Readlink(filepath.Join("/proc", strconv.Itoa(pid), "ns", "pid"))
	if err != nil {
		t.Fatal(err)
	}
	return ns
}

// processesIn lists the host PIDs of the processes in pid namespace ns.
func processesIn(ns string) []string {
	entries, _ := os.ReadDir("/proc")
	var pids []string
	for _, e := range entries {
		if e.Name()[0] < '0' || e.Name()[0] > '9' {
			continue
		}
		if got, err := os.Readlink(filepath.Join("/proc", e.Name(), "ns", "pid")); err == nil && got == ns {
			pids = append(pids, e.Name())
		}
	}
	return pids
}
