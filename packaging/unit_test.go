package packaging_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hakgen/hakgen/internal/tooltest"
)

// maxExposure is the highest overall exposure `systemd-analyze security`
// may report for the unit.
const maxExposure = 3.0

const unitFile = "hakgen-agent.service"

// TestUnitVerifies runs `systemd-analyze verify` on the unit, its
// ExecStart= pointed at a freshly built agent (verify insists that the
// binary exists): it must pass without a single message.
func TestUnitVerifies(t *testing.T) {
	sa := tooltest.Need(t, "systemd-analyze")
	bin := buildAgent(t)
	unit := readRepo(t, "packaging/"+unitFile)
	if !strings.Contains(unit, "\nExecStart=/usr/bin/hakgen-agent run\n") {
		t.Fatalf("%s does not start /usr/bin/hakgen-agent run", unitFile)
	}
	path := filepath.Join(t.TempDir(), unitFile)
	unit = strings.Replace(unit, "ExecStart=/usr/bin/hakgen-agent", "ExecStart="+bin, 1)
	if err := os.WriteFile(path, []byte(unit), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(sa, "verify", path).CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// exposureRE finds the verdict of `systemd-analyze security`.
var exposureRE = regexp.MustCompile(`Overall exposure level for hakgen-agent\.service: ([0-9]+\.[0-9]+)`)

// TestUnitSecurityExposure checks the overall exposure level that
// `systemd-analyze security --offline=true` reports for the unit.
func TestUnitSecurityExposure(t *testing.T) {
	sa := tooltest.Need(t, "systemd-analyze")
	out, err := exec.Command(sa, "security", "--offline=true", "--no-pager", unitFile).CombinedOutput()
	if err != nil {
		t.Fatalf("systemd-analyze security: %v\n%s", err, out)
	}
	m := exposureRE.FindSubmatch(out)
	if m == nil {
		t.Fatalf("no overall exposure level in:\n%s", out)
	}
	level, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("overall exposure level %.1f (at most %.1f)", level, maxExposure)
	if level > maxExposure {
		t.Errorf("overall exposure level %.1f is above %.1f:\n%s", level, maxExposure, out)
	}
}

// TestUnitSettings checks the settings the agent and the package rely on.
func TestUnitSettings(t *testing.T) {
	unit := readRepo(t, "packaging/"+unitFile)
	for _, line := range []string{
		"Type=notify",                        // READY=1 after the first reconcile
		"NotifyAccess=main",                  // haproxy -c children cannot fake it
		"WatchdogSec=30s",                    // the agent pings at half of it
		"Restart=on-failure",                 // kill -9, watchdog
		"ExecReload=/bin/kill -HUP $MAINPID", // SIGHUP reconciles
		"ExecStart=/usr/bin/hakgen-agent run",
		"RuntimeDirectory=hakgen",
		"RuntimeDirectoryPreserve=yes", // keepalived's notify runs share /run/hakgen
		"StateDirectory=hakgen",        // last-known-good copies, discovered.json
		"ReadWritePaths=/etc/haproxy -/etc/keepalived",
		"After=network-online.target haproxy.service",
		"Wants=network-online.target",
		"WantedBy=multi-user.target",
	} {
		if !strings.Contains(unit, "\n"+line+"\n") {
			t.Errorf("%s lacks %q", unitFile, line)
		}
	}
}

// TestUnitHoldsBackExampleState runs the unit's ExecCondition= command on
// the shipped example state and on an edited copy.
func TestUnitHoldsBackExampleState(t *testing.T) {
	cond := execCondition(t)
	example := packagedState(t)
	edited := example[strings.Index(example, "\n")+1:]
	for _, tc := range []struct {
		name, state string
		wantRun     bool
	}{
		{"example", example, false},
		{"edited", edited, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "state.yaml")
			if err := os.WriteFile(path, []byte(tc.state), 0o644); err != nil {
				t.Fatal(err)
			}
			argv := strings.ReplaceAll(cond, "/etc/hakgen/state.yaml", path)
			out, err := exec.Command("/bin/sh", "-c", argv).CombinedOutput()
			var exit *exec.ExitError
			switch {
			case tc.wantRun && err != nil:
				t.Errorf("condition refused an edited state: %v\n%s", err, out)
			case !tc.wantRun && (err == nil || !asExit(err, &exit) || exit.ExitCode() != 1):
				t.Errorf("condition on the example: %v, want exit 1 (skip)\n%s", err, out)
			case !tc.wantRun && !strings.Contains(string(out), "is still the example"):
				t.Errorf("condition gives no reason: %q", out)
			}
		})
	}
}

// execCondition returns the shell command of the unit's ExecCondition=
// (written as /bin/sh -c '...').
func execCondition(t *testing.T) string {
	t.Helper()
	for line := range strings.Lines(readRepo(t, "packaging/"+unitFile)) {
		if cmd, ok := strings.CutPrefix(strings.TrimSpace(line), "ExecCondition=/bin/sh -c '"); ok {
			return strings.TrimSuffix(cmd, "'")
		}
	}
	t.Fatalf("%s has no ExecCondition=/bin/sh -c '...'", unitFile)
	return ""
}

// buildAgent builds cmd/hakgen-agent into a directory of t's.
func buildAgent(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "hakgen-agent")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/hakgen-agent")
	cmd.Dir = repoRoot(t)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building hakgen-agent: %v\n%s", err, out)
	}
	return bin
}
