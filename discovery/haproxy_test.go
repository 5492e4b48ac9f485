package discovery_test

import (
	"context"
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
	"github.com/hakgen/hakgen/discovery"
	"github.com/hakgen/hakgen/haproxy"
	"github.com/hakgen/hakgen/haproxy/haproxytest"
	"github.com/hakgen/hakgen/hetzner/hetznertest"
	"github.com/hakgen/hakgen/internal/tooltest"
	"github.com/hakgen/hakgen/state"
)

// interval is the poll period of these tests: the shortest the state
// allows.
const interval = state.MinDiscoveryInterval

// slack is what the issue allows past one interval for a discovered
// change to route: one poll, one reconcile, one runtime change.
const slack = 2 * time.Second

const (
	rigToken   = "discovery-rig-token"
	rigNetwork = int64(7)
)

// lab is a real HAProxy on loopback behind an agent whose Source is a
// discovery poller of the fake API; the workers answer with their names.
type lab struct {
	t                                               *testing.T
	fake                                            *hetznertest.Fake
	dir, statePath, cfgPath, statusPath, discovered string
	in                                              *haproxytest.Instance
	base                                            agenttest.State
	addrs                                           map[string]string // worker name -> loopback address
	logs                                            *observer.ObservedLogs
}

// startLab starts the workers w1-w3 (w1 static, the others for the fake
// to hold), HAProxy on the state with the discovered servers kept from an
// earlier run, and the agent.
func startLab(t *testing.T, kept []discovery.Server) *lab {
	t.Helper()
	bin := tooltest.Need(t, "haproxy")
	dir := t.TempDir()
	sockDir, err := os.MkdirTemp("", "hakgen-discovery-") // short: socket paths are limited to 108 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(sockDir) })
	l := &lab{t: t, fake: hetznertest.New(t), dir: dir, statePath: filepath.Join(dir, "state.yaml"), cfgPath: filepath.Join(dir, "haproxy.cfg"),
		statusPath: filepath.Join(dir, "run", "status.json"), discovered: filepath.Join(dir, "lib", "discovered.json"), addrs: map[string]string{}}
	l.fake.RequireToken(rigToken)
	l.fake.AddNetwork(rigNetwork, "k8s", "127.0.0.0/8")
	names := []string{"w1", "w2", "w3"}
	port, addrs := agenttest.TCPBackends(t, names...)
	for i, n := range names {
		l.addrs[n] = addrs[i]
	}
	apiPort, cpAddrs := agenttest.TCPBackends(t, "cp1")
	// maxconn 200 (agenttest.State): HAProxy needs about 400 descriptors.
	l.base = agenttest.State{APIPort: haproxytest.FreePort(t), APIBackendPort: apiPort,
		ControlPlanes: []agenttest.Server{{Name: "cp1", Address: cpAddrs[0]}},
		HTTPPort:      haproxytest.FreePort(t), HTTPBackendPort: port, HTTPSPort: haproxytest.FreePort(t), HTTPSBackendPort: port,
		Workers: []agenttest.Server{{Name: "w1", Address: l.addrs["w1"]}}, StatsPort: haproxytest.FreePort(t)}
	tokenFile := filepath.Join(dir, "hcloud-token")
	if err := os.WriteFile(tokenFile, []byte(rigToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	yaml := string(l.base.YAML()) + "hcloud: {tokenFile: " + tokenFile + "}\n" +
		"discovery:\n  hcloud:\n    network: k8s\n    interval: " + state.Duration(interval).String() + "\n    workers: \"cluster=test,role=worker\"\n"
	if err := os.WriteFile(l.statePath, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	if len(kept) > 0 {
		if err := discovery.Save(l.discovered, discovery.Saved{PolledAt: time.Now(), Network: "k8s", NetworkID: rigNetwork, Set: discovery.Set{Workers: kept}}); err != nil {
			t.Fatal(err)
		}
	}
	render := agenttest.LoopbackRender(filepath.Join(sockDir, "admin.sock"))
	l.writeInitialConfig(render)
	l.in = haproxytest.Start(t, l.cfgPath)
	l.startAgent(bin, render, filepath.Join(sockDir, "server-state"))
	return l
}

// writeInitialConfig installs what the agent renders at start, so that
// HAProxy starts on it and the agent's first reconcile finds it current.
func (l *lab) writeInitialConfig(render func(*state.State) ([]byte, error)) {
	l.t.Helper()
	s, _, err := state.Load(l.statePath)
	if err != nil {
		l.t.Fatal(err)
	}
	res, _, err := discovery.Offline(s, l.discovered)
	if err != nil {
		l.t.Fatal(err)
	}
	cfg, err := render(res.State)
	if err != nil {
		l.t.Fatal(err)
	}
	if err := os.WriteFile(l.cfgPath, cfg, 0o644); err != nil {
		l.t.Fatal(err)
	}
}

func (l *lab) startAgent(bin string, render func(*state.State) ([]byte, error), serverState string) {
	l.t.Helper()
	core, logs := observer.New(zapcore.InfoLevel)
	l.logs = logs
	log := zaptest.NewLogger(l.t, zaptest.Level(zapcore.InfoLevel)).WithOptions(zap.WrapCore(func(c zapcore.Core) zapcore.Core { return zapcore.NewTee(c, core) }))
	poller := discovery.New(discovery.Config{Connect: discovery.HCloud(l.fake.APIEndpoint(), "test", log), Path: l.discovered,
		StatusPath: discovery.StatusPath(l.statusPath)}, log)
	cfg := agent.Config{StatePath: l.statePath, StatusPath: l.statusPath, Resync: time.Hour, MinQuiescence: 20 * time.Millisecond,
		MinReloadInterval: -1, Source: poller,
		Targets: []agent.Target{haproxyTarget(l.in, bin, l.cfgPath, filepath.Join(l.dir, "haproxy.cfg.last-good"), serverState, render, log)}}
	a, err := agent.New(cfg, log)
	if err != nil {
		l.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, 2)
	go func() { poller.Run(ctx); done <- struct{}{} }()
	go func() {
		if err := a.Run(ctx); err != nil {
			l.t.Errorf("Run: %v", err)
		}
		done <- struct{}{}
	}()
	l.t.Cleanup(func() {
		cancel()
		for range 2 {
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				l.t.Error("the agent or the poller did not stop within 30 s")
				return
			}
		}
	})
}

// putWorker makes a labelled, running worker of the fake project.
func (l *lab) putWorker(id int64, name string) {
	l.fake.PutServer(hetznertest.ServerSpec{ID: id, Name: name, Labels: map[string]string{"cluster": "test", "role": "worker"},
		Private: map[int64]string{rigNetwork: l.addrs[name]}})
}

func (l *lab) agentStatus() *agent.Status {
	l.t.Helper()
	st, err := agent.ReadStatus(l.statusPath)
	if err != nil {
		l.t.Fatal(err)
	}
	return st
}

func (l *lab) discoveryStatus() *discovery.Status {
	l.t.Helper()
	st, err := discovery.ReadStatus(discovery.StatusPath(l.statusPath))
	if err != nil {
		l.t.Fatal(err)
	}
	return st
}

// waitPoll waits until the poller has finished a poll that started at or
// after since, bounded by two intervals: polls come every interval.
func (l *lab) waitPoll(since time.Time) *discovery.Status {
	l.t.Helper()
	for range int(2 * interval / (20 * time.Millisecond)) {
		if st, err := discovery.ReadStatus(discovery.StatusPath(l.statusPath)); err == nil && st.LastPoll != nil && !st.LastPoll.At.Before(since) {
			return st
		}
		time.Sleep(20 * time.Millisecond)
	}
	l.t.Fatalf("no poll started after %s within two intervals", since.Format(time.StampMilli))
	return nil
}

// servers are the server names of backend in the running worker.
func (l *lab) servers(backend string) []string {
	l.t.Helper()
	names, err := l.serversNow(backend)
	if err != nil {
		l.t.Fatal(err)
	}
	return names
}

// serversNow is servers, with the error of a CLI that does not answer
// (for a moment during a reload).
func (l *lab) serversNow(backend string) ([]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := l.in.Master.Worker(ctx, "show servers state "+backend)
	if err != nil {
		return nil, err
	}
	states, err := haproxy.ParseServersState(out)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, s := range states {
		names = append(names, s.Name)
	}
	slices.Sort(names)
	return names, nil
}

// reached asks the ingress HTTP frontend n times and returns the workers
// that answered.
func (l *lab) reached(n int) map[string]int {
	l.t.Helper()
	seen := map[string]int{}
	for range n {
		got, err := haproxytest.Ask("127.0.0.1:" + itoa(l.base.HTTPPort))
		if err != nil {
			l.t.Fatalf("through the ingress frontend: %v", err)
		}
		seen[strings.TrimSpace(got)]++
	}
	return seen
}

// routedWithin waits until connections reach name (want true) or the
// backends no longer have it (want false), and returns how long that took
// from since. It fails after interval + slack.
func (l *lab) routedWithin(name string, want bool, since time.Time) time.Duration {
	l.t.Helper()
	deadline := since.Add(interval + slack)
	var http []string
	for time.Now().Before(deadline) {
		var err1, err2 error
		var https []string
		http, err1 = l.serversNow("ingress-http")
		https, err2 = l.serversNow("ingress-https")
		has := slices.Contains(http, name) && slices.Contains(https, name)
		if err1 == nil && err2 == nil && has == want && (!want || l.reached(6)[name] > 0) {
			return time.Since(since)
		}
		time.Sleep(20 * time.Millisecond)
	}
	l.t.Fatalf("%s in the backends: want %v within %s; ingress-http has %v; discovery: %+v", name, want, interval+slack, http, l.discoveryStatus())
	return 0
}

// waitReconciled waits until the agent's status records a reconcile
// triggered by discovery that started at or after since.
func (l *lab) waitReconciled(since time.Time) *agent.Status {
	l.t.Helper()
	for range int(2 * interval / (20 * time.Millisecond)) {
		if st, err := agent.ReadStatus(l.statusPath); err == nil && st.Last != nil && st.Last.Trigger == agent.TriggerSource && !st.Last.At.Before(since) {
			return st
		}
		time.Sleep(20 * time.Millisecond)
	}
	l.t.Fatalf("no reconcile triggered by discovery after %s", since.Format(time.StampMilli))
	return nil
}

// TestDiscoveredWorkersRoutedWithoutReload: with a real HAProxy and the
// fake API, a labelled worker created in the project is routed to within
// interval + 2 s, leaves the rotation when deleted, and leaves when its
// label changes - each change applied without a reload of HAProxy.
func TestDiscoveredWorkersRoutedWithoutReload(t *testing.T) {
	l := startLab(t, []discovery.Server{{Name: "w2", Address: "127.0.0.3", ID: 3002}})
	l.putWorker(3002, "w2")
	first := l.waitPoll(time.Time{})
	if got := l.servers("ingress-http"); !slices.Equal(got, []string{"w1", "w2"}) || len(first.Servers.Workers) != 1 {
		t.Fatalf("at start: ingress-http has %v, discovery %+v; want w1 (static) and w2 (kept, then polled)", got, first.Servers)
	}
	reloads, agentReloads := l.masterReloads(), l.agentStatus().Counts.Reloads

	start := time.Now()
	l.putWorker(3003, "w3")
	took := l.routedWithin("w3", true, start)
	t.Logf("w3 created: routed after %s", took.Round(time.Millisecond))
	l.waitReconciled(start)
	if seen := l.reached(12); seen["w1"] == 0 || seen["w2"] == 0 || seen["w3"] == 0 {
		t.Errorf("connections reached %v, want each of w1, w2 and w3", seen)
	}
	st := l.agentStatus()
	if st.Last == nil || st.Last.Trigger != agent.TriggerSource || !st.Healthy {
		t.Errorf("the agent's last reconcile: %+v, want one triggered by discovery", st.Last)
	}
	if added := l.logs.FilterMessage("discovered worker added").FilterField(zap.String("server", "w3")).FilterField(zap.String("address", "127.0.0.4")); added.Len() != 1 {
		t.Errorf("%d lines logging w3's addition with its address, want 1", added.Len())
	}

	start = time.Now()
	l.fake.DeleteServer(3003)
	took = l.routedWithin("w3", false, start)
	t.Logf("w3 deleted: out after %s", took.Round(time.Millisecond))
	l.waitReconciled(start)

	start = time.Now()
	l.fake.SetLabels(3002, map[string]string{"cluster": "test", "role": "retired"})
	took = l.routedWithin("w2", false, start)
	t.Logf("w2 relabelled: out after %s", took.Round(time.Millisecond))
	l.waitReconciled(start)
	if seen := l.reached(6); len(seen) != 1 || seen["w1"] != 6 {
		t.Errorf("connections reached %v, want w1 alone", seen)
	}

	if got := l.masterReloads(); got != reloads {
		t.Errorf("HAProxy reloaded %d times for discovered changes, want 0 (through the Runtime API)", got-reloads)
	}
	if got := l.agentStatus().Counts.Reloads; got != agentReloads {
		t.Errorf("the agent counted %d reloads for discovered changes, want 0", got-agentReloads)
	}
	kept, err := discovery.Load(l.discovered)
	if err != nil || len(kept.Workers) != 0 {
		t.Errorf("kept set after the removals: %+v, %v", kept.Set, err)
	}
}

func (l *lab) masterReloads() int {
	l.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	p, err := l.in.Master.ShowProc(ctx)
	if err != nil {
		l.t.Fatal(err)
	}
	return p.Master.Reloads
}
