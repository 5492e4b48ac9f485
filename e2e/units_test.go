//go:build linux

package e2e

import (
	"fmt"
	"strings"
	"testing"

	"github.com/hakgen/hakgen/e2e/sdbox"
)

// probeUnit runs a long sleep; each reload appends a line to reloads.
const probeUnit = `[Unit]
Description=sdbox probe

[Service]
ExecStart=/bin/sleep infinity
ExecReload=/bin/sh -c 'echo reloaded >>/run/probe/reloads'
RuntimeDirectory=probe
RuntimeDirectoryPreserve=yes
Restart=on-failure
RestartSec=100ms
`

func TestRunUnitStartsReloadsAndStops(t *testing.T) {
	t.Parallel()
	m := sdbox.Boot(t, sdbox.Options{})
	writeFile(t, m, "/run/systemd/system/probe.service", probeUnit)
	systemctl(t, m, "daemon-reload")

	systemctl(t, m, "start", "probe.service")
	if got := property(t, m, "probe.service", "ActiveState"); got != "active" {
		t.Fatalf("probe.service is %q after start", got)
	}
	pid := property(t, m, "probe.service", "MainPID")
	systemctl(t, m, "reload", "probe.service")
	systemctl(t, m, "reload", "probe.service")
	if got := run(t, m, "cat", "/run/probe/reloads"); got != "reloaded\nreloaded" {
		t.Errorf("ExecReload ran %q, want two runs", got)
	}
	if got := property(t, m, "probe.service", "MainPID"); got != pid {
		t.Errorf("reload replaced the main process: %s -> %s", pid, got)
	}
	systemctl(t, m, "stop", "probe.service")
	if got := property(t, m, "probe.service", "ActiveState"); got != "inactive" {
		t.Errorf("probe.service is %q after stop", got)
	}
}

func TestTransientUnitStartsAndStops(t *testing.T) {
	t.Parallel()
	m := sdbox.Boot(t, sdbox.Options{})

	run(t, m, "systemd-run", "--unit=transient-probe", "--service-type=exec", "/bin/sleep", "infinity")
	if got := property(t, m, "transient-probe.service", "ActiveState"); got != "active" {
		t.Fatalf("transient unit is %q", got)
	}
	if got := property(t, m, "transient-probe.service", "Transient"); got != "yes" {
		t.Errorf("Transient=%q", got)
	}
	systemctl(t, m, "stop", "transient-probe.service")
	if got := property(t, m, "transient-probe.service", "ActiveState"); got != "inactive" {
		t.Errorf("transient unit is %q after stop", got)
	}
}

func TestRestartOnFailureAfterKill(t *testing.T) {
	t.Parallel()
	m := sdbox.Boot(t, sdbox.Options{})
	writeFile(t, m, "/run/systemd/system/probe.service", probeUnit)
	systemctl(t, m, "daemon-reload")
	systemctl(t, m, "start", "probe.service")
	oldPID := property(t, m, "probe.service", "MainPID")

	run(t, m, "kill", "-9", oldPID)

	eventually(t, "restart after SIGKILL", func() error {
		active := property(t, m, "probe.service", "ActiveState")
		restarts := property(t, m, "probe.service", "NRestarts")
		pid := property(t, m, "probe.service", "MainPID")
		if active != "active" || restarts != "1" || pid == "0" || pid == oldPID {
			return fmt.Errorf("probe.service %s, %s restarts, main PID %s (killed %s)", active, restarts, pid, oldPID)
		}
		return nil
	})
	journal, err := m.Journal("probe.service")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(journal, "status=9/KILL") {
		t.Errorf("journal does not record the kill:\n%s", journal)
	}
}
