//go:build linux

package sdbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// CommandTimeout bounds each command run by the helpers that take no
// context (Systemctl, WriteFile, ReadFile, Journal, Property).
const CommandTimeout = 30 * time.Second

// commandEnv is the environment of commands run inside: the host test's
// own environment (TMPDIR, pagers, colors) does not leak in.
var commandEnv = []string{
	"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	"LANG=C.UTF-8",
	"TERM=dumb",
	"SYSTEMD_PAGER=cat",
	"SYSTEMD_COLORS=0",
}

// errDown is returned by commands aimed at a machine that is gone.
var errDown = errors.New("machine is down")

// PID is the host's PID of the machine's PID 1 (systemd), for tools that
// take a process, such as `ip link set DEV netns PID`.
func (m *Machine) PID() int { return m.pid }

// Console returns what systemd wrote to the machine's console so far
// (status lines, its own log messages and any early boot error).
func (m *Machine) Console() string { return m.console.String() }

// BusAddress is a D-Bus address of the machine's system bus that works
// from the host, for godbus and go-systemd clients in the test itself.
func (m *Machine) BusAddress() string {
	return fmt.Sprintf("unix:path=/proc/%d/root/run/dbus/system_bus_socket", m.pid)
}

// Run runs argv in all of the machine's namespaces, with its root and a
// clean environment, and returns stdout and stderr combined. A command that
// fails yields its output too, and an error that quotes it.
func (m *Machine) Run(ctx context.Context, argv ...string) (string, error) {
	return m.run(ctx, nil, argv...)
}

func (m *Machine) run(ctx context.Context, stdin io.Reader, argv ...string) (string, error) {
	if len(argv) == 0 {
		return "", errors.New("running in machine: empty command")
	}
	select {
	case <-m.exited:
		return "", fmt.Errorf("running %q: %w", argv[0], errDown)
	default:
	}
	args := append([]string{"--target", strconv.Itoa(m.pid), "--all", "--"}, argv...)
	cmd := exec.CommandContext(ctx, m.nsenter, args...)
	cmd.Env = commandEnv
	cmd.Stdin = stdin
	// A command killed by ctx may leave children inside holding the pipe.
	cmd.WaitDelay = time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("running %q in machine: %w: %s",
			strings.Join(argv, " "), err, bytes.TrimSpace(out))
	}
	return string(out), nil
}

// Systemctl runs systemctl inside with args.
func (m *Machine) Systemctl(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), CommandTimeout)
	defer cancel()
	return m.Run(ctx, append([]string{"systemctl"}, args...)...)
}

// Property returns one property of a unit, as `systemctl show -P` prints it.
func (m *Machine) Property(unit, name string) (string, error) {
	out, err := m.Systemctl("show", "-P", name, "--", unit)
	return strings.TrimSpace(out), err
}

// WriteFile writes data to path inside the machine with the given mode,
// creating missing parent directories. The file is replaced by rename, so
// a reader sees the old or the new content, never a mix. path must be
// writable inside: under /run, /tmp, /etc, /var/lib or an added mount.
func (m *Machine) WriteFile(path string, data []byte, mode fs.FileMode) error {
	ctx, cancel := context.WithTimeout(context.Background(), CommandTimeout)
	defer cancel()
	const script = `set -e; mkdir -p -- "$(dirname -- "$1")"; cat >"$1.sdbox-new"; ` +
		`chmod "$2" "$1.sdbox-new"; mv -f -- "$1.sdbox-new" "$1"`
	_, err := m.run(ctx, bytes.NewReader(data), "/bin/sh", "-c", script, "sh", path, fmt.Sprintf("%o", mode.Perm()))
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// ReadFile returns the content of path inside the machine.
func (m *Machine) ReadFile(path string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), CommandTimeout)
	defer cancel()
	out, err := m.Run(ctx, "cat", "--", path)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return []byte(out), nil
}

// Journal returns the journal of unit (messages of its processes and of
// systemd about it), after asking journald to write out what it holds.
func (m *Machine) Journal(unit string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), CommandTimeout)
	defer cancel()
	if _, err := m.Run(ctx, "journalctl", "--sync"); err != nil {
		return "", fmt.Errorf("syncing journal: %w", err)
	}
	out, err := m.Run(ctx, "journalctl", "--no-pager", "--quiet", "-o", "short-monotonic", "--unit", unit)
	if err != nil {
		return out, fmt.Errorf("reading journal of %s: %w", unit, err)
	}
	return out, nil
}
