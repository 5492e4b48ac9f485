// Package tooltest finds the real binaries that tests run against.
//
// Tests use real HAProxy, keepalived, dbus-daemon and systemd wherever they
// can run here. A missing binary skips the test on a developer's machine and
// fails it when HAKGEN_REQUIRE_TOOLS=1 (CI sets it), so a skipped test is
// never counted as a pass.
package tooltest

import (
	"os"
	"os/exec"
	"testing"
)

// Required reports whether missing tools must fail tests instead of skipping them.
func Required() bool { return os.Getenv("HAKGEN_REQUIRE_TOOLS") == "1" }

// Need returns the absolute path of the named binary, or ends the test:
// fatally when tools are required, with a skip otherwise.
func Need(t testing.TB, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	if Required() {
		t.Fatalf("%s not found and HAKGEN_REQUIRE_TOOLS=1: %v (run `make test`, which installs it)", name, err)
	}
	t.Skipf("%s not found: %v (run `make test` to install it)", name, err)
	return ""
}

// NeedRoot ends the test unless it runs as root, on the same terms as Need.
func NeedRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if Required() {
		t.Fatal("this test needs root and HAKGEN_REQUIRE_TOOLS=1")
	}
	t.Skip("this test needs root")
}
