package agent

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"go.uber.org/zap/zaptest"

	"github.com/hakgen/hakgen/agent/agenttest"
	"github.com/hakgen/hakgen/render"
	"github.com/hakgen/hakgen/state"
)

// fakeChecker records what it was asked to check and answers as set.
type fakeChecker struct {
	mu       sync.Mutex
	paths    []string
	contents [][]byte // the checked file's content at check time
	warnings string
	err      error
}

var _ Checker = (*fakeChecker)(nil)

func (f *fakeChecker) Check(_ context.Context, path string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	data, _ := os.ReadFile(path)
	f.paths = append(f.paths, path)
	f.contents = append(f.contents, data)
	return f.warnings, f.err
}

func (f *fakeChecker) calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.paths)
}

// fakeReloader records what the target held at each Reload and fails the
// first len(errs) calls with errs, in order.
type fakeReloader struct {
	mu     sync.Mutex
	target string
	seen   [][]byte
	errs   []error
}

var _ Reloader = (*fakeReloader)(nil)

func (f *fakeReloader) Reload(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	data, _ := os.ReadFile(f.target)
	f.seen = append(f.seen, data)
	if i := len(f.seen) - 1; i < len(f.errs) {
		return f.errs[i]
	}
	return nil
}

func (f *fakeReloader) calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.seen)
}

// fixture is an agent on files in a temporary directory, with fakes.
type fixture struct {
	dir, statePath, target, lastGood, statusPath string
	checker                                      *fakeChecker
	reloader                                     *fakeReloader
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	dir := t.TempDir()
	f := &fixture{
		dir:        dir,
		statePath:  filepath.Join(dir, "hakgen", "state.yaml"),
		target:     filepath.Join(dir, "haproxy", "haproxy.cfg"),
		lastGood:   filepath.Join(dir, "lib", "haproxy.cfg.last-good"),
		statusPath: filepath.Join(dir, "run", "status.json"),
		checker:    &fakeChecker{},
	}
	f.reloader = &fakeReloader{target: f.target}
	for _, d := range []string{"hakgen", "haproxy", "lib"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// config returns the agent configuration of the fixture.
func (f *fixture) config() Config {
	return Config{
		StatePath:  f.statePath,
		StatusPath: f.statusPath,
		Targets: []Target{{
			Name: "haproxy", Path: f.target, LastGood: f.lastGood,
			Render: render.HAProxy, Checker: f.checker, Reloader: f.reloader,
		}},
	}
}

func (f *fixture) agent(t *testing.T) *Agent {
	t.Helper()
	a, err := New(f.config(), zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// states returns two valid states that render differently.
func states() (agenttest.State, agenttest.State) {
	s := agenttest.State{
		APIPort: 16443, APIBackendPort: 17443, HTTPPort: 18080, HTTPBackendPort: 18081,
		HTTPSPort: 18443, HTTPSBackendPort: 18444, StatsPort: 18404,
		ControlPlanes: []agenttest.Server{{Name: "cp1", Address: "127.0.0.2"}},
		Workers:       []agenttest.Server{{Name: "w1", Address: "127.0.0.3"}},
	}
	other := s
	other.Workers = []agenttest.Server{{Name: "w2", Address: "127.0.0.4"}}
	return s, other
}

// rendered is what render.HAProxy makes of s.
func rendered(t *testing.T, s agenttest.State) []byte {
	t.Helper()
	st, _, err := state.Parse("state.yaml", s.YAML())
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := render.HAProxy(st)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
