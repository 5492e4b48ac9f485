//go:build linux

package sdbox

import (
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
	"time"
)

// DefaultBootTimeout bounds the wait for a booting machine when
// [Options.BootTimeout] is zero.
const DefaultBootTimeout = 30 * time.Second

// DefaultHostname is the machine's host name when [Options.Hostname] is empty.
const DefaultHostname = "hakgen-e2e"

// Options shape a machine. The zero value boots the base machine: systemd,
// journald and the system D-Bus.
type Options struct {
	// Units names vendor unit files copied, with their drop-in directories,
	// from /lib/systemd/system into the machine's unit path, for example
	// "haproxy.service". They are loaded but not started.
	Units []string

	// Tmpfs lists directories covered by an empty, writable tmpfs. A
	// missing directory is created, so its parent must be writable inside
	// (under /run, /tmp, /etc, /var/lib or another entry).
	Tmpfs []string

	// Overlays lists host directories made writable inside through an
	// overlay whose upper layer lives in the machine's memory. /etc and
	// /var/lib are always overlaid.
	Overlays []string

	// Binds makes host paths visible inside the machine.
	Binds []Bind

	// Hostname is the machine's host name; DefaultHostname when empty.
	Hostname string

	// BootTimeout bounds the wait for the system to reach "running" or
	// "degraded"; DefaultBootTimeout when zero.
	BootTimeout time.Duration
}

// Bind makes the host path Source (a file or a directory) visible at
// Target inside the machine. Source is resolved on the host before any of
// the machine's mounts exist, so it may live in the host's /tmp.
type Bind struct {
	Source   string
	Target   string
	ReadOnly bool
}

// reservedTrees are set up by the harness itself; options may not mount on
// them or below them.
var reservedTrees = []string{"/proc", "/sys", "/dev", stateDir}

// reservedDirs are mounted by the harness; options may mount below them but
// not on them.
var reservedDirs = []string{"/run", "/tmp", "/var/tmp", "/var/log", "/etc", "/var/lib"}

// validate reports every problem of o, joined.
func (o Options) validate() error {
	var errs []error
	for _, u := range o.Units {
		if u == "" || strings.ContainsAny(u, "/\x00") || !strings.Contains(u, ".") {
			errs = append(errs, fmt.Errorf("units: %q is not a unit file name", u))
		}
	}
	for _, d := range o.Tmpfs {
		errs = append(errs, checkMountTarget("tmpfs", d))
	}
	for _, d := range o.Overlays {
		errs = append(errs, checkMountTarget("overlays", d))
		if strings.ContainsAny(d, ",:\\") {
			errs = append(errs, fmt.Errorf("overlays: %q: ',', ':' and '\\' cannot be passed to overlayfs", d))
		}
	}
	for _, b := range o.Binds {
		if !path.IsAbs(b.Source) {
			errs = append(errs, fmt.Errorf("binds: source %q is not absolute", b.Source))
		}
		errs = append(errs, checkMountTarget("binds", b.Target))
	}
	if o.BootTimeout < 0 {
		errs = append(errs, fmt.Errorf("boot timeout: %s is negative", o.BootTimeout))
	}
	return errors.Join(errs...)
}

// checkMountTarget rejects relative, unclean and reserved mount targets.
func checkMountTarget(field, dir string) error {
	if !path.IsAbs(dir) || path.Clean(dir) != dir || dir == "/" {
		return fmt.Errorf("%s: %q is not a clean absolute path below /", field, dir)
	}
	for _, r := range reservedTrees {
		if dir == r || strings.HasPrefix(dir, r+"/") {
			return fmt.Errorf("%s: %q is managed by the harness", field, dir)
		}
	}
	if slices.Contains(reservedDirs, dir) {
		return fmt.Errorf("%s: %q is mounted by the harness already", field, dir)
	}
	return nil
}

func (o Options) hostname() string {
	if o.Hostname == "" {
		return DefaultHostname
	}
	return o.Hostname
}

func (o Options) bootTimeout() time.Duration {
	if o.BootTimeout == 0 {
		return DefaultBootTimeout
	}
	return o.BootTimeout
}
