// Package haproxy runs the haproxy binary: configuration checks with the
// same flags the service uses, (master.go) the master CLI socket, and
// (runtime.go) Runtime API commands that change servers without a reload.
package haproxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"strings"
)

// DefaultBin is where Debian and Ubuntu install HAProxy.
const DefaultBin = "/usr/sbin/haproxy"

// DebianServiceArgs are the extra flags Debian's haproxy.service passes
// (its EXTRAOPTS). A check passes them too, so that it validates the file
// exactly as the service will load it.
var DebianServiceArgs = []string{"-S", "/run/haproxy-master.sock"}

// Checker validates a configuration file with `haproxy -Ws -f FILE -c`.
// The zero value uses DefaultBin and no extra flags.
type Checker struct {
	Bin  string   // haproxy binary; DefaultBin when empty
	Args []string // extra flags of the service, e.g. DebianServiceArgs
	// ZeroWarning makes warnings fatal (-dW). The golden tests use it: a
	// production-ready configuration has no warnings.
	ZeroWarning bool
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
// there are none) and a *CheckError when the file is invalid. Any other error
// means the check could not run at all, e.g. the binary is missing.
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
	cmd := exec.CommandContext(ctx, bin, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	runErr := cmd.Run()
	msgs := messages(out.String())
	var exit *exec.ExitError
	switch {
	case runErr == nil:
		return msgs, nil
	case errors.As(runErr, &exit) && ctx.Err() == nil:
		return "", &CheckError{File: path, ExitCode: exit.ExitCode(), Output: msgs}
	case ctx.Err() != nil:
		return "", fmt.Errorf("running %s -c on %s: %w", bin, path, ctx.Err())
	default:
		return "", fmt.Errorf("running %s -c on %s: %w", bin, path, runErr)
	}
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
