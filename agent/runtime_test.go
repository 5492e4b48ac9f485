package agent_test

import (
	"fmt"
	"net"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/hakgen/hakgen/agent"
	"github.com/hakgen/hakgen/agent/agenttest"
	"github.com/hakgen/hakgen/haproxy"
	"github.com/hakgen/hakgen/haproxy/haproxytest"
)

// w is worker name at pool address i of rig r.
func (r *runtimeRig) w(name string, i int) agenttest.Server {
	return agenttest.Server{Name: name, Address: r.pool[i]}
}

// ww is w with a weight; wd is w drained.
func (r *runtimeRig) ww(name string, i, weight int) agenttest.Server {
	s := r.w(name, i)
	s.Weight = agenttest.Weight(weight)
	return s
}

func (r *runtimeRig) wd(name string, i int) agenttest.Server {
	s := r.w(name, i)
	s.Drain = true
	return s
}

// serverEdits are 20 edits of the workers, each from the one before:
// additions, removals, new addresses, weights, drains and undrains, alone
// and together.
func serverEdits(r *runtimeRig) [][]agenttest.Server {
	w, ww, wd := r.w, r.ww, r.wd
	return [][]agenttest.Server{
		{w("w1", 0), w("w2", 1), w("w3", 2)},                                 // add w3
		{w("w1", 0), w("w2", 1), w("w3", 2), w("w4", 3)},                     // add w4
		{w("w2", 1), w("w3", 2), w("w4", 3)},                                 // remove w1
		{w("w2", 4), w("w3", 2), w("w4", 3)},                                 // re-address w2
		{w("w2", 4), ww("w3", 2, 3), w("w4", 3)},                             // weight w3
		{w("w2", 4), ww("w3", 2, 3), wd("w4", 3)},                            // drain w4
		{w("w2", 4), ww("w3", 2, 3), w("w4", 3)},                             // undrain w4
		{w("w2", 4), ww("w3", 2, 3), w("w4", 3), w("w5", 5), w("w6", 6)},     // add two
		{w("w2", 4), w("w5", 5), w("w6", 6)},                                 // remove two
		{w("w2", 4), w("w5", 0), w("w6", 6), w("w7", 1)},                     // re-address one, add one
		{ww("w2", 4, 2), w("w5", 0), w("w6", 6), w("w7", 1)},                 // weight w2
		{wd("w2", 4), w("w5", 0), w("w6", 6), w("w7", 1)},                    // drain a weighted server
		{wd("w2", 2), w("w5", 0), w("w6", 6), w("w7", 1)},                    // re-address a drained server
		{ww("w2", 2, 2), w("w5", 0), w("w6", 6), w("w7", 1)},                 // undrain to its weight
		{ww("w2", 2, 2), w("w5", 0), w("w6", 6), w("w7", 1), wd("w8", 3)},    // add one drained
		{ww("w2", 2, 2), w("w5", 0), w("w6", 6), w("w7", 1), w("w8", 3)},     // undrain it
		{ww("w2", 2, 1), ww("w5", 0, 0), w("w6", 6), w("w7", 1), w("w8", 3)}, // weights back to 1, and to 0
		{w("w1", 5), w("w2", 2), w("w5", 0), w("w8", 3)},                     // remove two, add one
		{w("w1", 6), w("w2", 4), w("w5", 0), w("w8", 3)},                     // re-address two
		{w("w1", 6)}, // remove three
	}
}

// TestRuntimeServerEditsDoNotReload runs the agent with a real HAProxy (2.6
// and 3.0) and makes 20 edits of state.yaml's workers: each edit changes
// routing and `show servers state` as the state says, and HAProxy never
// reloads (the master's reload count, the worker and its PID unchanged, no
// old worker).
func TestRuntimeServerEditsDoNotReload(t *testing.T) {
	haproxytest.EachBuild(t, func(t *testing.T, b haproxytest.Build) {
		var r *runtimeRig
		r = startRuntimeRig(t, b, []agenttest.Server{{Name: "w1", Address: "127.0.0.2"}, {Name: "w2", Address: "127.0.0.3"}}, rigOptions{})
		start := r.procs()
		worker, _ := start.Current()
		edits := serverEdits(r)
		for i, ws := range edits {
			st := r.edit(ws)
			tgt := st.Targets[0]
			if st.Last.Outcome != agent.OutcomeApplied || tgt.How != agent.HowRuntime || tgt.Change == "" {
				t.Fatalf("edit %d: %s, how %q (%s), want applied at runtime", i+1, st.Last.Outcome, tgt.How, tgt.ReloadReason)
			}
			r.wantServers(ws)
			r.wantRouted(ws)
			if t.Failed() {
				t.Fatalf("edit %d (%s)", i+1, tgt.Change)
			}
		}
		end := r.procs()
		now, _ := end.Current()
		if end.Master.Reloads != start.Master.Reloads || now.PID != worker.PID || len(end.OldWorkers) != 0 {
			t.Errorf("master reloads %d -> %d, worker %d -> %d, old workers %v: want no reload",
				start.Master.Reloads, end.Master.Reloads, worker.PID, now.PID, end.OldWorkers)
		}
		st := r.status()
		if st.Counts.Reloads != 0 || st.Counts.RuntimeUpdates != len(edits) || st.Counts.RuntimeFallbacks != 0 {
			t.Errorf("counts %+v, want %d runtime updates and no reload", st.Counts, len(edits))
		}
		if got := r.logs.FilterMessage("changed without a reload").Len(); got != len(edits) {
			t.Errorf("%d log lines for runtime changes, want one per edit (%d)", got, len(edits))
		}
	})
}

// TestRuntimeNonServerEditReloads: an edit beyond servers (a new frontend)
// reloads, with the reason; so does one that changes servers too.
func TestRuntimeNonServerEditReloads(t *testing.T) {
	haproxytest.EachBuild(t, func(t *testing.T, b haproxytest.Build) {
		workers := []agenttest.Server{{Name: "w1", Address: "127.0.0.2"}}
		r := startRuntimeRig(t, b, workers, rigOptions{})
		before := r.procs().Master.Reloads
		s := r.stateWith([]agenttest.Server{r.w("w1", 0), r.w("w2", 1)})
		s.Extra = freePorts(t, 1, s.APIPort, s.HTTPPort, s.HTTPSPort, s.StatsPort)
		st := r.editState(s)
		tgt := st.Targets[0]
		if st.Last.Outcome != agent.OutcomeApplied || tgt.How != agent.HowReload || !strings.Contains(tgt.ReloadReason, "frontend extra-extra0 added") {
			t.Fatalf("a new frontend: %s, how %q, reload reason %q; want applied by a reload, the frontend named", st.Last.Outcome, tgt.How, tgt.ReloadReason)
		}
		if got := r.procs().Master.Reloads - before; got != 1 {
			t.Errorf("the master reloaded %d times, want 1", got)
		}
		if st.Counts.RuntimeFallbacks != 0 || st.Counts.RuntimeUpdates != 0 {
			t.Errorf("counts %+v: a planned reload is no runtime update and no fallback", st.Counts)
		}
		r.wantServers([]agenttest.Server{r.w("w1", 0), r.w("w2", 1)})
		r.wantRouted([]agenttest.Server{r.w("w1", 0), r.w("w2", 1)})
		if got := r.logs.FilterMessage("reloaded: the change needs a reload").Len(); got != 1 {
			t.Errorf("%d log lines for the planned reload, want 1", got)
		}
	})
}

// TestRuntimeFailureFallsBackToReload: the master socket fails the runtime
// path's `add server` (its connection dropped before HAProxy sees it); the
// agent reloads instead, once, logging why, and HAProxy then runs the new
// servers.
func TestRuntimeFailureFallsBackToReload(t *testing.T) {
	haproxytest.EachBuild(t, func(t *testing.T, b haproxytest.Build) {
		var dropped atomic.Int32
		gate := func(master string) string {
			return haproxytest.StartGateProxy(t, master, func(_ int, cmd string) haproxytest.Verdict {
				if strings.Contains(cmd, "add server") && dropped.Add(1) == 1 {
					return haproxytest.Drop
				}
				return haproxytest.Pass
			}).Socket
		}
		workers := []agenttest.Server{{Name: "w1", Address: "127.0.0.2"}}
		r := startRuntimeRig(t, b, workers, rigOptions{runtimeSocket: gate})
		before := r.procs().Master.Reloads
		next := []agenttest.Server{r.w("w1", 0), r.w("w2", 1)}
		st := r.edit(next)
		tgt := st.Targets[0]
		if dropped.Load() != 1 {
			t.Fatalf("%d add server commands reached the gate, want 1", dropped.Load())
		}
		if st.Last.Outcome != agent.OutcomeApplied || tgt.How != agent.HowReload || !strings.Contains(tgt.ReloadReason, "add server ingress-http/w2") {
			t.Fatalf("after a failed add server: %s, how %q, reason %q; want applied by a reload, the command named", st.Last.Outcome, tgt.How, tgt.ReloadReason)
		}
		if got := r.procs().Master.Reloads - before; got != 1 {
			t.Errorf("the master reloaded %d times, want 1", got)
		}
		if st.Counts.RuntimeFallbacks != 1 || st.Counts.RuntimeUpdates != 0 || st.Counts.Reloads != 1 {
			t.Errorf("counts %+v, want one fallback, one reload", st.Counts)
		}
		if got := r.logs.FilterMessage("the change failed at runtime; reloaded instead").Len(); got != 1 {
			t.Errorf("%d log lines for the fallback, want 1", got)
		}
		r.wantServers(next)
		r.wantRouted(next)

		// The next edit goes the runtime path again.
		next = append(next, r.w("w3", 2))
		if st := r.edit(next); st.Targets[0].How != agent.HowRuntime {
			t.Errorf("the edit after a fallback: how %q (%s), want runtime", st.Targets[0].How, st.Targets[0].ReloadReason)
		}
		r.wantServers(next)
	})
}

// TestRuntimeReloadDuringChange: HAProxy reloads (as an operator's
// `systemctl reload haproxy` would) while the agent changes servers at
// runtime. The old worker, kept alive by a connection, never gets a
// command sent after the reload; the agent notices the new worker,
// reloads once more, and the change is not lost.
func TestRuntimeReloadDuringChange(t *testing.T) {
	haproxytest.EachBuild(t, func(t *testing.T, b haproxytest.Build) {
		var r *runtimeRig
		var reloaded atomic.Bool
		var oldPID atomic.Int64
		gate := func(master string) string {
			return haproxytest.StartGateProxy(t, master, func(_ int, cmd string) haproxytest.Verdict {
				if strings.Contains(cmd, "enable server ingress-http/w2") && !reloaded.Swap(true) {
					cur, _ := r.procs().Current()
					oldPID.Store(int64(cur.PID))
					if err := haproxy.NewMasterReloader(r.in.Master, zaptest.NewLogger(t)).Reload(r.ctx()); err != nil {
						t.Errorf("reload during the change: %v", err)
					}
				}
				return haproxytest.Pass
			}).Socket
		}
		workers := []agenttest.Server{{Name: "w1", Address: "127.0.0.2"}}
		r = startRuntimeRig(t, b, workers, rigOptions{runtimeSocket: gate})
		holdStats(t, r.base.StatsPort)
		next := []agenttest.Server{r.w("w1", 0), r.w("w2", 1)}
		st := r.edit(next)
		tgt := st.Targets[0]
		if !reloaded.Load() {
			t.Fatal("the change never reached enable server")
		}
		if tgt.How != agent.HowReload || !strings.Contains(tgt.ReloadReason, "haproxy reloaded") {
			t.Fatalf("across a reload: how %q, reason %q; want a reload after the worker changed", tgt.How, tgt.ReloadReason)
		}
		procs := r.procs()
		if !slices.ContainsFunc(procs.OldWorkers, func(p haproxy.Proc) bool { return p.PID == int(oldPID.Load()) }) {
			t.Fatalf("the old worker %d is gone (show proc %+v): the test cannot check what it got", oldPID.Load(), procs)
		}
		answer, err := r.in.Master.Process(r.ctx(), int(oldPID.Load()), "show servers state ingress-http")
		if err != nil {
			t.Fatal(err)
		}
		states, err := haproxy.ParseServersState(answer)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range states {
			if s.Name == "w2" && !s.Admin.Maint() {
				t.Errorf("the old worker's w2 is %s: it got enable server, sent after the reload", s.Admin)
			}
		}
		r.wantServers(next)
		r.wantRouted(next)
	})
}

// holdStats opens a connection to the stats frontend with half a request:
// HAProxy waits `timeout http-request` (10 s) for the rest, so the worker
// holding it outlives a reload that long.
func holdStats(t *testing.T, port int) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if _, err := conn.Write([]byte("GET / HTTP/1.1\r\n")); err != nil {
		t.Fatal(err)
	}
}
