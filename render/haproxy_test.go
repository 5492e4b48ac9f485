package render_test

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pmezard/go-difflib/difflib"

	"github.com/hakgen/hakgen/haproxy"
	"github.com/hakgen/hakgen/internal/tooltest"
	"github.com/hakgen/hakgen/render"
	"github.com/hakgen/hakgen/state"
)

var update = flag.Bool("update", false, "rewrite the golden files from the current output")

// loadCase loads testdata/haproxy/NAME.yaml from a private copy, with its
// secret files given the mode hakgen demands (git does not keep 0600).
func loadCase(t *testing.T, yamlPath string) *state.State {
	t.Helper()
	dir := t.TempDir()
	secrets, _ := filepath.Glob(filepath.Join(filepath.Dir(yamlPath), "*.secret"))
	for _, src := range append(secrets, yamlPath) {
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(src)), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s, _, err := state.Load(filepath.Join(dir, filepath.Base(yamlPath)))
	if err != nil {
		t.Fatalf("loading %s: %v", yamlPath, err)
	}
	return s
}

// sharedStates are the states the README, the HA lab and several packages
// share (the quick-start pair, a minimal and a full state): golden cases
// too, with their golden files kept here.
const sharedStates = "../testdata"

// failoverStates are golden states of the failover's shapes (dual stack,
// active/active, the private VIP): golden haproxy.cfg and keepalived.conf
// both, kept beside them.
const failoverStates = "testdata/failover"

// goldenCases lists the golden states: this package's and the shared ones.
func goldenCases(t *testing.T) []string {
	t.Helper()
	cases, err := filepath.Glob("testdata/haproxy/*.yaml")
	failover, _ := filepath.Glob(filepath.Join(failoverStates, "*.yaml"))
	shared, err2 := filepath.Glob(filepath.Join(sharedStates, "*.yaml"))
	cases = append(append(cases, failover...), shared...)
	if err != nil || err2 != nil || len(cases) < 10 || len(shared) < 3 {
		t.Fatalf("want at least 10 golden cases and the 3 shared states, found %d (%v, %v)", len(cases), err, err2)
	}
	return cases
}

// goldenFile is the golden haproxy.cfg of a golden state: beside it, or
// for a shared state here, named shared-NAME.
func goldenFile(yamlPath string) string {
	base := strings.TrimSuffix(filepath.Base(yamlPath), ".yaml")
	if filepath.Dir(yamlPath) == sharedStates {
		return filepath.Join("testdata", "haproxy", "shared-"+base+".cfg.golden")
	}
	return strings.TrimSuffix(yamlPath, ".yaml") + ".cfg.golden"
}

// TestHAProxyGolden renders every testdata state and compares the bytes
// with its golden file; `go test ./render -update` rewrites them.
func TestHAProxyGolden(t *testing.T) {
	for _, c := range goldenCases(t) {
		name := strings.TrimSuffix(filepath.Base(c), ".yaml")
		t.Run(name, func(t *testing.T) {
			got, err := render.HAProxy(loadCase(t, c))
			if err != nil {
				t.Fatal(err)
			}
			golden := goldenFile(c)
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run: go test ./render -update)", err)
			}
			if string(got) != string(want) {
				t.Errorf("%s differs from the rendered output (review, then go test ./render -update):\n%s", golden, diff(string(want), string(got)))
			}
		})
	}
}

// allowedWarning is the one warning a golden may cause: DNS names in the
// fixtures do not resolve on a test machine, and init-addr none makes that
// a warning rather than an error.
var allowedWarning = regexp.MustCompile(`could not resolve address`)

// withServerState copies the haproxy.cfg at path into dir with its
// server-state file moved into dir too, created as the agent creates it
// before HAProxy or a check reads it, and returns the copy's path.
func withServerState(t testing.TB, path, dir string) string {
	t.Helper()
	cfg, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	stateFile := filepath.Join(dir, "server-state")
	if err := haproxy.EnsureServerState(stateFile); err != nil {
		t.Fatal(err)
	}
	copied := filepath.Join(dir, filepath.Base(path))
	if err := os.WriteFile(copied, []byte(strings.ReplaceAll(string(cfg), render.ServerStateFile, stateFile)), 0o600); err != nil {
		t.Fatal(err)
	}
	return copied
}

// TestHAProxyGoldenPassesHAProxyCheck runs Debian's real haproxy -c on every
// golden file, with the flags of Debian's haproxy.service; a
// production-ready file raises no warning either.
func TestHAProxyGoldenPassesHAProxyCheck(t *testing.T) {
	bin := tooltest.Need(t, "haproxy")
	for _, c := range goldenCases(t) {
		golden := goldenFile(c)
		t.Run(filepath.Base(golden), func(t *testing.T) {
			t.Parallel()
			assertHAProxyAccepts(t, bin, golden)
		})
	}
}

func assertHAProxyAccepts(t *testing.T, bin, path string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	path = withServerState(t, path, t.TempDir())
	warnings, err := haproxy.Checker{Bin: bin, Args: haproxy.DebianServiceArgs}.Check(ctx, path)
	if err != nil {
		t.Fatalf("haproxy -c refused %s: %v", path, err)
	}
	for _, line := range strings.Split(strings.TrimSpace(warnings), "\n") {
		if line != "" && !allowedWarning.MatchString(line) {
			t.Errorf("haproxy -c warns about %s: %s", path, line)
		}
	}
}

func diff(want, got string) string {
	d, _ := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A: difflib.SplitLines(want), B: difflib.SplitLines(got),
		FromFile: "golden", ToFile: "rendered", Context: 2,
	})
	return d
}
