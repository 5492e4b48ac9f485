package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hakgen/hakgen/haproxy"
	"github.com/hakgen/hakgen/internal/atomicfile"
	"github.com/hakgen/hakgen/state"
	"github.com/hakgen/hakgen/systemd"
)

// Outcome is how a reconcile (or one target of it) ended.
type Outcome string

// Outcomes, from best to worst: a reconcile reports its worst target's.
const (
	OutcomeUnchanged Outcome = "unchanged" // the file already held the rendered bytes, and runs
	OutcomeApplied   Outcome = "applied"   // new file installed and the service reloaded
	// OutcomeOwed: the new file is installed, but its service is not
	// running: it loads the file when it starts. Not a failure; the
	// reload is retried.
	OutcomeOwed Outcome = "owed"
	// OutcomeHeld: the target's new file was not installed because
	// another file of the same state failed; nothing touched.
	OutcomeHeld     Outcome = "held"
	OutcomeInvalid  Outcome = "invalid"  // the state or the rendered file was refused; nothing touched
	OutcomeError    Outcome = "error"    // a step failed before the rename, or the reload did not happen; retried
	OutcomeReverted Outcome = "reverted" // the reload failed; last-known-good restored and reloaded
	OutcomeBroken   Outcome = "broken"   // the reload and the rollback failed: needs an operator
)

var severity = map[Outcome]int{OutcomeUnchanged: 0, OutcomeApplied: 1, OutcomeOwed: 2, OutcomeHeld: 3, OutcomeInvalid: 4,
	OutcomeError: 5, OutcomeReverted: 6, OutcomeBroken: 7}

// Hook points of a reconcile, in order (see Agent.hook).
const (
	pointStaged   = "staged"    // the new file is staged, not checked
	pointChecked  = "checked"   // the staged file passed the check
	pointLastGood = "last-good" // the last-known-good copy is kept
	pointRenamed  = "renamed"   // the staged file replaced the target
)

// targetResult is what applying the state to one target did.
type targetResult struct {
	Outcome  Outcome
	Warnings string // the checker's warnings
	Reloads  int    // successful reloads (the rollback's included)
	Failed   int    // failed reloads
	Check    time.Duration
	Reload   time.Duration
	// Err is why the state is not (yet) in force for this target; set for
	// every outcome but unchanged, applied and owed.
	Err error
	// Note explains an owed reload, which is no failure.
	Note string
	// How the new file came to run (HowReload, HowRuntime, HowNone); ""
	// when nothing was installed or reloaded.
	How string
	// Change is what the Runtime changed (How is HowRuntime).
	Change string
	// ReloadReason is why the Runtime did not apply the file, so that it
	// was reloaded instead: the difference needs a reload, or the runtime
	// change failed (RuntimeFailed).
	ReloadReason string
	// Runtime is the time spent in the Runtime.
	Runtime time.Duration
	// RuntimeUpdates counts files the Runtime applied without a reload;
	// RuntimeFailed those it failed to apply, reloaded instead.
	RuntimeUpdates, RuntimeFailed int
}

// action is what a prepared step still has to do to its target.
type action int

const (
	actionNone    action = iota // nothing: unchanged, or failed
	actionReload                // the file is right; its service must load it
	actionInstall               // install the staged file, then reload
)

// step is one target's part of a reconcile: prepared (rendered, staged,
// checked) first for every target, then installed and reloaded.
type step struct {
	t      *target
	want   []byte // the rendered bytes
	cur    []byte // the target's bytes before the reconcile
	staged *atomicfile.Staged
	action action
	res    targetResult
	// running is cur when the service is known to run it; nil when not
	// known (then a change is reloaded, never applied at runtime).
	running []byte
	// installed is set once the new file replaced the target.
	installed bool
}

// discard removes the staged file unless it was installed.
func (st *step) discard() {
	if st.staged != nil {
		st.staged.Discard()
		st.staged = nil
	}
}

// prepare renders s for t and, when the bytes differ from the target's,
// stages and checks them. Nothing outside the staged file is touched; a
// failure is in the step's result.
func (a *Agent) prepare(ctx context.Context, t *target, s *state.State) *step {
	st := &step{t: t}
	want, err := t.Render(s)
	switch {
	case errors.Is(err, ErrNotManaged):
		st.res.Outcome = OutcomeUnchanged
		return st
	case errors.Is(err, ErrNotReady):
		return st.fail(OutcomeError, fmt.Errorf("rendering %s: %w", t.Path, err))
	case err != nil:
		return st.fail(OutcomeInvalid, fmt.Errorf("rendering %s: %w", t.Path, err))
	}
	st.want = want
	if t.failedHash != "" && hashOf(want) == t.failedHash {
		// These exact bytes passed the check but failed to load and were
		// rolled back: installing them again would only reload twice more.
		// A changed state, or SIGHUP, tries again.
		return st.fail(OutcomeInvalid, fmt.Errorf("not retried until the state changes or SIGHUP: %w", t.failedErr))
	}
	if st.cur, err = readTarget(t.Path); err != nil {
		return st.fail(OutcomeError, err)
	}
	if st.cur != nil && !t.pending(st.cur) {
		st.running = st.cur
	}
	if bytes.Equal(want, st.cur) {
		st.res.Outcome = OutcomeUnchanged
		if t.pending(st.cur) {
			st.action = actionReload // the file is right, but may not run yet
		} else {
			t.loadedState = s.Hash()
		}
		return st
	}
	a.stageAndCheck(ctx, st, t.Secret != nil && t.Secret(s))
	return st
}

func (st *step) fail(o Outcome, err error) *step {
	st.res.Outcome, st.res.Err = o, err
	return st
}

// stageAndCheck stages want beside the target, private when it holds a
// secret, and checks it.
func (a *Agent) stageAndCheck(ctx context.Context, st *step, secret bool) {
	t := st.t
	staged, err := atomicfile.Stage(t.Path, st.want, t.Perm)
	if err != nil {
		st.fail(OutcomeError, err)
		return
	}
	st.staged = staged
	if secret {
		if err := staged.Restrict(t.SecretGroup); err != nil {
			st.fail(OutcomeError, fmt.Errorf("making the new %s private: %w", t.Path, err))
			return
		}
	}
	a.at(pointStaged)
	if t.Checker != nil {
		start := time.Now()
		warnings, err := t.Checker.Check(ctx, staged.Path())
		st.res.Warnings = strings.ReplaceAll(warnings, staged.Path(), t.Path+" (as staged)")
		st.res.Check = time.Since(start)
		if err != nil {
			err = &stagedError{err: err, staged: staged.Path(), target: t.Path}
			st.fail(checkOutcome(ctx, err), fmt.Errorf("checking the new %s: %w", t.Path, err))
			return
		}
	}
	a.at(pointChecked)
	st.action = actionInstall
}

// install keeps the last-known-good copy and renames the staged file over
// the target. On any error the target is untouched and the step says why.
func (a *Agent) install(st *step) {
	if st.action != actionInstall {
		return
	}
	t := st.t
	if err := t.keepLastGood(st.cur); err != nil {
		st.action = actionNone
		st.fail(OutcomeError, err)
		return
	}
	a.at(pointLastGood)
	staged := st.staged
	st.staged = nil
	if err := staged.Commit(); err != nil && !holds(t.Path, st.want) {
		// Only a failed rename leaves the target untouched; a failed
		// directory sync after it leaves want in place, to be loaded.
		st.action = actionNone
		st.fail(OutcomeError, err)
		return
	}
	a.at(pointRenamed)
	st.action, st.installed = actionReload, true
}

// stagedError is a checker's error about a staged file, told as about the
// target: the staged file's random name would make every retry's message
// new (defeating log-once) and names a file that is gone by then.
type stagedError struct {
	err            error
	staged, target string
}

func (e *stagedError) Error() string {
	return strings.ReplaceAll(e.err.Error(), e.staged, e.target+" (as staged)")
}

func (e *stagedError) Unwrap() error { return e.err }

// holds reports whether the file at path holds exactly data.
func holds(path string, data []byte) bool {
	cur, err := readTarget(path)
	return err == nil && bytes.Equal(cur, data)
}

// checkOutcome tells a refused file (invalid input) from a check that could
// not run (an environment problem).
func checkOutcome(ctx context.Context, err error) Outcome {
	var refusal interface{ Refused() bool }
	if ctx.Err() == nil && (errors.Is(err, ErrRefused) || (errors.As(err, &refusal) && refusal.Refused())) {
		return OutcomeInvalid
	}
	return OutcomeError
}

// ErrNotRunning may be wrapped by a Reloader's error to say the service is
// not running at all, so there is no running configuration to go back to.
// haproxy.ErrMasterUnavailable and systemd.ErrNotRunning (a unit the
// reloader must not start) are taken as such without it.
var ErrNotRunning = errors.New("service not running")

func notRunning(err error) bool {
	return errors.Is(err, ErrNotRunning) || errors.Is(err, haproxy.ErrMasterUnavailable) || errors.Is(err, systemd.ErrNotRunning)
}

// ErrNotReady may be wrapped by a Target's Render error to say the machine
// is not ready to render it yet (e.g. this node's private address is not up
// at boot): an environment problem, retried soon, not a refused state.
var ErrNotReady = errors.New("not ready")

// ErrNotManaged is returned by a Target's Render when the state does not
// ask for that file at all (e.g. no keepalived section): the target is left
// alone, whatever its file holds.
var ErrNotManaged = errors.New("not managed by this state")

// ErrRefused may be wrapped by a Checker's error to say the file is invalid
// (rather than that the check could not run). An error with a Refused()
// bool method that returns true (*haproxy.CheckError, *keepalived.CheckError)
// is taken as a refusal without it.
var ErrRefused = errors.New("configuration refused")

// reload reloads the service after want (rendered from the state
// stateHash) was installed; when that fails it restores the last-known-good
// copy and reloads again (see rollback).
func (a *Agent) reload(ctx context.Context, t *target, want []byte, in targetResult, stateHash string) (res targetResult) {
	res = in
	start := time.Now()
	defer func() { res.Reload = time.Since(start) }()
	err := t.Reloader.Reload(ctx)
	if err == nil {
		t.loaded, t.loadedState = hashOf(want), stateHash
		res.Reloads++
		res.Outcome = OutcomeApplied
		return res
	}
	res.Failed++
	if notRunning(err) {
		// Nothing runs the old file: keep the new one (it passed the
		// check) for the service's next start, and owe a reload.
		t.loaded, t.loadedState = loadedUnknown, ""
		res.Outcome = OutcomeOwed
		res.Note = fmt.Sprintf("%s is not running; it loads the new %s when it starts (%v)", t.Name, t.Path, err)
		return res
	}
	if notTried(err) {
		// The service never tried the new file (the request was never
		// sent, its unit was starting or stopping, or another job replaced
		// ours): nothing to roll back, nothing to mark failed.
		t.loaded, t.loadedState = loadedUnknown, ""
		res.Outcome = OutcomeError
		res.Err = fmt.Errorf("%s did not reload; the new %s stays in place and the reload is retried: %w", t.Name, t.Path, err)
		return res
	}
	res = t.rollback(ctx, res, fmt.Errorf("reloading %s for the new %s: %w", t.Name, t.Path, err))
	if res.Outcome == OutcomeReverted {
		t.failedHash, t.failedErr = hashOf(want), res.Err
	}
	return res
}

// ErrNotTried may be wrapped by a Reloader's error to say the service was
// never asked to reload (a step before the request failed): it still runs
// what it ran, so the new file stays, nothing is rolled back, and the
// reload is retried soon. haproxy.ErrReloadNotSent, systemd.ErrBusy and a
// systemd job cancelled for another are taken as such without it.
var ErrNotTried = errors.New("reload not tried")

// notTried tells a reload the service never tried from one it tried and
// failed: the request was never sent (ErrNotTried,
// haproxy.ErrReloadNotSent), systemd did not run it at all (the unit was
// activating or deactivating) or cancelled it for another job, e.g. an
// operator's restart.
func notTried(err error) bool {
	var job *systemd.JobError
	return errors.Is(err, ErrNotTried) || errors.Is(err, haproxy.ErrReloadNotSent) || errors.Is(err, systemd.ErrNotSent) ||
		errors.Is(err, systemd.ErrBusy) || (errors.As(err, &job) && job.Result == "canceled")
}

// rollback puts the last-known-good file back and reloads it, after the
// reload of a new file failed with reloadErr.
func (t *target) rollback(ctx context.Context, res targetResult, reloadErr error) targetResult {
	restored, err := t.restoreLastGood()
	if err == nil {
		err = t.Reloader.Reload(ctx)
		if err == nil {
			t.loaded, t.loadedState = hashOf(restored), t.lastGoodState
			res.Reloads++
			res.Outcome, res.Err = OutcomeReverted, fmt.Errorf("%w; restored the last-known-good %s and reloaded it", reloadErr, t.Path)
			return res
		}
		res.Failed++
		err = fmt.Errorf("reloading the restored last-known-good %s: %w", t.Path, err)
	}
	// What the service runs is unknown now: a reload is owed, and no file
	// becomes the last-known-good copy until one succeeds.
	t.loaded, t.loadedState = loadedUnknown, ""
	res.Outcome, res.Err = OutcomeBroken, errors.Join(reloadErr, err)
	return res
}

func (a *Agent) at(point string) {
	if a.hook != nil {
		a.hook(point)
	}
}
