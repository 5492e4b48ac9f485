//go:build linux

package sdbox

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// keptCapabilities are the capabilities the machine's processes may hold:
// the set systemd-nspawn grants a container with a private network, plus
// CAP_IPC_LOCK. Everything else (setting the clock, loading modules, raw
// I/O, the kernel log, BPF, audit control, ...) acts on the host kernel
// rather than on a namespace, so it is dropped from the bounding set before
// systemd runs.
var keptCapabilities = []int{
	unix.CAP_CHOWN, unix.CAP_DAC_OVERRIDE, unix.CAP_DAC_READ_SEARCH,
	unix.CAP_FOWNER, unix.CAP_FSETID, unix.CAP_KILL, unix.CAP_SETGID,
	unix.CAP_SETUID, unix.CAP_SETPCAP, unix.CAP_LINUX_IMMUTABLE,
	unix.CAP_NET_BIND_SERVICE, unix.CAP_NET_BROADCAST, unix.CAP_NET_ADMIN,
	unix.CAP_NET_RAW, unix.CAP_IPC_LOCK, unix.CAP_IPC_OWNER,
	unix.CAP_SYS_CHROOT, unix.CAP_SYS_PTRACE, unix.CAP_SYS_ADMIN,
	unix.CAP_SYS_BOOT, unix.CAP_SYS_NICE, unix.CAP_SYS_RESOURCE,
	unix.CAP_SYS_TTY_CONFIG, unix.CAP_MKNOD, unix.CAP_LEASE,
	unix.CAP_AUDIT_WRITE, unix.CAP_SETFCAP,
}

// dropCapabilities removes every capability not kept from the calling
// thread's bounding set; execve then limits systemd to what is left.
func dropCapabilities() error {
	last, err := lastCapability()
	if err != nil {
		return err
	}
	for c := 0; c <= last; c++ {
		if slices.Contains(keptCapabilities, c) {
			continue
		}
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0); err != nil && !errors.Is(err, unix.EINVAL) {
			return fmt.Errorf("dropping capability %d: %w", c, err)
		}
	}
	return nil
}

// lastCapability is the highest capability the running kernel knows.
func lastCapability() (int, error) {
	b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap")
	if err != nil {
		return 0, fmt.Errorf("reading last capability: %w", err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, fmt.Errorf("parsing last capability: %w", err)
	}
	return n, nil
}
