package agent

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"go.uber.org/zap/zaptest"

	"github.com/hakgen/hakgen/haproxy"
	"github.com/hakgen/hakgen/state"
	"github.com/hakgen/hakgen/systemd"
)

// TestReconcileUnitBusyKeepsNewFile: a reload systemd did not run (unit
// activating or deactivating) or cancelled for another job is no failure
// of the new file: nothing is rolled back, and the owed reload comes next.
func TestReconcileUnitBusyKeepsNewFile(t *testing.T) {
	for name, reloadErr := range map[string]error{
		"busy":     fmt.Errorf("reloading haproxy.service: %w", systemd.ErrBusy),
		"canceled": &systemd.JobError{Unit: "haproxy.service", Job: "reload", Result: "canceled"},
	} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t)
			s, _ := states()
			writeFile(t, f.statePath, s.YAML())
			writeFile(t, f.target, []byte("# running\n"))
			f.reloader.errs = []error{reloadErr}
			a := f.agent(t)
			want := rendered(t, s)
			r := reconcile(t, a)
			if r.Outcome != OutcomeError || f.reloader.calls() != 1 || !bytes.Equal(readFile(t, f.target), want) {
				t.Fatalf("outcome %s after %d reloads, target new: %v; want error, 1 reload, the new file kept",
					r.Outcome, f.reloader.calls(), bytes.Equal(readFile(t, f.target), want))
			}
			if r := reconcile(t, a); r.Outcome != OutcomeApplied || f.reloader.calls() != 2 {
				t.Errorf("next reconcile: %s after %d reloads; want the owed reload applied", r.Outcome, f.reloader.calls())
			}
		})
	}
}

// pathChecker refuses every file, naming it as haproxy -c does.
type pathChecker struct{}

func (pathChecker) Check(_ context.Context, path string) (string, error) {
	return "", &haproxy.CheckError{File: path, ExitCode: 1, Output: "[ALERT] parsing [" + path + ":3] : unknown keyword\n"}
}

// TestCheckRefusalReadsTheSameEveryTime: the refusal names the target, not
// the staged file's random name, so log-once sees one error per cause.
func TestCheckRefusalReadsTheSameEveryTime(t *testing.T) {
	f := newFixture(t)
	s, _ := states()
	writeFile(t, f.statePath, s.YAML())
	cfg := f.config()
	cfg.Targets[0].Checker = pathChecker{}
	a, err := New(cfg, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	first, second := reconcile(t, a), reconcile(t, a)
	if first.Outcome != OutcomeInvalid || errString(first.Err) != errString(second.Err) {
		t.Fatalf("outcomes %s/%s, errors differ:\n%v\n%v", first.Outcome, second.Outcome, first.Err, second.Err)
	}
	if msg := errString(first.Err); strings.Contains(msg, ".hakgen-") || !strings.Contains(msg, f.target+" (as staged):3") {
		t.Errorf("refusal names the staged file, not the target: %s", msg)
	}
}

// TestRenderNotReadyIsRetried: a render that cannot run yet (this node's
// address not up at boot) is an environment problem, retried, not a
// refused state.
func TestRenderNotReadyIsRetried(t *testing.T) {
	f := newFixture(t)
	s, _ := states()
	writeFile(t, f.statePath, s.YAML())
	cfg := f.config()
	cfg.Targets[0].Render = func(*state.State) ([]byte, error) {
		return nil, fmt.Errorf("%w: none of this machine's addresses is a load balancer's", ErrNotReady)
	}
	a, err := New(cfg, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if r := reconcile(t, a); r.Outcome != OutcomeError {
		t.Errorf("outcome %s, want error (retried)", r.Outcome)
	}
}
