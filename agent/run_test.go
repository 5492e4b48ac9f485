package agent_test

import (
	"bytes"
	"net"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hakgen/hakgen/agent"
	"github.com/hakgen/hakgen/agent/agenttest"
)

// TestRunAppliesEverySavePattern edits state.yaml in each way editors and
// Kubernetes save files; every edit changes where a real HAProxy routes,
// by exactly one reload.
func TestRunAppliesEverySavePattern(t *testing.T) {
	r := startRig(t, nil)
	r.eventuallyRoutes(0)
	startReloads := r.masterReloads()
	edit := 0
	for _, name := range []string{"in-place", "rename-over", "delete-recreate", "configmap"} {
		save := agenttest.SavePatterns()[name]
		for range 2 {
			edit++
			r.save(save, r.state(edit))
			r.eventuallyRoutes(edit)
			st := r.waitStatus("the edit applied", func(s *agent.Status) bool { return s.Counts.Reloads == edit })
			if st.Last.Outcome != agent.OutcomeApplied || !st.Healthy {
				t.Fatalf("%s edit %d: last reconcile %+v, want applied", name, edit, st.Last)
			}
		}
	}
	if got := r.masterReloads() - startReloads; got != edit {
		t.Errorf("the master counted %d reloads for %d edits, want one each", got, edit)
	}
	st := r.status()
	if st.Counts.ReloadsFailed != 0 || st.AppliedHash == "" || st.AppliedHash != st.Last.StateHash {
		t.Errorf("status %+v: want no failed reload and the last state applied", st)
	}
}

// TestRunInvalidEditKeepsRouting: an invalid state is refused with its
// place in the file, logged once however often it is retried, routing is
// unchanged, and the next valid edit applies.
func TestRunInvalidEditKeepsRouting(t *testing.T) {
	r := startRig(t, nil)
	r.eventuallyRoutes(0)
	cfgBefore, reloads := readFile(t, r.cfgPath), r.masterReloads()

	bad := strings.Replace(string(r.state(1).YAML()), "{name: w2, address: 127.0.0.3}", "{name: w2, address: bad_address!}", 1)
	if err := agenttest.RenameOver(r.statePath, []byte(bad)); err != nil {
		t.Fatal(err)
	}
	st := r.waitStatus("the invalid state", func(s *agent.Status) bool { return !s.Healthy })
	place := regexp.MustCompile(regexp.QuoteMeta(r.statePath) + `:\d+:\d+: workers\[0\]\.address: `)
	if st.Last.Outcome != agent.OutcomeInvalid || st.LastError == nil || !place.MatchString(st.LastError.Error) {
		t.Fatalf("status after the invalid edit: %+v, %+v; want invalid naming file:line:col: workers[0].address", st.Last, st.LastError)
	}
	for range 3 { // SIGHUP's path: the same error again
		n := st.Counts.Reconciles
		r.agent.Trigger()
		st = r.waitStatus("a forced reconcile", func(s *agent.Status) bool { return s.Counts.Reconciles > n })
	}
	if n := r.logs.FilterMessage("state refused; keeping the running configuration").Len(); n != 1 {
		t.Errorf("the invalid state was logged %d times over %d reconciles, want once", n, st.Counts.Reconciles-1)
	}
	if w, c := r.routes(); w != "w1" || c != "cp1" {
		t.Errorf("after the invalid edit haproxy routes to %s and %s, want w1 and cp1", w, c)
	}
	if !bytes.Equal(readFile(t, r.cfgPath), cfgBefore) || r.masterReloads() != reloads {
		t.Error("the invalid edit changed haproxy.cfg or reloaded haproxy")
	}

	r.save(agenttest.RenameOver, r.state(1))
	r.eventuallyRoutes(1)
	r.waitStatus("recovery", func(s *agent.Status) bool { return s.Healthy && s.Last.Outcome == agent.OutcomeApplied })
	if r.logs.FilterMessage("recovered").Len() != 1 {
		t.Error("recovery not logged")
	}
}

// TestRunBurstReloadsOnce: 20 edits within about 200 ms end in one reload
// of the final state.
func TestRunBurstReloadsOnce(t *testing.T) {
	// A wide quiescence window, so that a stall of the machine between two
	// writes cannot split the burst.
	r := startRig(t, func(c *agent.Config) { c.MinQuiescence, c.MaxQuiescence = time.Second, 10*time.Second })
	r.eventuallyRoutes(0)
	before, reloads := r.status(), r.masterReloads()
	for i := 2; i <= 21; i++ { // 20 edits, alternating; the last one routes to w2
		r.save(agenttest.WriteInPlace, r.state(i))
		time.Sleep(10 * time.Millisecond)
	}
	st := r.waitStatus("the burst applied", func(s *agent.Status) bool {
		return s.Counts.Reconciles > before.Counts.Reconciles && s.Last.Outcome == agent.OutcomeApplied
	})
	r.eventuallyRoutes(21)
	if got := r.masterReloads() - reloads; got != 1 {
		t.Errorf("the master counted %d reloads for the burst, want 1", got)
	}
	if got := st.Counts.Reloads - before.Counts.Reloads; got != 1 {
		t.Errorf("the agent counted %d reloads for the burst, want 1", got)
	}
	t.Logf("%d reconcile(s) for the burst", st.Counts.Reconciles-before.Counts.Reconciles)
}

// TestRunReloadFailureRestoresLastGood: a state that passes `haproxy -c`
// but cannot load (its new frontend's port is taken) fails the reload; the
// agent restores the last-known-good haproxy.cfg, reloads it, and HAProxy
// keeps routing as before.
func TestRunReloadFailureRestoresLastGood(t *testing.T) {
	r := startRig(t, nil)
	r.eventuallyRoutes(0)
	good := readFile(t, r.cfgPath)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()

	s := r.state(1)
	s.Extra = []int{busy.Addr().(*net.TCPAddr).Port}
	r.save(agenttest.RenameOver, s)
	// Wait for the failed reload itself: a reconcile for a stray event may
	// come first on a loaded machine.
	st := r.waitStatus("the failed reload", func(s *agent.Status) bool { return s.Counts.ReloadsFailed >= 1 })
	if st.Last.Outcome != agent.OutcomeReverted || st.Counts.Rollbacks != 1 || st.Counts.ReloadsFailed != 1 {
		t.Fatalf("status %+v %+v: want reverted, one rollback, one failed reload", st.Last, st.Counts)
	}
	if !strings.Contains(st.LastError.Error, "reload failed") {
		t.Errorf("last error %q does not say the reload failed", st.LastError.Error)
	}
	if !bytes.Equal(readFile(t, r.cfgPath), good) || !bytes.Equal(readFile(t, r.lastGood), good) {
		t.Error("haproxy.cfg is not the last-known-good file after the rollback")
	}
	r.eventuallyRoutes(0)
	if tgt := st.Targets[0]; tgt.Pending {
		t.Errorf("target %+v pending after a successful rollback", tgt)
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
