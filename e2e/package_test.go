//go:build linux

package e2e

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/hakgen/hakgen/e2e/sdbox"
)

// packageTrees are listed before installation and after purge: a path
// that appears in between is something the package left behind. dpkg's
// own database is expected to change.
var packageTrees = []string{"/etc", "/var/lib", "/usr", "/run/hakgen"}

// TestPackageInstallUpgradeRemovePurge installs the .deb that `make deb`
// builds into a machine running systemd, then checks the installed files,
// the enabled but idle unit, the example state holding the agent back, a
// start after the operator's edit, an upgrade that keeps the edit and
// restarts the agent, a removal that stops it and a purge that leaves
// nothing behind.
func TestPackageInstallUpgradeRemovePurge(t *testing.T) {
	t.Parallel()
	deb := buildDeb(t)
	m := bootForPackage(t, deb)
	prepareHAProxy(t, m)
	systemctl(t, m, "start", "haproxy.service") // it creates files of its own
	before := listTrees(t, m)

	out := dpkgInstall(t, m, deb)
	if !strings.Contains(out, "enabled, not started") {
		t.Errorf("dpkg -i output lacks the postinst's note:\n%s", out)
	}
	checkInstalled(t, m, deb)
	exposeInstalledUnit(t, m)
	checkExampleHoldsBack(t, m)

	writeFile(t, m, statePath, loopbackState())
	systemctl(t, m, "start", agentUnit)
	waitListeningAny(t, m, 16443)
	pid := property(t, m, agentUnit, "MainPID")

	dpkgInstall(t, m, deb) // the upgrade path: the same version over itself
	if got := readFile(t, m, statePath); got != loopbackState() {
		t.Errorf("the upgrade changed the edited %s:\n%s", statePath, got)
	}
	if got := property(t, m, agentUnit, "ActiveState"); got != "active" {
		t.Errorf("%s is %q after the upgrade", agentUnit, got)
	}
	if got := property(t, m, agentUnit, "MainPID"); got == pid || got == "0" {
		t.Errorf("the upgrade did not restart the agent: main PID %s, before %s", got, pid)
	}

	run(t, m, "dpkg", "--remove", "hakgen-agent")
	checkRemoved(t, m)

	run(t, m, "dpkg", "--purge", "hakgen-agent")
	run(t, m, "rm", "/run/systemd/system/"+agentUnit) // the test's own link
	if left := newPaths(before, listTrees(t, m)); len(left) > 0 {
		t.Errorf("purge left behind:\n%s", strings.Join(left, "\n"))
	}
	if out, err := m.Run(context.Background(), "dpkg-query", "-W", "hakgen-agent"); err == nil {
		t.Errorf("dpkg still knows the package after purge: %s", out)
	}
}

// checkInstalled checks what dpkg -i put in place.
func checkInstalled(t *testing.T, m *sdbox.Machine, deb builtDeb) {
	t.Helper()
	status := run(t, m, "dpkg-query", "-W", "-f", "${Status} ${Version}", "hakgen-agent")
	if status != "install ok installed "+deb.version {
		t.Errorf("dpkg status %q, want installed %s", status, deb.version)
	}
	if got := run(t, m, "hakgen-agent", "version"); !strings.HasPrefix(got, "hakgen-agent "+deb.version+" (commit ") {
		t.Errorf("installed binary says %q, want version %s", got, deb.version)
	}
	if got := readFile(t, m, installedUnit); got != repoFile(t, "packaging/hakgen-agent.service") {
		t.Errorf("installed unit differs from packaging/hakgen-agent.service:\n%s", got)
	}
	if got := readFile(t, m, statePath); got != repoFile(t, "packaging/state-header.yaml")+repoFile(t, "testdata/quickstart.yaml") {
		t.Errorf("installed state differs from the header and the quick-start state:\n%s", got)
	}
	if got := run(t, m, "dpkg-query", "-W", "-f", "${Conffiles}", "hakgen-agent"); !strings.Contains(got, statePath+" ") {
		t.Errorf("conffiles %q do not list %s", got, statePath)
	}
	link := run(t, m, "readlink", "/etc/systemd/system/multi-user.target.wants/"+agentUnit)
	if link != installedUnit {
		t.Errorf("enablement link points to %q, want %s", link, installedUnit)
	}
	// The example is valid: the agent's own check passes under the unit's
	// sandbox (see TestAgentUnitSandbox), and here as plain root.
	run(t, m, "hakgen-agent", "validate", "--offline")
}

// checkExampleHoldsBack starts the unit with the example state still in
// place and checks that the marker line keeps the agent from running.
func checkExampleHoldsBack(t *testing.T, m *sdbox.Machine) {
	t.Helper()
	systemctl(t, m, "start", agentUnit) // a skipped start is no failure
	if got := property(t, m, agentUnit, "ActiveState"); got != "inactive" {
		t.Errorf("with the example state %s is %q, want inactive", agentUnit, got)
	}
	journal, err := m.Journal(agentUnit)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(journal, "is still the example") || !strings.Contains(journal, "Skipped due to 'exec-condition'") {
		t.Errorf("journal does not say why the agent did not start:\n%s", journal)
	}
}

// checkRemoved checks a removal (not a purge): the agent is stopped and
// masked, the binary is gone, the operator's state stays.
func checkRemoved(t *testing.T, m *sdbox.Machine) {
	t.Helper()
	if got := property(t, m, agentUnit, "ActiveState"); got != "inactive" {
		t.Errorf("%s is %q after removal", agentUnit, got)
	}
	if out, err := m.Run(context.Background(), "test", "-e", "/usr/bin/hakgen-agent"); err == nil {
		t.Errorf("/usr/bin/hakgen-agent is still there after removal %s", out)
	}
	if got := readFile(t, m, statePath); got != loopbackState() {
		t.Errorf("removal changed %s:\n%s", statePath, got)
	}
	if got := run(t, m, "readlink", "/etc/systemd/system/"+agentUnit); got != "/dev/null" {
		t.Errorf("after removal the unit is linked to %q, want a mask (/dev/null)", got)
	}
}

// listTrees lists every path below packageTrees inside m, sorted.
func listTrees(t *testing.T, m *sdbox.Machine) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), sdbox.CommandTimeout)
	defer cancel()
	// A missing tree lists nothing; find's complaint about it is dropped.
	script := `for d in "$@"; do [ -e "$d" ] && find "$d"; done; true`
	out, err := m.Run(ctx, append([]string{"/bin/sh", "-c", script, "sh"}, packageTrees...)...)
	if err != nil {
		t.Fatal(err)
	}
	paths := strings.Split(strings.TrimSpace(out), "\n")
	slices.Sort(paths)
	return paths
}

// newPaths returns the paths of after that are not in before, except
// dpkg's own database.
func newPaths(before, after []string) []string {
	var out []string
	for _, p := range after {
		if _, found := slices.BinarySearch(before, p); found || strings.HasPrefix(p, "/var/lib/dpkg/") {
			continue
		}
		out = append(out, p)
	}
	return out
}

// readFile returns a file of m and fails t when it cannot be read.
func readFile(t *testing.T, m *sdbox.Machine, path string) string {
	t.Helper()
	data, err := m.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}
