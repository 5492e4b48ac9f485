//go:build linux

package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/hakgen/hakgen/e2e/sdbox"
	"github.com/hakgen/hakgen/internal/tooltest"
)

// sandboxProbe runs, as the installed unit's main process and so under
// all of its hardening, everything the agent does besides its own Go
// code: haproxy -c (PCRE2 under MemoryDenyWriteExecute=, the system call
// filter), finding this node by its addresses (netlink), writing
// keepalived.conf and haproxy.cfg by atomic rename keeping a file's group
// (CAP_CHOWN), keepalived -t, and reloads over D-Bus as root with no
// capability that polkit would look at. It also checks that the rest of
// the file system is read-only.
const sandboxProbe = `#!/bin/sh
set -eu
fail() { echo "probe: $*"; exit 1; }
hakgen-agent validate --state /etc/hakgen/state.yaml
hakgen-agent render --keepalived --state /etc/hakgen/state.yaml -o /etc/keepalived/keepalived.conf
keepalived -t -f /etc/keepalived/keepalived.conf || fail "keepalived -t exited $?"
hakgen-agent render --state /etc/hakgen/state.yaml -o /etc/haproxy/probe.cfg
systemctl reload haproxy.service
systemctl reload keepalived.service
for d in /etc/hakgen /usr/bin /run /var/lib/haproxy /root; do
	if touch "$d/hakgen-probe" 2>/dev/null; then fail "$d is writable"; fi
done
touch /run/hakgen/probe /var/lib/hakgen/probe /tmp/probe
echo "probe: all passed"
`

// keepalivedConfig is a minimal configuration keepalived.service starts
// with (it reports READY only once it runs a VRRP instance).
const keepalivedConfig = `vrrp_instance probe {
    state BACKUP
    interface enp7s0
    virtual_router_id 51
    priority 100
    advert_int 1
    virtual_ipaddress {
        192.0.2.1/32
    }
}
`

// sandboxDropIn turns the installed unit into a one-shot run of the probe,
// keeping every other setting of the unit.
const sandboxDropIn = `[Service]
Type=oneshot
ExecCondition=
ExecStart=
ExecStart=/usr/local/lib/hakgen-e2e/probe.sh
WatchdogSec=0
Restart=no
`

// TestAgentUnitSandbox checks that the hardening of the installed unit
// leaves the agent every access it needs and takes the rest away.
func TestAgentUnitSandbox(t *testing.T) {
	t.Parallel()
	tooltest.Need(t, "keepalived")
	deb := buildDeb(t)
	m := bootForPackage(t, deb)
	dpkgInstall(t, m, deb)
	exposeInstalledUnit(t, m)
	prepareHAProxy(t, m)
	// lb1's private interface, as the example state describes it.
	run(t, m, "ip", "link", "add", "enp7s0", "type", "veth", "peer", "name", "peer0")
	run(t, m, "ip", "addr", "add", "10.0.0.5/24", "dev", "enp7s0")
	run(t, m, "ip", "link", "set", "enp7s0", "up")
	run(t, m, "ip", "link", "set", "peer0", "up")
	// lb1's public interface, for the Floating IP, and the API token.
	run(t, m, "ip", "link", "add", "eth0", "type", "veth", "peer", "name", "peer1")
	run(t, m, "ip", "link", "set", "eth0", "up")
	writeFile(t, m, "/etc/hakgen/hcloud-token", "sandbox-probe-token\n")
	run(t, m, "chmod", "600", "/etc/hakgen/hcloud-token")
	// The example without its marker line; stats on loopback so haproxy
	// can bind it, and a maxconn within the machine's file limit (the
	// host's, often 20000).
	state := strings.Replace(dropFirstLine(readFile(t, m, statePath)), `bind: "10.0.0.5:8404"`, `bind: "127.0.0.1:8404"`, 1)
	if !strings.Contains(state, `bind: "127.0.0.1:8404"`) {
		t.Fatalf("the packaged example no longer binds stats on 10.0.0.5:\n%s", state)
	}
	writeFile(t, m, statePath, state+"haproxy: {maxconn: 2000}\n")
	writeFile(t, m, "/etc/haproxy/haproxy.cfg", tcpConfig(8401))
	writeFile(t, m, "/etc/keepalived/keepalived.conf", keepalivedConfig)
	systemctl(t, m, "start", "haproxy.service", "keepalived.service")
	// A file whose group the agent must keep when it replaces it.
	writeFile(t, m, "/etc/haproxy/probe.cfg", "")
	run(t, m, "chgrp", "haproxy", "/etc/haproxy/probe.cfg")
	if err := m.WriteFile("/usr/local/lib/hakgen-e2e/probe.sh", []byte(sandboxProbe), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, m, "/run/systemd/system/"+agentUnit+".d/probe.conf", sandboxDropIn)
	systemctl(t, m, "daemon-reload")

	_, startErr := m.Systemctl("start", agentUnit)
	journal, err := m.Journal(agentUnit)
	if err != nil {
		t.Fatal(err)
	}
	if startErr != nil || !strings.Contains(journal, "probe: all passed") {
		t.Fatalf("the probe failed under the unit's sandbox (%v):\n%s", startErr, journal)
	}
	if got := run(t, m, "stat", "-c", "%U:%G %a", "/etc/haproxy/probe.cfg"); got != "root:haproxy 644" {
		t.Errorf("replaced file is %s, want root:haproxy 644 kept", got)
	}
	if got := readFile(t, m, "/etc/keepalived/keepalived.conf"); !strings.Contains(got, "10.0.0.5") {
		t.Errorf("keepalived.conf rendered in the sandbox lacks this node's address:\n%s", got)
	}
}

// TestAgentUnitRunsAgent runs the installed agent through its installed
// unit under a real systemd, against Debian's haproxy.service and without
// keepalived's configuration directory: the start
// waits for READY, STATUS shows the state, an edit is reloaded into
// haproxy over D-Bus, an invalid edit changes nothing and shows in STATUS,
// kill -9 is followed by a restart, and the watchdog restarts an agent
// that stops answering.
func TestAgentUnitRunsAgent(t *testing.T) {
	t.Parallel()
	deb := buildDeb(t)
	m := bootForPackage(t, deb)
	dpkgInstall(t, m, deb)
	exposeInstalledUnit(t, m)
	prepareHAProxy(t, m)
	writeFile(t, m, statePath, loopbackState())
	// keepalived is only recommended: the agent runs without it.
	run(t, m, "rm", "-rf", "/etc/keepalived")

	systemctl(t, m, "start", agentUnit) // returns once the agent sent READY=1
	if got := property(t, m, agentUnit, "SubState"); got != "running" {
		t.Fatalf("%s is %q after start", agentUnit, got)
	}
	waitListeningAny(t, m, 16443)
	haproxyPID := property(t, m, "haproxy.service", "MainPID")
	if out, _ := m.Systemctl("status", agentUnit); !strings.Contains(out, "Status: \"") {
		t.Errorf("systemctl status shows no STATUS:\n%s", out)
	}
	t.Logf("STATUS after start: %s", property(t, m, agentUnit, "StatusText"))

	writeFile(t, m, statePath, loopbackState(19000))
	waitListeningAny(t, m, 19000)
	if got := property(t, m, "haproxy.service", "MainPID"); got != haproxyPID {
		t.Errorf("the edit restarted haproxy (main PID %s -> %s) instead of reloading it", haproxyPID, got)
	}

	checkReloadSignal(t, m)
	checkInvalidEdit(t, m)
	writeFile(t, m, statePath, loopbackState(19000))
	eventually(t, "STATUS healthy again", func() error { return statusWithout(t, m, "invalid") })

	checkRestartAfterKill(t, m)
	checkWatchdog(t, m)
}

// checkInvalidEdit writes a state with an invalid field and checks that
// haproxy.cfg stays as it is and STATUS names the problem.
func checkInvalidEdit(t *testing.T, m *sdbox.Machine) {
	t.Helper()
	cfg := readFile(t, m, "/etc/haproxy/haproxy.cfg")
	writeFile(t, m, statePath, strings.Replace(loopbackState(19000), "name: cp1", "name: CP1", 1))
	eventually(t, "STATUS naming the invalid state", func() error {
		status := property(t, m, agentUnit, "StatusText")
		if !strings.Contains(status, "CP1") {
			return fmt.Errorf("StatusText %q", status)
		}
		return nil
	})
	if got := readFile(t, m, "/etc/haproxy/haproxy.cfg"); got != cfg {
		t.Errorf("an invalid state changed haproxy.cfg:\n%s", got)
	}
	if out, _ := m.Systemctl("status", agentUnit); !strings.Contains(out, "CP1") {
		t.Errorf("systemctl status does not show the error:\n%s", out)
	}
	t.Logf("STATUS after an invalid edit: %s", property(t, m, agentUnit, "StatusText"))
}

// checkReloadSignal runs `systemctl reload` (ExecReload= sends SIGHUP) and
// waits for the reconcile it triggers in the agent's status file.
func checkReloadSignal(t *testing.T, m *sdbox.Machine) {
	t.Helper()
	systemctl(t, m, "reload", agentUnit)
	eventually(t, "a reconcile triggered by SIGHUP", func() error {
		var st struct {
			Last struct{ Trigger string } `json:"lastReconcile"`
		}
		data := readFile(t, m, "/run/hakgen/status.json")
		if err := json.Unmarshal([]byte(data), &st); err != nil || st.Last.Trigger != "signal" {
			return fmt.Errorf("status %s (%v)", data, err)
		}
		return nil
	})
}

// statusWithout fails while the agent's StatusText contains word.
func statusWithout(t *testing.T, m *sdbox.Machine, word string) error {
	t.Helper()
	if status := property(t, m, agentUnit, "StatusText"); status == "" || strings.Contains(status, word) {
		return fmt.Errorf("StatusText %q", status)
	}
	return nil
}

// checkRestartAfterKill kills the agent with SIGKILL and waits for
// systemd to start it again.
func checkRestartAfterKill(t *testing.T, m *sdbox.Machine) {
	t.Helper()
	restarts := property(t, m, agentUnit, "NRestarts")
	pid := property(t, m, agentUnit, "MainPID")
	run(t, m, "kill", "-9", pid)
	waitRestarted(t, m, pid, restarts)
}

// checkWatchdog shortens the watchdog, checks that the agent keeps it
// fed, then freezes the agent and waits for systemd to restart it.
func checkWatchdog(t *testing.T, m *sdbox.Machine) {
	t.Helper()
	writeFile(t, m, "/run/systemd/system/"+agentUnit+".d/watchdog.conf",
		"[Service]\nWatchdogSec=2s\nTimeoutAbortSec=1s\n")
	systemctl(t, m, "daemon-reload")
	systemctl(t, m, "restart", agentUnit)
	first := property(t, m, agentUnit, "WatchdogTimestampMonotonic")
	eventually(t, "a second watchdog ping", func() error {
		if got := property(t, m, agentUnit, "WatchdogTimestampMonotonic"); got == first {
			return fmt.Errorf("last ping at %s", got)
		}
		return nil
	})
	restarts := property(t, m, agentUnit, "NRestarts")
	pid := property(t, m, agentUnit, "MainPID")
	run(t, m, "kill", "-STOP", pid)
	waitRestarted(t, m, pid, restarts)
	journal, err := m.Journal(agentUnit)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(journal, "Watchdog timeout") {
		t.Errorf("journal does not record the watchdog timeout:\n%s", journal)
	}
}

// waitRestarted waits until the agent runs again under a new main PID
// with one more restart than before.
func waitRestarted(t *testing.T, m *sdbox.Machine, oldPID, oldRestarts string) {
	t.Helper()
	var want int
	fmt.Sscan(oldRestarts, &want)
	want++
	eventually(t, "restart of "+agentUnit, func() error {
		sub := property(t, m, agentUnit, "SubState")
		restarts := property(t, m, agentUnit, "NRestarts")
		pid := property(t, m, agentUnit, "MainPID")
		if sub != "running" || restarts != fmt.Sprint(want) || pid == "0" || pid == oldPID {
			return fmt.Errorf("%s, %s restarts, main PID %s (was %s)", sub, restarts, pid, oldPID)
		}
		return nil
	})
}

// dropFirstLine removes the first line of s.
func dropFirstLine(s string) string {
	_, rest, _ := strings.Cut(s, "\n")
	return rest
}
