//go:build linux

package sdbox

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"golang.org/x/sys/unix"
)

// init turns a re-executed test binary into the first process of a
// machine. It does nothing unless planEnv is set, which only Boot does, for
// the process it starts in new namespaces.
func init() {
	enc, ok := os.LookupEnv(planEnv)
	if !ok {
		return
	}
	err := bootstrap(enc)
	fmt.Fprintf(os.Stderr, "sdbox: preparing the machine: %v\n", err)
	os.Exit(1)
}

// bootstrap runs as PID 1 of fresh namespaces: it builds the machine's file
// system from the plan, drops the capabilities that reach beyond the
// namespaces, and executes systemd. It returns only on failure; the caller
// then exits, which ends the pid namespace.
func bootstrap(enc string) error {
	// The capability bounding set is per thread: the thread that drops
	// capabilities must be the one that executes systemd.
	runtime.LockOSThread()
	p, err := decodePlan(enc)
	if err != nil {
		return err
	}
	// Nothing mounted here may propagate back to the host.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("making mounts private: %w", err)
	}
	held, err := holdHostTrees(p.Mounts)
	if err != nil {
		return err
	}
	if err := buildFileSystem(p, held); err != nil {
		return err
	}
	if err := writeIdentity(p); err != nil {
		return err
	}
	if err := writeUnits(p.Units); err != nil {
		return err
	}
	if err := dropCapabilities(); err != nil {
		return err
	}
	if err := os.Chdir("/"); err != nil {
		return fmt.Errorf("changing to /: %w", err)
	}
	return fmt.Errorf("executing %s: %w", SystemdPath, unix.Exec(SystemdPath, systemdArgv(), systemdEnv()))
}

// buildFileSystem makes the host's tree read-only, then mounts the
// machine's own /proc, /sys, /dev and the planned mounts on top.
func buildFileSystem(p plan, held hostTrees) error {
	attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY}
	if err := unix.MountSetattr(-1, "/", unix.AT_RECURSIVE, &attr); err != nil {
		return fmt.Errorf("making the host's mounts read-only: %w", err)
	}
	if err := mountProc(); err != nil {
		return err
	}
	if err := mountSys(); err != nil {
		return err
	}
	if err := mountDev(held); err != nil {
		return err
	}
	for i, m := range p.Mounts {
		if err := applyMount(i, m, held); err != nil {
			return fmt.Errorf("mounting %s on %s: %w", m.Kind, m.Target, err)
		}
	}
	return nil
}

// writeIdentity gives the machine its own machine ID (so systemd never
// takes the boot for a first boot) and host name.
func writeIdentity(p plan) error {
	if err := os.WriteFile("/etc/machine-id", []byte(p.MachineID+"\n"), 0o444); err != nil {
		return fmt.Errorf("writing machine id: %w", err)
	}
	if err := os.WriteFile("/etc/hostname", []byte(p.Hostname+"\n"), 0o644); err != nil {
		return fmt.Errorf("writing host name: %w", err)
	}
	if err := unix.Sethostname([]byte(p.Hostname)); err != nil {
		return fmt.Errorf("setting host name: %w", err)
	}
	return nil
}

// writeUnits fills the curated unit directory and creates the empty
// directories systemd is pointed at.
func writeUnits(units map[string]string) error {
	for _, dir := range []string{unitDir, emptyDir, "/run/systemd/system"} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("creating unit directory: %w", err)
		}
	}
	for name, content := range units {
		p := filepath.Join(unitDir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return fmt.Errorf("creating drop-in directory: %w", err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			return fmt.Errorf("writing unit: %w", err)
		}
	}
	return nil
}
