package agent

import (
	"bytes"
	"context"
	"errors"
	"os"
	"testing"

	"go.uber.org/zap/zaptest"
)

// fakeRuntime records what it was asked to apply and answers as set.
type fakeRuntime struct {
	target        string
	running, next [][]byte
	onDisk        [][]byte // the target's content at each call
	summary       string
	err           error
}

var _ Runtime = (*fakeRuntime)(nil)

func (f *fakeRuntime) Apply(_ context.Context, running, next []byte) (string, error) {
	data, _ := os.ReadFile(f.target)
	f.running, f.next, f.onDisk = append(f.running, running), append(f.next, next), append(f.onDisk, data)
	return f.summary, f.err
}

// plannedReload is a Runtime's error saying the change needs a reload.
type plannedReload struct{}

func (plannedReload) Error() string     { return "the change needs a reload: global section changed" }
func (plannedReload) NeedsReload() bool { return true }

// runtimeFixture is a fixture whose target has rt as its Runtime and
// holds the file of state s0, which the agent's first reconcile records as
// running; the state file then asks for s1.
func runtimeFixture(t *testing.T, rt *fakeRuntime) (*fixture, *Agent, []byte, []byte) {
	t.Helper()
	f := newFixture(t)
	rt.target = f.target
	s0, s1 := states()
	old, want := rendered(t, s0), rendered(t, s1)
	writeFile(t, f.statePath, s0.YAML())
	writeFile(t, f.target, old)
	cfg := f.config()
	cfg.Targets[0].Runtime = rt
	a, err := New(cfg, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if r := reconcile(t, a); r.Outcome != OutcomeUnchanged {
		t.Fatalf("first reconcile %s", r.Outcome)
	}
	writeFile(t, f.statePath, s1.YAML())
	return f, a, old, want
}

// TestApplyAtRuntime: a Runtime that applies the file spares the reload;
// it is called with the running file and the new one, after the new one
// is installed; the status says how.
func TestApplyAtRuntime(t *testing.T) {
	rt := &fakeRuntime{summary: "ingress-http: +w2 -w1"}
	f, a, old, want := runtimeFixture(t, rt)
	r := reconcile(t, a)
	if r.Outcome != OutcomeApplied || f.reloader.calls() != 0 || len(rt.next) != 1 {
		t.Fatalf("%s, %d reloads, %d runtime calls; want applied at runtime alone", r.Outcome, f.reloader.calls(), len(rt.next))
	}
	if !bytes.Equal(rt.running[0], old) || !bytes.Equal(rt.next[0], want) || !bytes.Equal(rt.onDisk[0], want) {
		t.Error("the Runtime was not given the running file and the new one, with the new one installed")
	}
	st := a.status.record(TriggerFile, r, a.targets)
	tgt := st.Targets[0]
	if tgt.How != HowRuntime || tgt.Change != rt.summary || tgt.Pending || st.Counts.RuntimeUpdates != 1 || st.Counts.Reloads != 0 {
		t.Errorf("status %+v, counts %+v; want applied at runtime, not pending, one runtime update", tgt, st.Counts)
	}
	if r := reconcile(t, a); r.Outcome != OutcomeUnchanged || len(rt.next) != 1 {
		t.Errorf("then %s with %d runtime calls, want unchanged", r.Outcome, len(rt.next))
	}
}

// TestApplyNothingAtRuntime: a Runtime that finds nothing to change (the
// files differ in comments only) spares the reload too.
func TestApplyNothingAtRuntime(t *testing.T) {
	f, a, _, _ := runtimeFixture(t, &fakeRuntime{})
	r := reconcile(t, a)
	if r.Outcome != OutcomeApplied || f.reloader.calls() != 0 || r.Targets[0].How != HowNone || r.Targets[0].RuntimeUpdates != 0 {
		t.Fatalf("%s, how %q, %d reloads; want applied with nothing to do", r.Outcome, r.Targets[0].How, f.reloader.calls())
	}
}

// TestApplyFallsBackToReload: a planned reload and a failed runtime change
// both reload the new file; only the failure counts as a fallback.
func TestApplyFallsBackToReload(t *testing.T) {
	for _, c := range []struct {
		name     string
		err      error
		fallback int
	}{
		{"planned", plannedReload{}, 0},
		{"failed", errors.New("changing servers at runtime: haproxy worker 7 refused \"add server\""), 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			f, a, _, want := runtimeFixture(t, &fakeRuntime{err: c.err})
			r := reconcile(t, a)
			tr := r.Targets[0]
			if r.Outcome != OutcomeApplied || f.reloader.calls() != 1 || !bytes.Equal(f.reloader.seen[0], want) {
				t.Fatalf("%s, %d reloads; want the new file applied by a reload", r.Outcome, f.reloader.calls())
			}
			if tr.How != HowReload || tr.ReloadReason != c.err.Error() || tr.RuntimeFailed != c.fallback {
				t.Errorf("how %q, reason %q, failed %d; want reload, the Runtime's error, %d", tr.How, tr.ReloadReason, tr.RuntimeFailed, c.fallback)
			}
			st := a.status.record(TriggerFile, r, a.targets)
			if st.Counts.RuntimeFallbacks != c.fallback || st.Targets[0].ReloadReason != c.err.Error() {
				t.Errorf("status %+v %+v", st.Counts, st.Targets[0])
			}
		})
	}
}

// TestApplyUnknownRunningReloads: when the file on disk is not known to
// run (a previous agent died between install and apply), the Runtime is
// not asked: only a reload makes it run.
func TestApplyUnknownRunningReloads(t *testing.T) {
	rt := &fakeRuntime{summary: "x"}
	f, a, _, _ := runtimeFixture(t, rt)
	a.targets[0].loaded = loadedUnknown
	r := reconcile(t, a)
	if r.Outcome != OutcomeApplied || f.reloader.calls() != 1 || len(rt.next) != 0 {
		t.Fatalf("%s, %d reloads, %d runtime calls; want one reload and no runtime call", r.Outcome, f.reloader.calls(), len(rt.next))
	}
}
