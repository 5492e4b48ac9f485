// Package keepalived runs the keepalived binary to check configurations.
package keepalived

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
)

// DefaultBin is where Debian installs keepalived.
const DefaultBin = "/usr/sbin/keepalived"

// Checker validates a keepalived.conf with `keepalived -t -f FILE`.
type Checker struct {
	Bin string // keepalived binary; DefaultBin when empty
}

// CheckError is a configuration keepalived refused, with its messages.
// keepalived 2.2 exits 4 for fatal errors, 5 for warnings (a missing
// interface, for one) and 6 for script security problems; a file that
// warns would not run as written, so any non-zero exit refuses it.
type CheckError struct {
	File     string
	ExitCode int
	Output   string
}

func (e *CheckError) Error() string {
	return fmt.Sprintf("keepalived -t rejected %s (exit %d):\n%s", e.File, e.ExitCode, strings.TrimRight(e.Output, "\n"))
}

// Check runs the check on path. It returns keepalived's output when it
// passed with something to say, a *CheckError when it refused the file,
// and any other error when the check could not run.
func (c Checker) Check(ctx context.Context, path string) (warnings string, err error) {
	bin := c.Bin
	if bin == "" {
		bin = DefaultBin
	}
	cmd := exec.CommandContext(ctx, bin, "-t", "-f", path)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	runErr := cmd.Run()
	var exit *exec.ExitError
	switch {
	case runErr == nil:
		return strings.TrimSpace(out.String()), nil
	case errors.As(runErr, &exit) && ctx.Err() == nil && exit.ExitCode() > 0:
		return "", &CheckError{File: path, ExitCode: exit.ExitCode(), Output: out.String()}
	default:
		return "", fmt.Errorf("running %s -t on %s: %w", bin, path, runErr)
	}
}

// Refused reports that the file itself is wrong (not that the check could
// not run), which tells the agent to keep the running file.
func (e *CheckError) Refused() bool { return true }
