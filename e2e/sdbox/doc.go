//go:build linux

// Package sdbox boots Debian's systemd as PID 1 of a throwaway machine built
// from private Linux namespaces, for end-to-end tests that need the real
// service manager: unit files, drop-ins, reloads, restarts and the system
// D-Bus.
//
// # Lifecycle
//
// [Boot] re-executes the test binary with fresh pid, mount, uts, net, ipc and
// cgroup namespaces, inside a cgroup2 directory of its own. That process
// (PID 1 inside) prepares the machine's file system, drops the capabilities
// that reach beyond namespaces, and executes /lib/systemd/systemd, which
// boots into [Target] rather than the host's default.target. Boot returns once
// `systemctl is-system-running` reports running or degraded, and registers a
// cleanup that kills that PID 1 with SIGKILL (the kernel then kills every
// other process of its pid namespace), waits for it, and removes its cgroup.
// The re-execution is served by this package's init function, so any test
// binary that imports sdbox can boot machines; no TestMain is needed.
//
// # What the machine shares with the host
//
// The machine sees the host's file system read-only, except for:
//   - empty tmpfs on /run, /tmp, /var/tmp and /var/log (the journal is
//     volatile, under /run/log/journal);
//   - copy-on-write overlays on /etc and /var/lib: writes land in memory and
//     vanish with the machine, the host's files are never modified;
//   - a private /dev holding only null, zero, full, random, urandom, tty, a
//     devpts instance, shm, mqueue, and a console wired to a pseudo-terminal
//     the harness reads (see [Machine.Console]);
//   - its own /proc (with /proc/sys read-only except /proc/sys/net), a
//     read-only /sys and a cgroup2 hierarchy rooted at its own cgroup;
//   - whatever [Options] adds.
//
// systemd finds units only in /run/systemd/transient, /run/systemd/system
// and a generated directory holding a curated set: journald, the D-Bus
// system bus, stub targets, and the units named in [Options.Units], copied
// from /lib/systemd/system. The host's /etc/systemd is never consulted and
// generators do not run, so nothing the host enables (haproxy, keepalived,
// timesyncd, swap, fstab mounts) starts inside. The network namespace holds
// only a loopback interface, which Boot brings up.
//
// Tests write units and drop-ins to /run/systemd/system with
// [Machine.WriteFile], then run `systemctl daemon-reload`.
package sdbox
