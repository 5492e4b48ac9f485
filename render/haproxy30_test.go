package render_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hakgen/hakgen/haproxy"
	"github.com/hakgen/hakgen/internal/tooltest"
	"github.com/hakgen/hakgen/render"
)

// haproxy30Root is a Debian 13 tree holding HAProxy 3.0, built by `make
// test` (scripts/make-haproxy-3.0-root.sh); its haproxy runs in a chroot.
func haproxy30Root(t *testing.T) string {
	t.Helper()
	tooltest.NeedRoot(t)
	root := os.Getenv("HAKGEN_HAPROXY30_ROOT")
	if root == "" {
		root = "/var/cache/hakgen-test/trixie-haproxy"
	}
	if _, err := os.Stat(filepath.Join(root, "usr/sbin/haproxy")); err != nil {
		if tooltest.Required() {
			t.Fatalf("no HAProxy 3.0 tree at %s and HAKGEN_REQUIRE_TOOLS=1 (make test builds it)", root)
		}
		t.Skipf("no HAProxy 3.0 tree at %s (make test builds it)", root)
	}
	return root
}

// TestHAProxyGoldenPassesHAProxy30 runs Debian 13's HAProxy 3.0 `haproxy
// -c` on every golden file: one template must load on both branches, with
// no warning beyond the unresolvable fixture names.
func TestHAProxyGoldenPassesHAProxy30(t *testing.T) {
	root := haproxy30Root(t)
	chroot := tooltest.Need(t, "chroot")
	dir, err := os.MkdirTemp(filepath.Join(root, "tmp"), "hakgen-golden-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	inside := "/tmp/" + filepath.Base(dir)
	version, err := exec.Command(chroot, root, "haproxy", "-v").Output()
	if err != nil || !strings.HasPrefix(string(version), "HAProxy version 3.0.") {
		t.Fatalf("the tree at %s does not hold HAProxy 3.0: %v\n%s", root, err, version)
	}
	for _, c := range goldenCases(t) {
		golden := goldenFile(c)
		data, err := os.ReadFile(golden)
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Base(golden)
		// The server-state file, as the agent creates it, inside the tree.
		data = []byte(strings.ReplaceAll(string(data), render.ServerStateFile, inside+"/server-state"))
		if err := haproxy.EnsureServerState(filepath.Join(dir, "server-state")); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		out, err := exec.CommandContext(ctx, chroot, root, "haproxy", "-c", "-f", inside+"/"+name).CombinedOutput()
		cancel()
		if err != nil {
			t.Errorf("HAProxy 3.0 refused %s: %v\n%s", name, err, out)
			continue
		}
		for _, line := range strings.Split(string(out), "\n") {
			if strings.HasPrefix(line, "[WARNING]") && !allowedWarning.MatchString(line) {
				t.Errorf("HAProxy 3.0 warns about %s: %s", name, line)
			}
		}
	}
}
