package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hakgen/hakgen/internal/tooltest"
	"github.com/hakgen/hakgen/render"
)

// TestAgentPathDefaultsToTheInstalledBinary: keepalived.conf's scripts run
// the binary that renders it when that is an installed hakgen-agent (a
// root-owned file outside the temporary directory), else the package's
// path; --agent-path overrides both, for render and run alike (run's is
// checked in TestQuickStartStateRuns).
func TestAgentPathDefaultsToTheInstalledBinary(t *testing.T) {
	tooltest.NeedRoot(t)
	built := buildNotifyAgent(t)
	installed := installedCopy(t, built)
	state := writeState(t, quickStartState(t))
	for _, c := range []struct {
		bin, want string
		extra     []string
	}{
		{built, render.DefaultAgentPath, nil},
		{installed, installed, nil},
		{installed, "/opt/hakgen/bin/hakgen-agent", []string{"--agent-path", "/opt/hakgen/bin/hakgen-agent"}},
	} {
		out, err := exec.Command(c.bin, append([]string{"render", "--keepalived", "--node", "lb1", "--state", state}, c.extra...)...).Output()
		if err != nil {
			t.Fatalf("%s render --keepalived: %v", c.bin, err)
		}
		if !strings.Contains(string(out), `script "`+c.want+" check --url") || !strings.Contains(string(out), `notify "`+c.want+" notify") {
			t.Errorf("%s %v renders scripts that do not run %s:\n%s", c.bin, c.extra, c.want, out)
		}
	}
}

// installedCopy copies bin into a root-owned directory below /var/lib, as
// a package would install it, and removes it when the test ends.
func installedCopy(t *testing.T, bin string) string {
	t.Helper()
	dir, err := os.MkdirTemp("/var/lib", "hakgen-agentpath-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, "hakgen-agent")
	if err := os.WriteFile(dst, data, 0o755); err != nil {
		t.Fatal(err)
	}
	return dst
}
