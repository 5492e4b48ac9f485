package agent_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"go.uber.org/zap"

	"github.com/hakgen/hakgen/agent"
	"github.com/hakgen/hakgen/agent/agenttest"
	"github.com/hakgen/hakgen/haproxy"
	"github.com/hakgen/hakgen/haproxy/haproxytest"
)

// envRuntimeChild holds, for TestRuntimeChild, the rig its agent runs on.
const envRuntimeChild = "HAKGEN_AGENT_RUNTIME_CHILD"

// childRig is what a child agent needs of a runtime rig.
type childRig struct {
	Build                                                      string
	Dir, StatePath, CfgPath, StatusPath, LastGood, ServerState string
	AdminSocket, MasterSocket, RuntimeSocket                   string
}

// TestRuntimeChild is the agent of TestRuntimeAgentKilledMidChange, in a
// process of its own (this test binary) so that it can be SIGKILLed; it
// does nothing in a normal run. It runs the agent's loop on the rig of
// envRuntimeChild until killed.
func TestRuntimeChild(t *testing.T) {
	spec := os.Getenv(envRuntimeChild)
	if spec == "" {
		t.Skip("helper process of TestRuntimeAgentKilledMidChange")
	}
	var c childRig
	if err := json.Unmarshal([]byte(spec), &c); err != nil {
		t.Fatal(err)
	}
	b := haproxytest.Host(t)
	if c.Build == "3.0" {
		b = haproxytest.HAProxy30(t)
	}
	r := &runtimeRig{t: t, build: b, dir: c.Dir, statePath: c.StatePath, cfgPath: c.CfgPath, statusPath: c.StatusPath,
		lastGood: c.LastGood, serverState: c.ServerState, adminSocket: c.AdminSocket,
		in: &haproxytest.Instance{Socket: c.MasterSocket, Master: haproxy.NewMaster(c.MasterSocket)}, runtimeMaster: haproxy.NewMaster(c.RuntimeSocket)}
	r.render = rigRender(b, r.adminSocket)
	a, err := agent.New(r.config(zap.NewNop()), zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestRuntimeAgentKilledMidChange kills the agent (SIGKILL, a process of
// its own) while it changes servers at runtime: once the new haproxy.cfg
// is installed and before the first Runtime API command, and after the
// first command (a server added, not yet enabled). The file on disk is the
// new one; the agent started again finds that it is not known to run,
// reloads it, and HAProxy then runs exactly the new servers.
func TestRuntimeAgentKilledMidChange(t *testing.T) {
	for _, tc := range []struct {
		name string
		// trips says whether to kill the agent at this command, given how
		// many add server commands passed before it.
		trips func(cmd string, added int) bool
	}{
		{"before the first command", func(string, int) bool { return true }},
		{"after the first command", func(_ string, added int) bool { return added == 1 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			haproxytest.EachBuild(t, func(t *testing.T, b haproxytest.Build) {
				var armed, tripped atomic.Bool
				var added atomic.Int32
				var child atomic.Pointer[os.Process]
				gate := func(master string) string {
					return haproxytest.StartGateProxy(t, master, func(_ int, cmd string) haproxytest.Verdict {
						if !armed.Load() || tripped.Load() {
							return haproxytest.Pass
						}
						if tc.trips(cmd, int(added.Load())) {
							tripped.Store(true)
							_ = child.Load().Signal(syscall.SIGKILL)
							return haproxytest.Hold
						}
						if strings.Contains(cmd, "add server") {
							added.Add(1)
						}
						return haproxytest.Pass
					}).Socket
				}
				first := []agenttest.Server{{Name: "w1", Address: "127.0.0.2"}}
				r := startRuntimeRig(t, b, first, rigOptions{runtimeSocket: gate, noAgent: true})
				cmd := r.startChild(b)
				child.Store(cmd.Process)
				r.waitStatus("the child's first reconcile", func(s *agent.Status) bool { return s.PID == cmd.Process.Pid })
				reloads := r.procs().Master.Reloads

				next := []agenttest.Server{r.w("w1", 0), r.w("w2", 1), r.w("w3", 2)}
				armed.Store(true)
				if err := agenttest.RenameOver(r.statePath, r.stateWith(next).YAML()); err != nil {
					t.Fatal(err)
				}
				err := cmd.Wait()
				if !tripped.Load() {
					t.Fatalf("the agent ended (%v) without reaching the point to kill it", err)
				}
				want := renderState(t, r.render, r.stateWith(next))
				if got := readFile(t, r.cfgPath); !bytes.Equal(got, want) {
					t.Fatalf("after the kill haproxy.cfg is not the new file, installed before the runtime change:\n%s", got)
				}

				r.startAgent()
				st := r.waitStatus("the restarted agent applied the state", func(s *agent.Status) bool {
					return s.Last.Outcome == agent.OutcomeApplied || s.Last.Outcome == agent.OutcomeUnchanged
				})
				if tgt := st.Targets[0]; st.Last.Outcome != agent.OutcomeApplied || tgt.How != agent.HowReload || tgt.Pending {
					t.Errorf("the restarted agent: %s, how %q, pending %v; want the file reloaded, as it was not known to run", st.Last.Outcome, tgt.How, tgt.Pending)
				}
				if got := r.procs().Master.Reloads - reloads; got != 1 {
					t.Errorf("the master reloaded %d times after the restart, want 1", got)
				}
				r.wantServers(next)
				r.wantRouted(next)
			})
		})
	}
}

// startChild starts TestRuntimeChild on the rig; t.Cleanup kills it if it
// still runs.
func (r *runtimeRig) startChild(b haproxytest.Build) *exec.Cmd {
	r.t.Helper()
	spec, err := json.Marshal(childRig{Build: b.Name, Dir: r.dir, StatePath: r.statePath, CfgPath: r.cfgPath, StatusPath: r.statusPath,
		LastGood: r.lastGood, ServerState: r.serverState, AdminSocket: r.adminSocket, MasterSocket: r.in.Socket,
		RuntimeSocket: r.runtimeMaster.Socket})
	if err != nil {
		r.t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestRuntimeChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), envRuntimeChild+"="+string(spec))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(func() {
		_ = cmd.Process.Kill() // a no-op once Wait has reaped it
		if r.t.Failed() {
			r.t.Logf("child agent output:\n%s", out.String())
		}
	})
	return cmd
}
