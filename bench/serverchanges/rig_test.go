// Package serverchanges measures what server edits of state.yaml cost a
// real HAProxy run by the agent, on the runtime path (servers changed
// through the Runtime API) and on the reload path (the same agent without
// it): how long an edit takes to reach traffic, and what 100 edits do to
// connections, processes and memory under load. Run it through
// bench/bench.sh (make bench), or with go test -bench.
package serverchanges

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/hakgen/hakgen/agent"
	"github.com/hakgen/hakgen/agent/agenttest"
	"github.com/hakgen/hakgen/haproxy"
	"github.com/hakgen/hakgen/haproxy/haproxytest"
	"github.com/hakgen/hakgen/haproxy/serverplan"
	"github.com/hakgen/hakgen/internal/tooltest"
	"github.com/hakgen/hakgen/render"
	"github.com/hakgen/hakgen/state"
)

// waitTimeout bounds every wait of the benchmarks.
const waitTimeout = 30 * time.Second

// poolSize is the number of backend addresses: 127.0.0.2 and up, one port.
const poolSize = 8

// The two paths a server edit can take.
const (
	pathRuntime = "runtime"
	pathReload  = "reload"
)

// rig is a real HAProxy on loopback running the production haproxy.cfg,
// in front of echo servers on a pool of addresses, and the agent running
// its loop in-process: with the runtime path, or without (every change
// reloads, through the master socket, saving the servers' state).
type rig struct {
	b                             testing.TB
	statePath, cfgPath, statusDir string
	in                            *haproxytest.Instance
	base                          agenttest.State
	pool                          []string
}

// rigConfig chooses how the agent runs.
type rigConfig struct {
	path              string        // pathRuntime or pathReload
	minQuiescence     time.Duration // the agent's, 0: its default
	minReloadInterval time.Duration // the agent's, negative: none
	hardStopAfter     string        // haproxy.hardStopAfter
}

// startRig starts HAProxy on the state with the initial workers, and the
// agent, and waits for the agent's first reconcile.
func startRig(b testing.TB, cfg rigConfig, initial func(r *rig) []agenttest.Server) *rig {
	b.Helper()
	tooltest.Need(b, "haproxy")
	port, pool := echoServers(b, poolSize)
	dir := b.TempDir()
	sockDir, err := os.MkdirTemp("", "hakgen-bench-") // short: socket paths are limited to 108 bytes
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(sockDir) })
	r := &rig{b: b, statePath: filepath.Join(dir, "state.yaml"), cfgPath: filepath.Join(dir, "haproxy.cfg"), statusDir: dir, pool: pool}
	ports := freePorts(b, 4, port)
	r.base = agenttest.State{
		APIPort: ports[0], APIBackendPort: port,
		ControlPlanes: []agenttest.Server{{Name: "cp1", Address: pool[0]}, {Name: "cp2", Address: pool[1]}},
		HTTPPort:      ports[1], HTTPBackendPort: port,
		HTTPSPort: ports[2], HTTPSBackendPort: port,
		StatsPort: ports[3], MaxConn: 2000, HardStopAfter: cfg.hardStopAfter,
	}
	admin, serverState := filepath.Join(sockDir, "admin.sock"), filepath.Join(sockDir, "server-state")
	renderFn := func(s *state.State) ([]byte, error) {
		out, err := render.HAProxy(s)
		if err != nil {
			return nil, err
		}
		return haproxytest.Localize(out, admin)
	}
	first := r.stateWith(initial(r))
	if err := os.WriteFile(r.statePath, first.YAML(), 0o644); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(r.cfgPath, renderState(b, renderFn, first), 0o644); err != nil {
		b.Fatal(err)
	}
	r.in = haproxytest.Start(b, r.cfgPath)
	log := zap.NewNop()
	t := agent.Target{Name: "haproxy", Path: r.cfgPath, LastGood: r.cfgPath + ".last-good", Render: renderFn,
		Checker: haproxy.Checker{Bin: tooltest.Need(b, "haproxy"), Args: []string{"-S", r.in.Socket}},
		Reloader: agent.ServerStateReloader{Reloader: haproxy.NewMasterReloader(r.in.Master, log), Master: r.in.Master,
			Path: serverState, Config: r.cfgPath, Log: log}}
	if cfg.path == pathRuntime {
		t.Runtime = serverplan.Updater{Master: r.in.Master, StateFile: serverState, Log: log}
	}
	a, err := agent.New(agent.Config{StatePath: r.statePath, StatusPath: r.statusPath(), Resync: time.Hour,
		MinQuiescence: cfg.minQuiescence, MinReloadInterval: cfg.minReloadInterval, Targets: []agent.Target{t}}, log)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	b.Cleanup(func() { cancel(); <-done })
	r.waitStatus(func(s *agent.Status) bool { return s.Counts.Reconciles >= 1 })
	return r
}

func (r *rig) statusPath() string { return filepath.Join(r.statusDir, "status.json") }

// stateWith is the rig's state with these workers.
func (r *rig) stateWith(workers []agenttest.Server) agenttest.State {
	s := r.base
	s.Workers = workers
	return s
}

// worker is worker name at pool address i.
func (r *rig) worker(name string, i int) agenttest.Server {
	return agenttest.Server{Name: name, Address: r.pool[i]}
}

// edit saves the state with workers, as editors save (rename over), and
// returns when it was written and the hash the agent will report.
func (r *rig) edit(workers []agenttest.Server) (time.Time, string) {
	r.b.Helper()
	s := r.stateWith(workers)
	parsed, _, err := state.Parse("state.yaml", s.YAML())
	if err != nil {
		r.b.Fatal(err)
	}
	start := time.Now()
	if err := agenttest.RenameOver(r.statePath, s.YAML()); err != nil {
		r.b.Fatal(err)
	}
	return start, parsed.Hash()
}

// waitApplied waits until the agent reconciled the state of hash.
func (r *rig) waitApplied(hash string) *agent.Status {
	r.b.Helper()
	return r.waitStatus(func(s *agent.Status) bool {
		return s.Last != nil && s.Last.StateHash == hash && s.Last.Outcome == agent.OutcomeApplied
	})
}

func (r *rig) waitStatus(ok func(*agent.Status) bool) *agent.Status {
	r.b.Helper()
	deadline := time.Now().Add(waitTimeout)
	var st *agent.Status
	for time.Now().Before(deadline) {
		var err error
		if st, err = agent.ReadStatus(r.statusPath()); err == nil && ok(st) {
			return st
		}
		time.Sleep(2 * time.Millisecond)
	}
	r.b.Fatalf("the agent's status never showed what was waited for; last: %+v", st)
	return nil
}

func (r *rig) procs() haproxy.Procs {
	r.b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	p, err := r.in.Master.ShowProc(ctx)
	if err != nil {
		r.b.Fatal(err)
	}
	return p
}

func (r *rig) ingressHTTP() string { return "127.0.0.1:" + strconv.Itoa(r.base.HTTPPort) }
func (r *rig) api() string         { return "127.0.0.1:" + strconv.Itoa(r.base.APIPort) }

// echoServers listens on n loopback addresses on one port and echoes
// every connection until the peer closes its side, then closes; the
// greeting "aI\n" (I the address's index) comes first.
func echoServers(b testing.TB, n int) (int, []string) {
	b.Helper()
	labels := make([]string, n)
	for i := range labels {
		labels[i] = fmt.Sprintf("a%d", i)
	}
	var port int
	var addrs []string
	var lns []net.Listener
	for range 50 {
		first, err := net.Listen("tcp", "127.0.0.2:0")
		if err != nil {
			b.Fatal(err)
		}
		port = first.Addr().(*net.TCPAddr).Port
		lns = []net.Listener{first}
		for i := 1; i < n; i++ {
			ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.%d:%d", i+2, port))
			if err != nil {
				break
			}
			lns = append(lns, ln)
		}
		if len(lns) == n {
			break
		}
		for _, ln := range lns {
			ln.Close()
		}
		lns = nil
	}
	if lns == nil {
		b.Fatal("no port free on every pool address")
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	for i, ln := range lns {
		addrs = append(addrs, ln.Addr().(*net.TCPAddr).IP.String())
		wg.Go(func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				mu.Lock()
				conns = append(conns, c)
				mu.Unlock()
				wg.Go(func() {
					defer c.Close()
					if _, err := io.WriteString(c, labels[i]+"\n"); err != nil {
						return
					}
					_, _ = io.Copy(c, c)
				})
			}
		})
	}
	b.Cleanup(func() {
		for _, ln := range lns {
			ln.Close()
		}
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return port, addrs
}

// freePorts returns n distinct free loopback ports, none of taken.
func freePorts(b testing.TB, n int, taken ...int) []int {
	b.Helper()
	var out []int
	for range 10 * n {
		p := haproxytest.FreePort(b)
		dup := false
		for _, q := range append(out, taken...) {
			dup = dup || p == q
		}
		if !dup {
			out = append(out, p)
		}
		if len(out) == n {
			return out
		}
	}
	b.Fatalf("no %d distinct free ports", n)
	return nil
}

func renderState(b testing.TB, renderFn func(*state.State) ([]byte, error), s agenttest.State) []byte {
	b.Helper()
	st, _, err := state.Parse("state.yaml", s.YAML())
	if err != nil {
		b.Fatal(err)
	}
	cfg, err := renderFn(st)
	if err != nil {
		b.Fatal(err)
	}
	return cfg
}
