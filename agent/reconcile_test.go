package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hakgen/hakgen/haproxy"
	"github.com/hakgen/hakgen/internal/atomicfile"
)

func reconcile(t *testing.T, a *Agent) result {
	t.Helper()
	r := a.reconcileOnce(context.Background())
	t.Logf("reconcile: %s, err %v", r.Outcome, r.Err)
	return r
}

// assertNoLeftovers fails when a staged file was left beside the target.
func assertNoLeftovers(t *testing.T, target string) {
	t.Helper()
	if left, err := atomicfile.Leftovers(target); err != nil || len(left) > 0 {
		t.Errorf("staged files left beside %s: %v (%v)", target, left, err)
	}
}

func TestReconcileUnchangedDoesNotReload(t *testing.T) {
	f := newFixture(t)
	s, _ := states()
	writeFile(t, f.statePath, s.YAML())
	writeFile(t, f.target, rendered(t, s))
	a := f.agent(t)

	r := reconcile(t, a)
	if r.Outcome != OutcomeUnchanged || r.Err != nil {
		t.Fatalf("outcome %s, %v; want unchanged", r.Outcome, r.Err)
	}
	if f.checker.calls() != 0 || f.reloader.calls() != 0 {
		t.Errorf("checks %d, reloads %d; want none for unchanged bytes", f.checker.calls(), f.reloader.calls())
	}
	if r.Hash == "" {
		t.Error("no state hash recorded")
	}
}

func TestReconcileInstallsChecksAndReloads(t *testing.T) {
	f := newFixture(t)
	s, _ := states()
	writeFile(t, f.statePath, s.YAML())
	old := []byte("# the previous haproxy.cfg\n")
	writeFile(t, f.target, old)
	if err := os.Chmod(f.target, 0o640); err != nil {
		t.Fatal(err)
	}
	a := f.agent(t)
	want := rendered(t, s)

	r := reconcile(t, a)
	if r.Outcome != OutcomeApplied || r.Err != nil {
		t.Fatalf("outcome %s, %v; want applied", r.Outcome, r.Err)
	}
	if got := readFile(t, f.target); !bytes.Equal(got, want) {
		t.Errorf("target holds\n%s\nwant the rendered state", got)
	}
	if info, err := os.Stat(f.target); err != nil || info.Mode().Perm() != 0o640 {
		t.Errorf("target mode %v (%v), want 0640 kept", info.Mode(), err)
	}
	// The check ran on a hidden, non-.cfg file beside the target, holding the new bytes.
	if len(f.checker.paths) != 1 {
		t.Fatalf("%d checks, want 1", len(f.checker.paths))
	}
	staged := f.checker.paths[0]
	if filepath.Dir(staged) != filepath.Dir(f.target) || !strings.HasPrefix(filepath.Base(staged), ".") || strings.HasSuffix(staged, ".cfg") {
		t.Errorf("checked %s: want a hidden file without .cfg in %s", staged, filepath.Dir(f.target))
	}
	if !bytes.Equal(f.checker.contents[0], want) {
		t.Error("the checked file does not hold the rendered bytes")
	}
	if f.reloader.calls() != 1 || !bytes.Equal(f.reloader.seen[0], want) {
		t.Errorf("reloads %d; want 1, with the new file in place", f.reloader.calls())
	}
	if got := readFile(t, f.lastGood); !bytes.Equal(got, old) {
		t.Errorf("last-known-good holds %q, want the previous file", got)
	}
	assertNoLeftovers(t, f.target)

	if r := reconcile(t, a); r.Outcome != OutcomeUnchanged || f.reloader.calls() != 1 {
		t.Errorf("second reconcile: %s with %d reloads; want unchanged, still 1", r.Outcome, f.reloader.calls())
	}
}

func TestReconcileCheckFailureLeavesTargetUntouched(t *testing.T) {
	f := newFixture(t)
	s, _ := states()
	writeFile(t, f.statePath, s.YAML())
	old := []byte("# running\n")
	writeFile(t, f.target, old)
	before, _ := os.Stat(f.target)
	f.checker.err = &haproxy.CheckError{File: "x", ExitCode: 1, Output: "[ALERT] parsing: unknown keyword 'nope'\n"}
	a := f.agent(t)

	r := reconcile(t, a)
	if r.Outcome != OutcomeInvalid || !strings.Contains(errString(r.Err), "unknown keyword 'nope'") {
		t.Fatalf("outcome %s, %v; want invalid with HAProxy's message", r.Outcome, r.Err)
	}
	after, _ := os.Stat(f.target)
	if got := readFile(t, f.target); !bytes.Equal(got, old) || !os.SameFile(before, after) {
		t.Errorf("target changed after a failed check: %q", got)
	}
	if f.reloader.calls() != 0 {
		t.Errorf("%d reloads after a failed check, want 0", f.reloader.calls())
	}
	if _, err := os.Stat(f.lastGood); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("last-known-good written although nothing was installed (%v)", err)
	}
	assertNoLeftovers(t, f.target)
}

// A checker that cannot run (binary missing) is an environment error, not
// invalid input; the target is untouched all the same.
func TestReconcileCheckCannotRun(t *testing.T) {
	f := newFixture(t)
	s, _ := states()
	writeFile(t, f.statePath, s.YAML())
	writeFile(t, f.target, []byte("# running\n"))
	f.checker.err = errors.New("exec: haproxy: not found")
	r := reconcile(t, f.agent(t))
	if r.Outcome != OutcomeError || f.reloader.calls() != 0 {
		t.Errorf("outcome %s with %d reloads; want error and none", r.Outcome, f.reloader.calls())
	}
	if got := readFile(t, f.target); string(got) != "# running\n" {
		t.Errorf("target changed: %q", got)
	}
}

func TestReconcileReloadFailureRestoresLastGood(t *testing.T) {
	f := newFixture(t)
	s, _ := states()
	writeFile(t, f.statePath, s.YAML())
	old := []byte("# running\n")
	writeFile(t, f.target, old)
	f.reloader.errs = []error{errors.New("bind 127.0.0.1:18080: address in use")}
	a := f.agent(t)
	want := rendered(t, s)

	r := reconcile(t, a)
	if r.Outcome != OutcomeReverted || !strings.Contains(errString(r.Err), "address in use") {
		t.Fatalf("outcome %s, %v; want reverted naming the reload error", r.Outcome, r.Err)
	}
	if f.reloader.calls() != 2 || !bytes.Equal(f.reloader.seen[0], want) || !bytes.Equal(f.reloader.seen[1], old) {
		t.Fatalf("reloads saw %q; want the new file, then the restored one", f.reloader.seen)
	}
	if got := readFile(t, f.target); !bytes.Equal(got, old) {
		t.Errorf("target holds %q, want the last-known-good file restored", got)
	}
	if ok, failed := r.reloads(); ok != 1 || failed != 1 {
		t.Errorf("reloads ok %d failed %d, want 1 and 1", ok, failed)
	}
	assertNoLeftovers(t, f.target)

	// The same bytes are not installed again (two more reloads for
	// nothing) until the state changes or an operator sends SIGHUP.
	if r := reconcile(t, a); r.Outcome != OutcomeInvalid || f.reloader.calls() != 2 || !strings.Contains(errString(r.Err), "not retried until the state changes or SIGHUP") {
		t.Errorf("unchanged state after a rollback: %s, %v, %d reloads; want invalid and still 2", r.Outcome, r.Err, f.reloader.calls())
	}
	if got := readFile(t, f.target); !bytes.Equal(got, old) {
		t.Errorf("target holds %q, want the last-known-good file kept", got)
	}
	a.forgetFailures() // what SIGHUP does
	if r := reconcile(t, a); r.Outcome != OutcomeApplied || f.reloader.calls() != 3 {
		t.Errorf("retry after SIGHUP: %s after %d reloads; want applied after 3", r.Outcome, f.reloader.calls())
	}
}

func TestReconcileRollbackFailureIsBroken(t *testing.T) {
	f := newFixture(t)
	s, _ := states()
	writeFile(t, f.statePath, s.YAML())
	writeFile(t, f.target, []byte("# running\n"))
	f.reloader.errs = []error{errors.New("first"), errors.New("second")}
	a := f.agent(t)

	r := reconcile(t, a)
	if r.Outcome != OutcomeBroken || !strings.Contains(errString(r.Err), "first") || !strings.Contains(errString(r.Err), "second") {
		t.Fatalf("outcome %s, %v; want broken with both errors", r.Outcome, r.Err)
	}
	// The service may run either file: a reload is owed, and the file that
	// never loaded must not become the last-known-good copy.
	if !a.targets[0].pending(readFile(t, f.target)) {
		t.Error("target not pending after a failed rollback")
	}
	if got := readFile(t, f.lastGood); string(got) != "# running\n" {
		t.Errorf("last-known-good %q, want the file that ran", got)
	}
}

func TestReconcileInvalidStateNamesPlace(t *testing.T) {
	f := newFixture(t)
	s, _ := states()
	yaml := strings.Replace(string(s.YAML()), "address: 127.0.0.3", "address: not_an_address!", 1)
	writeFile(t, f.statePath, []byte(yaml))
	writeFile(t, f.target, []byte("# running\n"))

	r := reconcile(t, f.agent(t))
	if r.Outcome != OutcomeInvalid {
		t.Fatalf("outcome %s, want invalid", r.Outcome)
	}
	place := regexp.MustCompile(regexp.QuoteMeta(f.statePath) + `:\d+:\d+: workers\[0\]\.address: `)
	if !place.MatchString(errString(r.Err)) {
		t.Errorf("error %q does not name file:line:col: field", r.Err)
	}
	if got := readFile(t, f.target); string(got) != "# running\n" || f.checker.calls()+f.reloader.calls() != 0 {
		t.Errorf("invalid state touched something: target %q, %d checks, %d reloads", got, f.checker.calls(), f.reloader.calls())
	}
}

func TestReconcileMissingState(t *testing.T) {
	f := newFixture(t)
	writeFile(t, f.target, []byte("# running\n"))
	r := reconcile(t, f.agent(t))
	if r.Outcome != OutcomeError || !errors.Is(r.Err, os.ErrNotExist) {
		t.Errorf("outcome %s, %v; want error wrapping ErrNotExist", r.Outcome, r.Err)
	}
}

// A previous run that installed a file but died before reloading left a
// status whose loaded hash is the old file's: the next run reloads even
// though the bytes on disk are right, once.
func TestReconcileOwedReloadAfterRestart(t *testing.T) {
	f := newFixture(t)
	s, _ := states()
	writeFile(t, f.statePath, s.YAML())
	old := []byte("# running\n")
	writeFile(t, f.target, old)
	first := f.agent(t)
	st := first.status.record(TriggerStart, reconcile(t, first), first.targets)
	if err := writeStatus(f.statusPath, st); err != nil {
		t.Fatal(err)
	}
	// As if the run had died between rename and reload: the new file is
	// in place, the status still records the old one as loaded.
	st.Targets[0].Loaded = hashOf(old)
	if err := writeStatus(f.statusPath, st); err != nil {
		t.Fatal(err)
	}
	reloads := f.reloader.calls()

	a := f.agent(t)
	if r := reconcile(t, a); r.Outcome != OutcomeApplied || f.reloader.calls() != reloads+1 || f.checker.calls() != 1 {
		t.Fatalf("after restart: %s, reloads %d (+%d), checks %d; want applied by one reload and no new check",
			r.Outcome, f.reloader.calls(), f.reloader.calls()-reloads, f.checker.calls())
	}
	if r := reconcile(t, a); r.Outcome != OutcomeUnchanged {
		t.Errorf("then %s, want unchanged", r.Outcome)
	}
}

// A reload that finds the service not running keeps the new file for the
// service's start (there is nothing to roll back to) and owes a reload.
func TestReconcileServiceNotRunning(t *testing.T) {
	f := newFixture(t)
	s, _ := states()
	writeFile(t, f.statePath, s.YAML())
	writeFile(t, f.target, []byte("# running\n"))
	f.reloader.errs = []error{fmt.Errorf("sending reload: %w", haproxy.ErrMasterUnavailable)}
	a := f.agent(t)
	want := rendered(t, s)

	r := reconcile(t, a)
	if r.Outcome != OutcomeOwed || r.Err != nil || f.reloader.calls() != 1 || !bytes.Equal(readFile(t, f.target), want) || !r.retry() {
		t.Fatalf("outcome %s (%v), %d reloads; want owed, no error, 1 reload, the new file kept, a retry", r.Outcome, r.Err, f.reloader.calls())
	}
	if r := reconcile(t, a); r.Outcome != OutcomeApplied || f.reloader.calls() != 2 || f.checker.calls() != 1 {
		t.Errorf("once it runs: %s, %d reloads, %d checks; want applied by the owed reload alone", r.Outcome, f.reloader.calls(), f.checker.calls())
	}
}
