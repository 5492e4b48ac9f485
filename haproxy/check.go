// Package haproxy runs the haproxy binary: configuration checks with the
// same flags the service uses, (master.go) the master CLI socket, and
// (runtime.go) Runtime API commands that change servers without a reload.
package haproxy

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"strings"
	"time"

	"github.com/hakgen/hakgen/internal/childproc"
)

// DefaultBin is where Debian and Ubuntu install HAProxy.
const DefaultBin = "/usr/sbin/haproxy"

// DebianServiceArgs are the extra flags Debian's haproxy.service passes
// (its EXTRAOPTS). A check passes them too, so that it validates the file
// exactly as the service will load it.
var DebianServiceArgs = []string{"-S", "/run/haproxy-master.sock"}

// DefaultCheckTimeout bounds one check when Checker.Timeout is zero. A
// check takes about 50 ms; one that has not ended by then is hung (a
// stuck resolver, a hung mount), not slow.
const DefaultCheckTimeout = time.Minute

// Checker validates a configuration file with `haproxy -Ws -f FILE -c`.
// The zero value uses DefaultBin and no extra flags.
//
// HAProxy runs with a scrubbed environment (see childproc.Env): nothing
// of the agent's environment, such as HCLOUD_TOKEN or proxy settings,
// reaches it.
type Checker struct {
	Bin  string   // haproxy binary; DefaultBin when empty
	Args []string // extra flags of the service, e.g. DebianServiceArgs
	// ZeroWarning makes warnings fatal (-dW). The golden tests use it: a
	// production-ready configuration has no warnings.
	ZeroWarning bool
	// Timeout bounds one check when ctx has no earlier deadline;
	// DefaultCheckTimeout when zero.
	Timeout time.Duration
}

// CheckError is a configuration HAProxy refused. Output holds HAProxy's own
// messages (alerts and warnings, notices removed).
type CheckError struct {
	File     string
	ExitCode int
	Output   string
}

// Refused reports that the file itself is wrong (not that the check could
// not run), which tells the agent to keep the running file.
func (e *CheckError) Refused() bool { return true }

func (e *CheckError) Error() string {
	return fmt.Sprintf("haproxy -c rejected %s (exit %d):\n%s", e.File, e.ExitCode, e.Output)
}

// Check runs the check on path. It returns HAProxy's warnings (empty when
// there are none) and a *CheckError when HAProxy refused the file: it
// exited with a non-zero status after printing at least one alert. Any
// other error means the check gave no verdict (the binary is missing, it
// was killed by a signal, it exited without an alert, it did not end
// within the timeout): an environment problem, not a refused file.
func (c Checker) Check(ctx context.Context, path string) (warnings string, err error) {
	bin := c.Bin
	if bin == "" {
		bin = DefaultBin
	}
	args := []string{"-Ws", "-f", path, "-c"}
	if c.ZeroWarning {
		args = append(args, "-dW")
	}
	args = append(args, c.Args...)
	ctx, cancel := context.WithTimeout(ctx, or(c.Timeout, DefaultCheckTimeout))
	defer cancel()
	out, runErr := childproc.Run(ctx, bin, args...)
	msgs := messages(out)
	var exit *exec.ExitError
	switch {
	case runErr == nil:
		return msgs, nil
	case ctx.Err() != nil:
		return "", fmt.Errorf("running %s -c on %s: stopped (killed) before its verdict: %w", bin, path, runErr)
	case errors.As(runErr, &exit) && exit.Exited() && exit.ExitCode() > 0 && hasAlert(msgs):
		return "", &CheckError{File: path, ExitCode: exit.ExitCode(), Output: msgs}
	case errors.As(runErr, &exit):
		return "", fmt.Errorf("running %s -c on %s: it %s without HAProxy's verdict (no alert; the file was not judged): %s",
			bin, path, childproc.Ended(runErr), childproc.Tail(out, 512))
	default:
		return "", fmt.Errorf("running %s -c on %s: %w", bin, path, runErr)
	}
}

// hasAlert reports whether HAProxy's messages hold an alert: HAProxy
// prints at least one ("Fatal errors found in configuration.") whenever it
// refuses a file.
func hasAlert(msgs string) bool {
	return strings.HasPrefix(msgs, "[ALERT]") || strings.Contains(msgs, "\n[ALERT]")
}

// pidPrefix is the level and process ID HAProxy starts a message with,
// "[WARNING]  (31624) : ". The PID differs on every run; without it the
// same problem always reads the same (so it is logged once).
var pidPrefix = regexp.MustCompile(`^\[([A-Z]+)\]\s+\(\d+\) : `)

// messages keeps HAProxy's alerts and warnings (with their continuation
// lines) and drops notices and the final verdict line.
func messages(out string) string {
	var b strings.Builder
	keep := false
	for _, line := range strings.Split(out, "\n") {
		switch {
		case strings.HasPrefix(line, "[NOTICE]"):
			keep = false
		case strings.HasPrefix(line, "["):
			keep = true
		case strings.HasPrefix(line, "   |"):
			// continuation of the previous message
		default:
			keep = false
		}
		if keep {
			b.WriteString(pidPrefix.ReplaceAllString(line, "[$1] "))
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// FindBin locates the haproxy binary: bin itself when given (a path or a
// name looked up in PATH), else DefaultBin, else "haproxy" in PATH.
func FindBin(bin string) (string, error) {
	if bin != "" {
		return exec.LookPath(bin)
	}
	if path, err := exec.LookPath(DefaultBin); err == nil {
		return path, nil
	}
	path, err := exec.LookPath("haproxy")
	if err != nil {
		return "", fmt.Errorf("haproxy not found at %s or in PATH (install it: apt-get install haproxy)", DefaultBin)
	}
	return path, nil
}
