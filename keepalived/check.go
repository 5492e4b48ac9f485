// Package keepalived runs the keepalived binary to check configurations.
package keepalived

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"

	"github.com/hakgen/hakgen/internal/childproc"
)

// DefaultBin is where Debian installs keepalived.
const DefaultBin = "/usr/sbin/keepalived"

// DefaultCheckTimeout bounds one check when Checker.Timeout is zero.
const DefaultCheckTimeout = time.Minute

// Checker validates a keepalived.conf with `keepalived -t -f FILE`.
// keepalived runs with a scrubbed environment (see childproc.Env).
type Checker struct {
	Bin string // keepalived binary; DefaultBin when empty
	// Timeout bounds one check when ctx has no earlier deadline;
	// DefaultCheckTimeout when zero.
	Timeout time.Duration
}

// CheckError is a configuration keepalived refused, with its messages.
// keepalived 2.2 exits 4 for fatal errors, 5 for warnings (a missing
// interface, for one) and 6 for script security problems; a file that
// warns would not run as written, so any of them refuses it.
type CheckError struct {
	File     string
	ExitCode int
	Output   string
}

func (e *CheckError) Error() string {
	return fmt.Sprintf("keepalived -t rejected %s (exit %d):\n%s", e.File, e.ExitCode, strings.TrimRight(e.Output, "\n"))
}

// The exit statuses of keepalived's configuration test (config_test_exit
// in keepalived 2.2) that judge the file. The others (1 out of memory, 2
// program error, 3 fatal, 7 no configuration) say it could not test it.
const (
	exitConfig         = 4 // a fatal error in the file, a missing interface or file
	exitConfigTest     = 5 // warnings
	exitConfigSecurity = 6 // script security
)

// Check runs the check on path. It returns keepalived's output when it
// passed with something to say, and a *CheckError when it refused the
// file: it exited 4, 5 or 6 and said why. Any other error means the check
// gave no verdict (the binary is missing, it was killed by a signal, it
// exited otherwise or silently, it did not end within the timeout): an
// environment problem, not a refused file.
func (c Checker) Check(ctx context.Context, path string) (warnings string, err error) {
	bin := c.Bin
	if bin == "" {
		bin = DefaultBin
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultCheckTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	out, runErr := childproc.Run(ctx, bin, "-t", "-f", path)
	var exit *exec.ExitError
	switch {
	case runErr == nil:
		return strings.TrimSpace(out), nil
	case ctx.Err() != nil:
		return "", fmt.Errorf("running %s -t on %s: stopped (killed) before its verdict: %w", bin, path, runErr)
	case errors.As(runErr, &exit) && verdict(exit) && strings.TrimSpace(out) != "":
		return "", &CheckError{File: path, ExitCode: exit.ExitCode(), Output: out}
	case errors.As(runErr, &exit):
		return "", fmt.Errorf("running %s -t on %s: it %s without keepalived's verdict (the file was not judged): %s",
			bin, path, childproc.Ended(runErr), childproc.Tail(out, 512))
	default:
		return "", fmt.Errorf("running %s -t on %s: %w", bin, path, runErr)
	}
}

// verdict reports whether keepalived exited with a status that judges the
// file.
func verdict(exit *exec.ExitError) bool {
	if !exit.Exited() {
		return false
	}
	switch exit.ExitCode() {
	case exitConfig, exitConfigTest, exitConfigSecurity:
		return true
	}
	return false
}

// Refused reports that the file itself is wrong (not that the check could
// not run), which tells the agent to keep the running file.
func (e *CheckError) Refused() bool { return true }
