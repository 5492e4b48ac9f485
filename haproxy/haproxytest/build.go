package haproxytest

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hakgen/hakgen/haproxy"
	"github.com/hakgen/hakgen/internal/tooltest"
)

// DefaultHAProxy30Root is where `make test` builds a Debian 13 tree holding
// HAProxy 3.0 (scripts/make-haproxy-3.0-root.sh); HAKGEN_HAPROXY30_ROOT
// overrides it.
const DefaultHAProxy30Root = "/var/cache/hakgen-test/trixie-haproxy"

// Build is an HAProxy binary a test can run: the host's (Debian 12's 2.6),
// or Debian 13's 3.0 in a chroot of its own tree. HAProxy in a chroot sees
// the host's network (loopback included) but only the files of its tree, so
// a test keeps its configuration and sockets in TempDir and names them in
// the configuration by Inside.
type Build struct {
	Name string // "host" or "3.0", for test names and messages
	root string // the chroot tree; empty for the host's HAProxy
	bin  string // the haproxy binary, or chroot(8) for a tree
}

// Host is the host's HAProxy, found with tooltest.Need.
func Host(t testing.TB) Build {
	t.Helper()
	return Build{Name: "host", bin: tooltest.Need(t, "haproxy")}
}

// HAProxy30 is Debian 13's HAProxy 3.0 in its tree. It needs root (for
// chroot) and the tree; without either the test is skipped, or fails when
// tools are required.
func HAProxy30(t testing.TB) Build {
	t.Helper()
	tooltest.NeedRoot(t)
	root := os.Getenv("HAKGEN_HAPROXY30_ROOT")
	if root == "" {
		root = DefaultHAProxy30Root
	}
	if _, err := os.Stat(filepath.Join(root, "usr/sbin/haproxy")); err != nil {
		if tooltest.Required() {
			t.Fatalf("no HAProxy 3.0 tree at %s and HAKGEN_REQUIRE_TOOLS=1 (make test builds it)", root)
		}
		t.Skipf("no HAProxy 3.0 tree at %s (make test builds it)", root)
	}
	b := Build{Name: "3.0", root: root, bin: tooltest.Need(t, "chroot")}
	out, err := b.command("-v").Output()
	if err != nil || !strings.HasPrefix(string(out), "HAProxy version 3.0.") {
		t.Fatalf("haproxytest: the tree at %s does not hold HAProxy 3.0: %v\n%s", root, err, out)
	}
	return b
}

// EachBuild runs f in one subtest per build: "host", then "3.0" (skipped,
// or failed when tools are required, without its tree or root).
func EachBuild(t *testing.T, f func(t *testing.T, b Build)) {
	t.Run("host", func(t *testing.T) { f(t, Host(t)) })
	t.Run("3.0", func(t *testing.T) { f(t, HAProxy30(t)) })
}

// TempDir returns a new private directory for a test's configuration and
// sockets, removed in t.Cleanup. Its path is short (socket paths are
// limited to 108 bytes) and, for a chroot build, inside the tree.
func (b Build) TempDir(t testing.TB) string {
	t.Helper()
	parent := ""
	if b.root != "" {
		parent = filepath.Join(b.root, "tmp")
	}
	dir, err := os.MkdirTemp(parent, "haproxytest-")
	if err != nil {
		t.Fatalf("haproxytest: %v", err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

// Inside returns the path HAProxy of this build sees for a host path under
// TempDir: the path itself for the host's HAProxy, the path relative to the
// tree for a chroot build.
func (b Build) Inside(path string) string {
	if b.root == "" {
		return path
	}
	rel, err := filepath.Rel(b.root, path)
	if err != nil || strings.HasPrefix(rel, "..") {
		return path
	}
	return "/" + rel
}

// command runs haproxy of this build with args.
func (b Build) command(args ...string) *exec.Cmd {
	if b.root == "" {
		return exec.Command(b.bin, args...)
	}
	return exec.Command(b.bin, append([]string{b.root, "haproxy"}, args...)...)
}

// Check runs `haproxy -Ws -f PATH -c` of this build on path (a host path;
// for a chroot build, under TempDir) and returns HAProxy's output on
// success, or a *haproxy.CheckError with it when HAProxy refuses the file:
// an agent.Checker for tests that run the agent on either build.
func (b Build) Check(ctx context.Context, path string) (string, error) {
	if b.root == "" {
		return haproxy.Checker{Bin: b.bin}.Check(ctx, path)
	}
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	args := append([]string{b.root, "haproxy"}, "-Ws", "-f", b.Inside(path), "-c")
	out, err := exec.CommandContext(ctx, b.bin, args...).CombinedOutput()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return "", &haproxy.CheckError{File: path, ExitCode: exit.ExitCode(), Output: string(out)}
	}
	return string(out), err
}
