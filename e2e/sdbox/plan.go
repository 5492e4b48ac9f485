//go:build linux

package sdbox

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
)

// planEnv names the environment variable that carries the plan to the
// re-executed test binary. Its presence is what makes init bootstrap a
// machine instead of running tests.
const planEnv = "HAKGEN_SDBOX_PLAN"

// maxPlanSize keeps the encoded plan below the kernel's limit for one
// environment string (128 KiB).
const maxPlanSize = 100 << 10

// SystemdPath is the service manager a machine boots.
const SystemdPath = "/lib/systemd/systemd"

// plan is everything the machine's first process needs to prepare its file
// system and execute systemd. Boot builds it on the host; bootstrap carries
// it out inside the new namespaces.
type plan struct {
	Hostname  string            `json:"hostname"`
	MachineID string            `json:"machineID"`
	Mounts    []mountSpec       `json:"mounts"`
	Units     map[string]string `json:"units"`
}

// mountKind says what a mountSpec mounts.
type mountKind string

const (
	kindTmpfs   mountKind = "tmpfs"
	kindOverlay mountKind = "overlay"
	kindBind    mountKind = "bind"
)

// mountSpec is one mount of the machine's file system, made after the
// harness's own /proc, /sys and /dev, in plan order.
type mountSpec struct {
	Kind     mountKind `json:"kind"`
	Target   string    `json:"target"`
	Source   string    `json:"source,omitempty"`   // bind: the host path
	Mode     uint32    `json:"mode,omitempty"`     // tmpfs: the root directory's mode
	ReadOnly bool      `json:"readOnly,omitempty"` // bind
}

// planMounts orders the machine's mounts: the base tmpfs (/run first: the
// overlays keep their upper layers there), the overlays, then the caller's
// tmpfs and binds, which may lie below any of those.
func planMounts(o Options) []mountSpec {
	mounts := []mountSpec{
		{Kind: kindTmpfs, Target: "/run", Mode: 0o755},
		{Kind: kindTmpfs, Target: "/tmp", Mode: 0o1777},
		{Kind: kindTmpfs, Target: "/var/tmp", Mode: 0o1777},
		{Kind: kindTmpfs, Target: "/var/log", Mode: 0o755},
	}
	for _, d := range append([]string{"/etc", "/var/lib"}, o.Overlays...) {
		mounts = append(mounts, mountSpec{Kind: kindOverlay, Target: d})
	}
	for _, d := range o.Tmpfs {
		mounts = append(mounts, mountSpec{Kind: kindTmpfs, Target: d, Mode: 0o755})
	}
	for _, b := range o.Binds {
		mounts = append(mounts, mountSpec{Kind: kindBind, Target: b.Target, Source: b.Source, ReadOnly: b.ReadOnly})
	}
	return mounts
}

// newPlan validates o and reads the vendor units it names.
func newPlan(o Options) (plan, error) {
	if err := o.validate(); err != nil {
		return plan{}, fmt.Errorf("invalid options: %w", err)
	}
	units, err := unitFiles(VendorUnitDir, o.Units)
	if err != nil {
		return plan{}, fmt.Errorf("collecting units: %w", err)
	}
	id := make([]byte, 16)
	if _, err := rand.Read(id); err != nil {
		return plan{}, fmt.Errorf("generating machine id: %w", err)
	}
	return plan{
		Hostname:  o.hostname(),
		MachineID: hex.EncodeToString(id),
		Mounts:    planMounts(o),
		Units:     units,
	}, nil
}

func (p plan) encode() (string, error) {
	b, err := json.Marshal(p)
	if err != nil {
		return "", fmt.Errorf("encoding plan: %w", err)
	}
	if len(b) > maxPlanSize {
		return "", fmt.Errorf("encoded plan is %d bytes, more than %d", len(b), maxPlanSize)
	}
	return string(b), nil
}

func decodePlan(s string) (plan, error) {
	var p plan
	if err := json.Unmarshal([]byte(s), &p); err != nil {
		return plan{}, fmt.Errorf("decoding plan: %w", err)
	}
	return p, nil
}

// systemdArgv is the command line of the machine's PID 1.
func systemdArgv() []string {
	return []string{SystemdPath, "--unit=" + Target, "--log-color=no", "--show-status=yes"}
}

// systemdEnv is the environment of the machine's PID 1. "container" makes
// systemd behave as in any container (no kernel setup, no unmounting or
// swapoff at shutdown); the paths confine unit loading to the curated set
// and disable generators.
func systemdEnv() []string {
	return []string{
		"container=hakgen-e2e",
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"LANG=C.UTF-8",
		"TERM=dumb",
		"SYSTEMD_UNIT_PATH=" + unitPath,
		"SYSTEMD_GENERATOR_PATH=" + emptyDir,
		"SYSTEMD_ENVIRONMENT_GENERATOR_PATH=" + emptyDir,
	}
}
