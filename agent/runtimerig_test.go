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

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"

	"github.com/hakgen/hakgen/agent"
	"github.com/hakgen/hakgen/agent/agenttest"
	"github.com/hakgen/hakgen/haproxy"
	"github.com/hakgen/hakgen/haproxy/haproxytest"
	"github.com/hakgen/hakgen/haproxy/serverplan"
	"github.com/hakgen/hakgen/render"
	"github.com/hakgen/hakgen/state"
)

// poolSize is the number of backend addresses of a runtime rig.
const poolSize = 8

// runtimeRig is a real HAProxy of one build running the production
// haproxy.cfg on loopback, in front of a pool of backends on one port
// (127.0.0.2, ...), each answering its label (a0, a1, ...), and the agent
// running its loop in-process with the runtime path (serverplan.Updater)
// and the master-socket reloader saving the servers' state. The workers of
// its states are pool addresses; connections through the ingress HTTP
// frontend show where HAProxy routes.
type runtimeRig struct {
	t                                   *testing.T
	build                               haproxytest.Build
	dir, statePath, cfgPath, statusPath string
	lastGood, serverState, adminSocket  string
	in                                  *haproxytest.Instance
	base                                agenttest.State
	pool                                []string
	agent                               *agent.Agent
	logs                                *observer.ObservedLogs
	render                              func(*state.State) ([]byte, error)
	runtimeMaster                       *haproxy.Master // the socket the Runtime uses: the master's, or a proxy's
	stop                                func()
}

// rigOptions change a runtime rig before its agent starts.
type rigOptions struct {
	// runtimeSocket, when set, returns the socket the Runtime talks to,
	// given the master's (a proxy in front of it).
	runtimeSocket func(master string) string
	noAgent       bool // start HAProxy only
}

// startRuntimeRig starts HAProxy running workers, and the agent on the same
// state, and waits for its first reconcile.
func startRuntimeRig(t *testing.T, b haproxytest.Build, workers []agenttest.Server, opts rigOptions) *runtimeRig {
	t.Helper()
	labels := make([]string, poolSize)
	for i := range labels {
		labels[i] = fmt.Sprintf("a%d", i)
	}
	port, pool := haproxytest.NameServersSamePort(t, labels...)
	dir := b.TempDir(t)
	r := &runtimeRig{t: t, build: b, dir: dir, pool: pool,
		statePath: filepath.Join(dir, "state.yaml"), cfgPath: filepath.Join(dir, "haproxy.cfg"),
		statusPath: filepath.Join(dir, "run", "status.json"), lastGood: filepath.Join(dir, "haproxy.cfg.last-good"),
		serverState: filepath.Join(dir, "server-state"), adminSocket: filepath.Join(dir, "admin.sock")}
	ports := freePorts(t, 4, port)
	r.base = agenttest.State{
		APIPort: ports[0], APIBackendPort: port,
		ControlPlanes: []agenttest.Server{{Name: "cp1", Address: pool[poolSize-1]}},
		HTTPPort:      ports[1], HTTPBackendPort: port,
		HTTPSPort: ports[2], HTTPSBackendPort: port,
		StatsPort: ports[3],
	}
	r.render = rigRender(b, r.adminSocket)
	first := r.stateWith(workers)
	writeFile(t, r.statePath, first.YAML())
	writeFile(t, r.cfgPath, renderState(t, r.render, first))
	r.in = b.Start(t, r.cfgPath)
	r.runtimeMaster = r.in.Master
	if opts.runtimeSocket != nil {
		r.runtimeMaster = haproxy.NewMaster(opts.runtimeSocket(r.in.Socket))
	}
	if !opts.noAgent {
		r.startAgent()
	}
	return r
}

// freePorts returns n free loopback ports, distinct from each other and
// from taken: FreePort may give a port twice, once it is free again.
func freePorts(t *testing.T, n int, taken ...int) []int {
	t.Helper()
	var out []int
	for range 10 * n {
		if p := haproxytest.FreePort(t); !slices.Contains(out, p) && !slices.Contains(taken, p) {
			out = append(out, p)
		}
		if len(out) == n {
			return out
		}
	}
	t.Fatalf("no %d distinct free ports", n)
	return nil
}

// rigRender renders the production haproxy.cfg localized for build b.
func rigRender(b haproxytest.Build, adminSocket string) func(*state.State) ([]byte, error) {
	return func(s *state.State) ([]byte, error) {
		cfg, err := render.HAProxy(s)
		if err != nil {
			return nil, err
		}
		return b.Localize(cfg, adminSocket)
	}
}

// stateWith is the rig's state with these workers.
func (r *runtimeRig) stateWith(workers []agenttest.Server) agenttest.State {
	s := r.base
	s.Workers = workers
	return s
}

// config is the agent's configuration on the rig.
func (r *runtimeRig) config(log *zap.Logger) agent.Config {
	return agent.Config{
		StatePath: r.statePath, StatusPath: r.statusPath,
		Resync: time.Hour, MinQuiescence: 20 * time.Millisecond, MinReloadInterval: -1,
		Targets: []agent.Target{{
			Name: "haproxy", Path: r.cfgPath, LastGood: r.lastGood, Render: r.render,
			Checker: r.build,
			Reloader: agent.ServerStateReloader{Reloader: haproxy.NewMasterReloader(r.in.Master, log),
				Master: r.in.Master, Path: r.serverState, Config: r.cfgPath, Log: log},
			Runtime: serverplan.Updater{Master: r.runtimeMaster, StateFile: r.serverState, Log: log},
		}},
	}
}

// startAgent runs the agent's loop until the test ends (or stop), and
// waits for its first reconcile.
func (r *runtimeRig) startAgent() {
	r.t.Helper()
	core, logs := observer.New(zapcore.DebugLevel)
	log := zaptest.NewLogger(r.t, zaptest.Level(zapcore.InfoLevel)).WithOptions(zap.WrapCore(func(c zapcore.Core) zapcore.Core { return zapcore.NewTee(c, core) }))
	r.logs = logs
	a, err := agent.New(r.config(log), log)
	if err != nil {
		r.t.Fatal(err)
	}
	r.agent = a
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	stopped := false
	r.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				r.t.Errorf("Run: %v", err)
			}
		case <-time.After(waitTimeout):
			r.t.Errorf("Run did not return within %s of its context ending", waitTimeout)
		}
	}
	r.t.Cleanup(r.stop)
	r.waitStatus("the first reconcile", func(s *agent.Status) bool { return s.PID == os.Getpid() && s.Counts.Reconciles >= 1 })
}

// edit saves the state with workers and waits until the agent reconciled
// it; it returns the status then.
func (r *runtimeRig) edit(workers []agenttest.Server) *agent.Status {
	r.t.Helper()
	return r.editState(r.stateWith(workers))
}

// editState saves s and waits until the agent reconciled it.
func (r *runtimeRig) editState(s agenttest.State) *agent.Status {
	r.t.Helper()
	parsed, _, err := state.Parse("state.yaml", s.YAML())
	if err != nil {
		r.t.Fatal(err)
	}
	hash := parsed.Hash()
	n := r.status().Counts.Reconciles
	if err := agenttest.RenameOver(r.statePath, s.YAML()); err != nil {
		r.t.Fatal(err)
	}
	return r.waitStatus("the edit reconciled", func(st *agent.Status) bool {
		return st.Counts.Reconciles > n && st.Last != nil && st.Last.StateHash == hash
	})
}

func (r *runtimeRig) status() *agent.Status {
	r.t.Helper()
	st, err := agent.ReadStatus(r.statusPath)
	if err != nil {
		r.t.Fatal(err)
	}
	return st
}

func (r *runtimeRig) waitStatus(what string, ok func(*agent.Status) bool) *agent.Status {
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

func (r *runtimeRig) ctx() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	r.t.Cleanup(cancel)
	return ctx
}

func (r *runtimeRig) procs() haproxy.Procs {
	r.t.Helper()
	p, err := r.in.Master.ShowProc(r.ctx())
	if err != nil {
		r.t.Fatal(err)
	}
	return p
}

// label is the pool label of address addr.
func (r *runtimeRig) label(addr string) string {
	i := slices.Index(r.pool, addr)
	if i < 0 {
		r.t.Fatalf("%s is not a pool address", addr)
	}
	return fmt.Sprintf("a%d", i)
}

// wantRouted fails unless connections through ingress HTTP reach exactly
// the labels of the workers that take connections (weight above 0, not
// drained), each at least once: leastconn takes turns among idle servers.
func (r *runtimeRig) wantRouted(workers []agenttest.Server) {
	r.t.Helper()
	var want []string
	for _, w := range workers {
		if w.Routed() {
			want = append(want, r.label(w.Address))
		}
	}
	slices.Sort(want)
	want = slices.Compact(want)
	seen := map[string]int{}
	for range 4 * len(want) {
		got, err := haproxytest.Ask(loopback(r.base.HTTPPort))
		if err != nil {
			r.t.Fatalf("through haproxy: %v", err)
		}
		seen[strings.TrimSpace(got)]++
	}
	var got []string
	for label := range seen {
		got = append(got, label)
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		r.t.Errorf("connections reached %v, want each of %v", seen, want)
	}
}

// wantServers fails unless the current worker's ingress servers are those
// of workers: names, addresses, the pool port, weights, and no
// maintenance or drain.
func (r *runtimeRig) wantServers(workers []agenttest.Server) {
	r.t.Helper()
	w, err := haproxy.CurrentWorker(r.ctx(), r.in.Master)
	if err != nil {
		r.t.Fatal(err)
	}
	for _, backend := range []string{"ingress-http", "ingress-https"} {
		states, err := w.ServersState(r.ctx(), backend)
		if err != nil {
			r.t.Fatal(err)
		}
		var got, want []string
		for _, s := range states {
			got = append(got, fmt.Sprintf("%s@%s:%d/w%d/%s", s.Name, s.Addr, s.Port, s.Weight, s.Admin))
		}
		for _, s := range workers {
			want = append(want, fmt.Sprintf("%s@%s:%d/w%d/ready", s.Name, s.Address, r.base.HTTPBackendPort, s.HAProxyWeight()))
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			r.t.Errorf("%s: show servers state:\n  %s\nwant:\n  %s", backend, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
		}
	}
}
