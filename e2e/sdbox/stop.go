//go:build linux

package sdbox

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"
)

const (
	// exitTimeout bounds the wait for PID 1 to be reaped after SIGKILL.
	exitTimeout = 10 * time.Second
	// diagnosticsTimeout bounds each command that gathers failure details.
	diagnosticsTimeout = 5 * time.Second
	// consoleTail is how much of the console a failed test logs.
	consoleTail = 16 << 10
)

// stop tears the machine down; Boot registers it as a cleanup. After a
// failed test it first logs the failed units, the journal's tail and the
// console. It then kills PID 1 with SIGKILL, which makes the kernel kill
// every process of the pid namespace before PID 1 can be reaped; no
// shutdown runs inside. Last it empties and removes the machine's cgroup
// and closes the console. Problems fail the test.
func (m *Machine) stop() {
	if m.t.Failed() {
		m.logDiagnostics()
	}
	var errs []error
	if err := m.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		errs = append(errs, fmt.Errorf("killing PID 1: %w", err))
	}
	select {
	case <-m.exited:
	case <-time.After(exitTimeout):
		errs = append(errs, fmt.Errorf("PID 1 (host PID %d) not reaped %s after SIGKILL", m.pid, exitTimeout))
	}
	errs = append(errs, m.cgroup.destroy(), m.console.close())
	if err := errors.Join(errs...); err != nil {
		m.t.Errorf("sdbox: tearing down machine %d: %v", m.pid, err)
	}
}

// logDiagnostics logs what usually explains a failure inside the machine.
func (m *Machine) logDiagnostics() {
	for _, argv := range [][]string{
		{"systemctl", "--no-pager", "--failed"},
		{"journalctl", "--no-pager", "--quiet", "-o", "short-monotonic", "-n", "150"},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), diagnosticsTimeout)
		out, err := m.Run(ctx, argv...)
		cancel()
		m.t.Logf("sdbox: machine %d: %v (err=%v):\n%s", m.pid, argv, err, out)
	}
	con := m.Console()
	if len(con) > consoleTail {
		con = "[...]" + con[len(con)-consoleTail:]
	}
	m.t.Logf("sdbox: machine %d console:\n%s", m.pid, con)
}
