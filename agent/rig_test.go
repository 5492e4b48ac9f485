package agent_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"

	"github.com/hakgen/hakgen/agent"
	"github.com/hakgen/hakgen/agent/agenttest"
	"github.com/hakgen/hakgen/haproxy"
	"github.com/hakgen/hakgen/haproxy/haproxytest"
	"github.com/hakgen/hakgen/internal/tooltest"
	"github.com/hakgen/hakgen/state"
)

// Bounds of the waits in these tests (upper bounds, not expectations).
const (
	waitTimeout = 30 * time.Second
	pollEvery   = 20 * time.Millisecond
)

// rig is a real master-worker HAProxy on loopback, backends behind it, and
// an agent running its Run loop in-process with the master-socket reloader.
type rig struct {
	t                                             *testing.T
	dir, statePath, cfgPath, statusPath, lastGood string
	in                                            *haproxytest.Instance
	agent                                         *agent.Agent
	logs                                          *observer.ObservedLogs
	base                                          agenttest.State
}

// Backend names: TCPBackends and TLSBackends put the first on 127.0.0.2
// and the second on 127.0.0.3.
var workerNames, cpNames = []string{"w1", "w2"}, []string{"cp1", "cp2"}

// startRig starts everything with the first worker and control plane and
// waits for the agent's first reconcile. tune may change the agent's
// configuration before it starts.
func startRig(t *testing.T, tune func(*agent.Config)) *rig {
	t.Helper()
	bin := tooltest.Need(t, "haproxy")
	dir := t.TempDir()
	sockDir, err := os.MkdirTemp("", "hakgen-agent-") // short: socket paths are limited to 108 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(sockDir) })
	r := &rig{t: t, dir: dir,
		statePath: filepath.Join(dir, "state.yaml"), cfgPath: filepath.Join(dir, "haproxy.cfg"),
		statusPath: filepath.Join(dir, "run", "status.json"), lastGood: filepath.Join(dir, "haproxy.cfg.last-good")}
	r.base = baseState(t)
	renderFn := agenttest.LoopbackRender(filepath.Join(sockDir, "admin.sock"))
	r.save(agenttest.WriteInPlace, r.state(0))
	st, _, err := state.Load(r.statePath)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := renderFn(st)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, r.cfgPath, cfg)
	r.in = haproxytest.Start(t, r.cfgPath)

	core, logs := observer.New(zapcore.DebugLevel)
	log := zaptest.NewLogger(t).WithOptions(zap.WrapCore(func(c zapcore.Core) zapcore.Core { return zapcore.NewTee(c, core) }))
	r.logs = logs
	conf := agent.Config{
		StatePath: r.statePath, StatusPath: r.statusPath,
		Resync: time.Hour, MinReloadInterval: -1,
		Targets: []agent.Target{{
			Name: "haproxy", Path: r.cfgPath, LastGood: r.lastGood, Render: renderFn,
			Checker:  haproxy.Checker{Bin: bin, Args: []string{"-S", r.in.Socket}},
			Reloader: haproxy.NewMasterReloader(r.in.Master, log),
		}},
	}
	if tune != nil {
		tune(&conf)
	}
	r.agent, err = agent.New(conf, log)
	if err != nil {
		t.Fatal(err)
	}
	r.run()
	r.waitStatus("the first reconcile", func(s *agent.Status) bool { return s.Counts.Reconciles >= 1 })
	return r
}

// run starts the agent's loop; t.Cleanup stops it and waits for it.
func (r *rig) run() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.agent.Run(ctx) }()
	r.t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				r.t.Errorf("Run: %v", err)
			}
		case <-time.After(waitTimeout):
			r.t.Errorf("Run did not return within %s of its context ending", waitTimeout)
		}
	})
}

// baseState picks the ports and starts the backends: workers answer on
// plain TCP, control planes over TLS (HAProxy checks them with GET /readyz).
func baseState(t *testing.T) agenttest.State {
	httpPort, _ := agenttest.TCPBackends(t, workerNames...)
	httpsPort, _ := agenttest.TCPBackends(t, workerNames...)
	apiPort, _ := agenttest.TLSBackends(t, cpNames...)
	return agenttest.State{
		APIPort: haproxytest.FreePort(t), APIBackendPort: apiPort, HealthCheck: "readyz",
		HTTPPort: haproxytest.FreePort(t), HTTPBackendPort: httpPort,
		HTTPSPort: haproxytest.FreePort(t), HTTPSBackendPort: httpsPort,
		StatsPort: haproxytest.FreePort(t),
	}
}

// state returns the base state routing to worker and control plane i%2.
func (r *rig) state(i int) agenttest.State {
	s := r.base
	s.Workers = []agenttest.Server{{Name: workerNames[i%2], Address: []string{"127.0.0.2", "127.0.0.3"}[i%2]}}
	s.ControlPlanes = []agenttest.Server{{Name: cpNames[i%2], Address: []string{"127.0.0.2", "127.0.0.3"}[i%2]}}
	return s
}

func (r *rig) save(save agenttest.Save, s agenttest.State) {
	r.t.Helper()
	if err := save(r.statePath, s.YAML()); err != nil {
		r.t.Fatal(err)
	}
}

// routes returns what the ingress and API frontends answer now.
func (r *rig) routes() (worker, cp string) {
	r.t.Helper()
	w, err := haproxytest.Ask(loopback(r.base.HTTPPort))
	if err != nil {
		r.t.Fatalf("through the ingress frontend: %v", err)
	}
	c, err := agenttest.AskTLS(loopback(r.base.APIPort))
	if err != nil {
		r.t.Fatalf("through the API frontend (TLS): %v", err)
	}
	return strings.TrimSpace(w), strings.TrimSpace(c)
}

// eventuallyRoutes waits until new connections reach state i's backends.
// Right after a reload the old worker may accept a few more connections.
func (r *rig) eventuallyRoutes(i int) {
	r.t.Helper()
	wantW, wantC := workerNames[i%2], cpNames[i%2]
	var w, c string
	for range int(waitTimeout / pollEvery) {
		if w, c = r.routes(); w == wantW && c == wantC {
			return
		}
		time.Sleep(pollEvery)
	}
	r.t.Fatalf("haproxy routes to %s and %s, want %s and %s", w, c, wantW, wantC)
}

// status reads the agent's status file.
func (r *rig) status() *agent.Status {
	r.t.Helper()
	st, err := agent.ReadStatus(r.statusPath)
	if err != nil {
		r.t.Fatal(err)
	}
	return st
}

// waitStatus polls the status file until ok holds, bounded.
func (r *rig) waitStatus(what string, ok func(*agent.Status) bool) *agent.Status {
	r.t.Helper()
	var st *agent.Status
	for range int(waitTimeout / pollEvery) {
		var err error
		if st, err = agent.ReadStatus(r.statusPath); err == nil && ok(st) {
			return st
		}
		time.Sleep(pollEvery)
	}
	r.t.Fatalf("status never showed %s; last: %+v", what, st)
	return nil
}

// masterReloads is the reload count on the master's `show proc` line.
func (r *rig) masterReloads() int {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	p, err := r.in.Master.ShowProc(ctx)
	if err != nil {
		r.t.Fatal(err)
	}
	return p.Master.Reloads
}

func loopback(port int) string { return "127.0.0.1:" + strconv.Itoa(port) }

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}
