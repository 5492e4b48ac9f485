package agent_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/hakgen/hakgen/agent"
	"github.com/hakgen/hakgen/agent/agenttest"
	"github.com/hakgen/hakgen/haproxy"
	"github.com/hakgen/hakgen/haproxy/haproxytest"
	"github.com/hakgen/hakgen/internal/tooltest"
	"github.com/hakgen/hakgen/state"
)

// TestReloadKeepsAServerDown: a worker HAProxy has marked DOWN before a
// reload is DOWN in the new worker from its first instant (the agent saved
// the servers' state right before the reload), and right after the reload
// no connection goes to it.
func TestReloadKeepsAServerDown(t *testing.T) {
	tooltest.Need(t, "haproxy")
	port, _ := agenttest.TCPBackends(t, "unused", "w2") // w2 answers on 127.0.0.3
	s := agenttest.State{
		APIPort: haproxytest.FreePort(t), APIBackendPort: port,
		ControlPlanes: []agenttest.Server{{Name: "cp1", Address: "127.0.0.3"}},
		HTTPPort:      haproxytest.FreePort(t), HTTPBackendPort: port,
		HTTPSPort: haproxytest.FreePort(t), HTTPSBackendPort: port,
		// w1 is where nothing listens: its checks fail, it goes DOWN.
		Workers:   []agenttest.Server{{Name: "w1", Address: "127.0.0.9"}, {Name: "w2", Address: "127.0.0.3"}},
		StatsPort: haproxytest.FreePort(t),
	}
	sockDir, err := os.MkdirTemp("", "hakgen-state-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(sockDir) })
	st, _, err := state.Parse("state.yaml", s.YAML())
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := agenttest.LoopbackRender(filepath.Join(sockDir, "admin.sock"))(st)
	if err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(t.TempDir(), "haproxy.cfg")
	writeFile(t, cfgPath, cfg)
	in := haproxytest.Start(t, cfgPath)
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	waitOpState(t, ctx, in.Master, "w1", "0")

	r := agent.ServerStateReloader{Reloader: haproxy.NewMasterReloader(in.Master, zaptest.NewLogger(t)),
		Master: in.Master, Path: filepath.Join(sockDir, "server-state"), Config: cfgPath, Log: zaptest.NewLogger(t)}
	if err := r.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if got := opState(t, ctx, in.Master, "w1"); got != "0" {
		t.Errorf("right after the reload w1's op_state is %s, want 0 (DOWN, as before it)", got)
	}
	for i := range 6 {
		if got, err := haproxytest.Ask(loopback(s.HTTPPort)); err != nil || strings.TrimSpace(got) != "w2" {
			t.Errorf("connection %d after the reload: %q, %v; want w2", i, got, err)
		}
	}
}

// TestReloadCarriesServerState: across a reload that loads a new file, a
// server the file moves to another backend port runs at the new port
// (HAProxy alone would keep the saved one), and a server drained on the CLI
// (as `hakgen-agent drain` does) that the file does not change stays
// drained.
func TestReloadCarriesServerState(t *testing.T) {
	tooltest.Need(t, "haproxy")
	oldPort, _ := agenttest.TCPBackends(t, "w1-old", "w2-old")
	newPort, _ := agenttest.TCPBackends(t, "w1-new", "w2-new")
	apiPort, _ := agenttest.TCPBackends(t, "cp1")
	s := agenttest.State{
		APIPort: haproxytest.FreePort(t), APIBackendPort: apiPort,
		ControlPlanes: []agenttest.Server{{Name: "cp1", Address: "127.0.0.2"}},
		HTTPPort:      haproxytest.FreePort(t), HTTPBackendPort: oldPort,
		HTTPSPort: haproxytest.FreePort(t), HTTPSBackendPort: oldPort,
		Workers:   []agenttest.Server{{Name: "w1", Address: "127.0.0.2"}, {Name: "w2", Address: "127.0.0.3"}},
		StatsPort: haproxytest.FreePort(t),
	}
	sockDir, err := os.MkdirTemp("", "hakgen-state-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(sockDir) })
	renderFn := agenttest.LoopbackRender(filepath.Join(sockDir, "admin.sock"))
	cfgPath := filepath.Join(t.TempDir(), "haproxy.cfg")
	writeFile(t, cfgPath, renderState(t, renderFn, s))
	in := haproxytest.Start(t, cfgPath)
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if _, err := in.Master.Worker(ctx, "set server ingress-https/w2 state drain"); err != nil {
		t.Fatal(err)
	}

	s.HTTPBackendPort = newPort // ingress-http's servers move; ingress-https's stay
	writeFile(t, cfgPath, renderState(t, renderFn, s))
	r := agent.ServerStateReloader{Reloader: haproxy.NewMasterReloader(in.Master, zaptest.NewLogger(t)),
		Master: in.Master, Path: filepath.Join(sockDir, "server-state"), Config: cfgPath, Log: zaptest.NewLogger(t)}
	if err := r.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	w, err := haproxy.CurrentWorker(ctx, in.Master)
	if err != nil {
		t.Fatal(err)
	}
	states, err := w.ServersState(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, st := range states {
		if st.Backend == "ingress-http" || st.Backend == "ingress-https" {
			got = append(got, fmt.Sprintf("%s/%s:%d %s", st.Backend, st.Name, st.Port, st.Admin))
		}
	}
	want := []string{
		fmt.Sprintf("ingress-http/w1:%d ready", newPort), fmt.Sprintf("ingress-http/w2:%d ready", newPort),
		fmt.Sprintf("ingress-https/w1:%d ready", oldPort), fmt.Sprintf("ingress-https/w2:%d drain", oldPort),
	}
	if !slices.Equal(got, want) {
		t.Errorf("after the reload:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	for i := range 4 {
		if got, err := haproxytest.Ask(loopback(s.HTTPPort)); err != nil || !strings.HasSuffix(strings.TrimSpace(got), "-new") {
			t.Errorf("connection %d after the reload: %q, %v; want a server on the new port", i, got, err)
		}
	}
}

// renderState renders s with renderFn.
func renderState(t *testing.T, renderFn func(*state.State) ([]byte, error), s agenttest.State) []byte {
	t.Helper()
	st, _, err := state.Parse("state.yaml", s.YAML())
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := renderFn(st)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// opState is a server's srv_op_state in the current worker's `show servers
// state ingress-http` (0 down, 2 up).
func opState(t *testing.T, ctx context.Context, m *haproxy.Master, server string) string {
	t.Helper()
	out, err := m.Worker(ctx, "show servers state ingress-http")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 5 && f[3] == server {
			return f[5]
		}
	}
	t.Fatalf("show servers state has no %s:\n%s", server, out)
	return ""
}

func waitOpState(t *testing.T, ctx context.Context, m *haproxy.Master, server, want string) {
	t.Helper()
	for ctx.Err() == nil {
		if opState(t, ctx, m, server) == want {
			return
		}
		time.Sleep(pollEvery)
	}
	t.Fatalf("%s never reached op_state %s", server, want)
}
