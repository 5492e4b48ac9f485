//go:build linux

package sdbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Target is the unit a machine boots into, in place of default.target.
const Target = "hakgen-e2e.target"

// VendorUnitDir is where Debian installs the unit files that
// [Options.Units] names.
const VendorUnitDir = "/lib/systemd/system"

const (
	// stateDir holds the harness's own files inside the machine.
	stateDir = "/run/sdbox"
	// unitDir holds the curated vendor units and the generated targets.
	unitDir = stateDir + "/units"
	// emptyDir is an empty directory, used as the only generator path.
	emptyDir = stateDir + "/empty"
	// overlayDir holds the upper and work directories of the overlays.
	overlayDir = stateDir + "/overlay"
)

// unitPath is SYSTEMD_UNIT_PATH inside the machine: the runtime directories
// of a normal system in their normal order, then the curated set. The
// host's /etc/systemd/system and /lib/systemd/system are absent on purpose.
var unitPath = strings.Join([]string{
	"/run/systemd/system.control",
	"/run/systemd/transient",
	"/run/systemd/system",
	unitDir,
}, ":")

// baseUnits are the vendor units every machine carries: the journal and the
// system bus.
var baseUnits = []string{
	"systemd-journald.socket",
	"systemd-journald-dev-log.socket",
	"systemd-journald.service",
	"dbus.socket",
	"dbus.service",
}

// stubTargets are the synchronization points that vendor units order
// against or require through their default dependencies. Inside the machine
// they are empty, so requiring them starts nothing of the host's.
var stubTargets = []string{
	"sysinit.target", "basic.target", "sockets.target", "paths.target",
	"timers.target", "slices.target", "local-fs.target", "swap.target",
	"network.target", "network-online.target", "nss-lookup.target",
	"multi-user.target", "shutdown.target",
}

// unitFiles returns the machine's curated unit directory: file names
// (drop-ins as "name.d/file.conf") mapped to contents. Vendor units are read
// from vendorDir; a missing one is an error.
func unitFiles(vendorDir string, extra []string) (map[string]string, error) {
	files := map[string]string{
		Target:         bootTarget(),
		"system.slice": "[Unit]\nDescription=System Slice\nDefaultDependencies=no\n",
	}
	for _, name := range stubTargets {
		files[name] = stubTarget(name)
	}
	var errs []error
	for _, name := range append(append([]string{}, baseUnits...), extra...) {
		errs = append(errs, copyVendorUnit(files, vendorDir, name))
	}
	return files, errors.Join(errs...)
}

// bootTarget is the content of Target: it pulls in the journal and the
// system bus, so the bus answers as soon as the machine is running.
func bootTarget() string {
	return "[Unit]\n" +
		"Description=hakgen end-to-end test machine\n" +
		"Wants=systemd-journald.socket systemd-journald-dev-log.socket dbus.socket dbus.service\n" +
		"After=systemd-journald.socket systemd-journald-dev-log.socket dbus.socket dbus.service\n" +
		"AllowIsolate=yes\n"
}

func stubTarget(name string) string {
	return "[Unit]\n" +
		"Description=" + name + " (empty in the test machine)\n" +
		"DefaultDependencies=no\n"
}

// copyVendorUnit adds the unit name and its drop-in directory from dir to
// files.
func copyVendorUnit(files map[string]string, dir, name string) error {
	data, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return fmt.Errorf("reading vendor unit: %w", err)
	}
	files[name] = string(data)
	dropIns, err := filepath.Glob(filepath.Join(dir, name+".d", "*.conf"))
	if err != nil {
		return fmt.Errorf("listing drop-ins of %s: %w", name, err)
	}
	for _, p := range dropIns {
		data, err := os.ReadFile(p)
		if err != nil {
			return fmt.Errorf("reading drop-in: %w", err)
		}
		files[name+".d/"+filepath.Base(p)] = string(data)
	}
	return nil
}
