//go:build linux

package sdbox

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hakgen/hakgen/internal/spawn"
	"github.com/hakgen/hakgen/internal/tooltest"
)

// namespaces are the namespaces a machine gets; it shares only the user
// and time namespaces with the host.
const namespaces = syscall.CLONE_NEWPID | syscall.CLONE_NEWNS | syscall.CLONE_NEWUTS |
	syscall.CLONE_NEWNET | syscall.CLONE_NEWIPC | syscall.CLONE_NEWCGROUP

// bootPoll is the pause between two looks at a booting system.
const bootPoll = 25 * time.Millisecond

// Machine is a booted systemd in private namespaces. Its methods run
// commands inside it from the host; they are safe for concurrent use and
// fail once the machine is down.
type Machine struct {
	t       testing.TB
	pid     int
	nsenter string
	cmd     *exec.Cmd
	exited  chan struct{} // closed once PID 1 has been reaped
	exitErr error         // PID 1's wait status, set before exited closes
	console *console
	cgroup  *cgroup
}

// Boot starts a machine, waits (at most opts.BootTimeout) until systemd
// reports the system "running" or "degraded", brings up loopback, and
// registers a cleanup on t that tears the machine down whatever the test's
// outcome. It needs root and the real tools; without them it skips t, or
// fails it when HAKGEN_REQUIRE_TOOLS=1. Any other problem fails t, with
// the machine's console output.
func Boot(t testing.TB, opts Options) *Machine {
	t.Helper()
	nsenter := needTools(t)
	p, err := newPlan(opts)
	if err != nil {
		t.Fatalf("sdbox: %v", err)
	}
	begin := time.Now()
	m, err := start(t, p, nsenter)
	if err != nil {
		t.Fatalf("sdbox: %v", err)
	}
	t.Cleanup(m.stop)
	state, err := m.waitRunning(opts.bootTimeout())
	if err != nil {
		t.Fatalf("sdbox: booting machine %d: %v\nconsole:\n%s", m.pid, err, m.Console())
	}
	if state == "degraded" {
		failed, _ := m.Systemctl("--no-pager", "--failed")
		t.Logf("sdbox: machine %d booted degraded:\n%s", m.pid, failed)
	}
	if _, err := m.Run(context.Background(), "ip", "link", "set", "lo", "up"); err != nil {
		t.Fatalf("sdbox: %v", err)
	}
	t.Logf("sdbox: machine (host PID %d) running after %s", m.pid, time.Since(begin).Round(time.Millisecond))
	return m
}

// needTools ends t unless it runs as root with systemd and the tools the
// harness drives it with; it returns nsenter's path.
func needTools(t testing.TB) string {
	t.Helper()
	tooltest.NeedRoot(t)
	if _, err := os.Stat(SystemdPath); err != nil {
		if tooltest.Required() {
			t.Fatalf("%s missing and HAKGEN_REQUIRE_TOOLS=1: %v", SystemdPath, err)
		}
		t.Skipf("%s missing: %v", SystemdPath, err)
	}
	for _, tool := range []string{"systemctl", "journalctl", "dbus-daemon", "ip"} {
		tooltest.Need(t, tool)
	}
	return tooltest.Need(t, "nsenter")
}

// start re-executes the test binary as the first process of new
// namespaces, inside a new cgroup, with the console as its terminal.
func start(t testing.TB, p plan, nsenter string) (*Machine, error) {
	enc, err := p.encode()
	if err != nil {
		return nil, err
	}
	cg, err := newCgroup()
	if err != nil {
		return nil, err
	}
	cmd, con, err := startInit(cg, enc)
	if err != nil {
		return nil, errors.Join(err, cg.destroy())
	}
	m := &Machine{
		t: t, pid: cmd.Process.Pid, nsenter: nsenter, cmd: cmd,
		exited: make(chan struct{}), console: con, cgroup: cg,
	}
	go func() {
		m.exitErr = cmd.Wait()
		close(m.exited)
	}()
	return m, nil
}

// startInit starts the re-executed test binary. PID 1 gets SIGKILL should
// the test binary die without cleaning up (a test timeout, for instance).
// The kernel sends that signal when the forking OS thread ends, and the Go
// runtime ends a thread whenever a goroutine locked to it returns (as
// network namespace helpers do, on any thread); so the child is forked
// from spawn's thread, which lives as long as the test binary.
func startInit(cg *cgroup, enc string) (*exec.Cmd, *console, error) {
	dir, err := cg.open()
	if err != nil {
		return nil, nil, err
	}
	defer dir.Close()
	con, peer, err := openConsole()
	if err != nil {
		return nil, nil, err
	}
	cmd := &exec.Cmd{
		Path:   "/proc/self/exe",
		Args:   []string{"sdbox-init"},
		Env:    []string{planEnv + "=" + enc},
		Stdin:  peer,
		Stdout: peer,
		Stderr: peer,
		SysProcAttr: &syscall.SysProcAttr{
			Cloneflags:  namespaces,
			UseCgroupFD: true,
			CgroupFD:    int(dir.Fd()),
			Setsid:      true,
			Pdeathsig:   syscall.SIGKILL,
		},
	}
	if err := spawn.Start(cmd); err != nil {
		return nil, nil, errors.Join(fmt.Errorf("starting machine: %w", err), con.close())
	}
	return cmd, con, nil
}

// waitRunning polls `systemctl is-system-running` until it says running or
// degraded, PID 1 exits, or timeout passes, whichever comes first. It
// returns the state reached.
func (m *Machine) waitRunning(timeout time.Duration) (string, error) {
	deadline := time.Now().Add(timeout)
	state := "unknown"
	for range int(timeout/bootPoll) + 1 {
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		out, _ := m.Run(ctx, "systemctl", "is-system-running")
		cancel()
		state = lastLine(out)
		switch state {
		case "running", "degraded":
			return state, nil
		}
		select {
		case <-m.exited:
			return state, fmt.Errorf("PID 1 exited: %v", m.exitErr)
		case <-time.After(bootPoll):
		}
		if time.Now().After(deadline) {
			break
		}
	}
	return state, fmt.Errorf("system is %q after %s", state, timeout)
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}
