//go:build linux

package e2e

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/hakgen/hakgen/e2e/sdbox"
)

func TestMachineRunsSystemdAsPID1(t *testing.T) {
	t.Parallel()
	m := sdbox.Boot(t, sdbox.Options{})

	if got := run(t, m, "cat", "/proc/1/comm"); got != "systemd" {
		t.Errorf("PID 1 inside is %q, want systemd", got)
	}
	if got := systemctl(t, m, "is-system-running"); got != "running" {
		t.Errorf("system state %q, want running", got)
	}
	if got := run(t, m, "hostname"); got != sdbox.DefaultHostname {
		t.Errorf("host name %q, want %q", got, sdbox.DefaultHostname)
	}
	if got := property(t, m, "-.slice", "Id"); got != "-.slice" {
		t.Errorf("root slice id %q", got)
	}
	if !strings.Contains(m.Console(), "Reached target "+sdbox.Target) {
		t.Errorf("console does not report reaching %s:\n%s", sdbox.Target, m.Console())
	}
}

func TestMachineAnswersOnSystemBus(t *testing.T) {
	t.Parallel()
	m := sdbox.Boot(t, sdbox.Options{})

	out := run(t, m, "busctl", "call", "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
		"org.freedesktop.DBus.Properties", "Get", "ss", "org.freedesktop.systemd1.Manager", "Version")
	if !strings.HasPrefix(out, `v s "`) {
		t.Errorf("systemd's Version over D-Bus: %q", out)
	}
	// The bus itself is dbus-daemon, activated through dbus.socket.
	if got := property(t, m, "dbus.service", "ActiveState"); got != "active" {
		t.Errorf("dbus.service is %q", got)
	}
}

func TestMachineNetworkIsLoopbackOnly(t *testing.T) {
	t.Parallel()
	m := sdbox.Boot(t, sdbox.Options{})

	links := strings.Split(run(t, m, "ip", "-o", "link", "show"), "\n")
	if len(links) != 1 || !strings.Contains(links[0], ": lo:") || !strings.Contains(links[0], ",UP") {
		t.Errorf("links inside: %q, want loopback alone, up", links)
	}
	if out := run(t, m, "ip", "-o", "addr", "show", "dev", "lo"); !strings.Contains(out, "127.0.0.1/8") {
		t.Errorf("loopback addresses: %q", out)
	}
}

func TestMachineConfinesSystemd(t *testing.T) {
	t.Parallel()
	hostID, err := os.ReadFile("/etc/machine-id")
	if err != nil {
		t.Skipf("host has no machine id: %v", err)
	}
	m := sdbox.Boot(t, sdbox.Options{})

	// Capabilities that act on the host kernel are not in PID 1's bounding set.
	bounding := capabilityBoundingSet(t, run(t, m, "cat", "/proc/1/status"))
	for name, bit := range map[string]uint{
		"CAP_SYS_TIME": unix.CAP_SYS_TIME, "CAP_SYS_MODULE": unix.CAP_SYS_MODULE, "CAP_SYSLOG": unix.CAP_SYSLOG,
	} {
		if bounding&(1<<bit) != 0 {
			t.Errorf("%s is in PID 1's bounding set %#x", name, bounding)
		}
	}
	// /etc is a writable overlay; the host's files stay as they are.
	if got := run(t, m, "cat", "/etc/machine-id"); got == string(bytes.TrimSpace(hostID)) {
		t.Error("the machine shares the host's machine id")
	}
	writeFile(t, m, "/etc/hakgen-e2e-probe", "inside\n")
	if _, err := os.Stat("/etc/hakgen-e2e-probe"); !os.IsNotExist(err) {
		t.Errorf("a file written to the machine's /etc reached the host: %v", err)
	}
	if after, _ := os.ReadFile("/etc/machine-id"); !bytes.Equal(after, hostID) {
		t.Error("the host's machine id changed")
	}
	// Units the host has or enables do not exist inside unless asked for.
	if got := property(t, m, "timers.target", "Wants"); got != "" {
		t.Errorf("timers.target wants %q inside", got)
	}
	if got := property(t, m, "haproxy.service", "LoadState"); got != "not-found" {
		t.Errorf("haproxy.service is %q inside, want not-found", got)
	}
}

// capabilityBoundingSet parses CapBnd from a /proc/PID/status text.
func capabilityBoundingSet(t *testing.T, status string) uint64 {
	t.Helper()
	for line := range strings.Lines(status) {
		if v, ok := strings.CutPrefix(line, "CapBnd:"); ok {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				t.Fatalf("parsing %q: %v", line, err)
			}
			return n
		}
	}
	t.Fatalf("no CapBnd in %q", status)
	return 0
}
