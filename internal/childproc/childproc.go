// Package childproc runs the external tools hakgen checks files with
// (`haproxy -c`, `keepalived -t`) in one safe way: with a scrubbed
// environment, in a process group of their own that is killed whole when
// the context ends, with their output bounded, and with a description of
// how a run ended for messages.
package childproc

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// DefaultPath is the child's PATH when the agent has none.
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// MaxOutput bounds how much of a child's output (stdout and stderr
// together) is kept; the rest is counted and dropped. A configuration
// check prints a few kilobytes.
const MaxOutput = 1 << 20

// waitDelay bounds the wait for the output pipes after the child exited
// or was killed: a descendant that inherited them must not hold Run.
const waitDelay = 2 * time.Second

// Env is the whole environment a child gets: PATH (the agent's, or
// DefaultPath) and nothing else. The agent's environment may hold secrets
// (HCLOUD_TOKEN), proxy settings (HTTP_PROXY and friends) and whatever
// keepalived or a shell passed on; a configuration check needs none of it,
// and the rendered files refer to no environment variable.
func Env() []string {
	path := os.Getenv("PATH")
	if path == "" {
		path = DefaultPath
	}
	return []string{"PATH=" + path}
}

// Run runs bin with args and returns its combined output (at most
// MaxOutput bytes, with a note when more was dropped) and the error of
// exec.Cmd.Run: nil for exit status 0, an *exec.ExitError for any other
// end. When ctx ends first, the child's whole process group is killed and
// Run returns within a short delay, with an error wrapping ctx.Err().
// Descendants left in the group after the child exited are killed too.
func Run(ctx context.Context, bin string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = Env()
	out := &limitedBuffer{max: MaxOutput}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = waitDelay
	err := cmd.Run()
	if cmd.Process != nil {
		// The group is ours: Setpgid made the child its leader, and a
		// group ID is not reused while any member lives.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	if err != nil && ctx.Err() != nil {
		err = fmt.Errorf("%w (%w)", ctx.Err(), err)
	}
	return out.String(), err
}

// Ended describes how a run whose error Run returned ended, for messages:
// "was killed by signal 11 (segmentation fault)", "exited with status 3",
// or the error itself when the child did not run or its end is unknown.
func Ended(err error) string {
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		return "failed: " + err.Error()
	}
	ws, ok := exit.Sys().(syscall.WaitStatus)
	switch {
	case ok && ws.Signaled():
		return fmt.Sprintf("was killed by signal %d (%s)", int(ws.Signal()), ws.Signal())
	case exit.Exited():
		return "exited with status " + strconv.Itoa(exit.ExitCode())
	default:
		return "ended: " + exit.String()
	}
}

// Tail returns the last n bytes of out, quoted (the output of a child that
// did not work as expected may hold anything), or "no output".
func Tail(out string, n int) string {
	out = strings.TrimSpace(out)
	if out == "" {
		return "no output"
	}
	if len(out) > n {
		return "output ending " + strconv.Quote("…"+out[len(out)-n:])
	}
	return "output " + strconv.Quote(out)
}

// limitedBuffer keeps the first max bytes written to it and counts the
// rest. exec.Cmd writes to it from one goroutine when Stdout and Stderr
// are the same writer.
type limitedBuffer struct {
	max     int
	buf     []byte
	dropped int64
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	keep := min(len(p), b.max-len(b.buf))
	b.buf = append(b.buf, p[:keep]...)
	b.dropped += int64(len(p) - keep)
	return len(p), nil
}

func (b *limitedBuffer) String() string {
	if b.dropped == 0 {
		return string(b.buf)
	}
	return string(b.buf) + fmt.Sprintf("\n[%d more bytes of output dropped]\n", b.dropped)
}
