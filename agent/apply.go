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
	OutcomeUnchanged Outcome = "unchanged" // the file already held the rendered bytes
	OutcomeApplied   Outcome = "applied"   // new file installed and the service reloaded
	OutcomeInvalid   Outcome = "invalid"   // the state or the rendered file was refused; nothing touched
	OutcomeError     Outcome = "error"     // a step failed before the rename; nothing touched
	OutcomeReverted  Outcome = "reverted"  // the reload failed; last-known-good restored and reloaded
	OutcomeBroken    Outcome = "broken"    // the reload and the rollback failed: needs an operator
)

var severity = map[Outcome]int{OutcomeUnchanged: 0, OutcomeApplied: 1, OutcomeInvalid: 2, OutcomeError: 3, OutcomeReverted: 4, OutcomeBroken: 5}

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
	Err      error
}

// apply brings one target in line with s. It returns the outcome; Err is
// set for every outcome but unchanged and applied.
func (a *Agent) apply(ctx context.Context, t *target, s *state.State) targetResult {
	want, err := t.Render(s)
	if errors.Is(err, ErrNotManaged) {
		return targetResult{Outcome: OutcomeUnchanged}
	}
	if errors.Is(err, ErrNotReady) {
		return targetResult{Outcome: OutcomeError, Err: fmt.Errorf("rendering %s: %w", t.Path, err)}
	}
	if err != nil {
		return targetResult{Outcome: OutcomeInvalid, Err: fmt.Errorf("rendering %s: %w", t.Path, err)}
	}
	if t.failedHash != "" && hashOf(want) == t.failedHash {
		// These exact bytes passed the check but failed to load and were
		// rolled back: installing them again would only reload twice more.
		// A changed state, or SIGHUP, tries again.
		return targetResult{Outcome: OutcomeInvalid, Err: fmt.Errorf("not retried until the state changes or SIGHUP: %w", t.failedErr)}
	}
	cur, err := readTarget(t.Path)
	if err != nil {
		return targetResult{Outcome: OutcomeError, Err: err}
	}
	if bytes.Equal(want, cur) {
		if !t.pending(cur) {
			return targetResult{Outcome: OutcomeUnchanged}
		}
		// The file is right but the service may not run it yet.
		return a.reload(ctx, t, want, targetResult{})
	}
	res, err := a.install(ctx, t, want, cur)
	if err != nil {
		return res
	}
	return a.reload(ctx, t, want, res)
}

// install stages want, checks it, keeps the last-known-good copy and
// renames want over the target. On any error the target is untouched and
// res says why.
func (a *Agent) install(ctx context.Context, t *target, want, cur []byte) (targetResult, error) {
	var res targetResult
	st, err := atomicfile.Stage(t.Path, want, t.Perm)
	if err != nil {
		return fail(res, OutcomeError, err)
	}
	committed := false
	defer func() {
		if !committed {
			st.Discard()
		}
	}()
	a.at(pointStaged)
	if t.Checker != nil {
		start := time.Now()
		res.Warnings, err = t.Checker.Check(ctx, st.Path())
		res.Warnings = strings.ReplaceAll(res.Warnings, st.Path(), t.Path+" (as staged)")
		res.Check = time.Since(start)
		if err != nil {
			err = &stagedError{err: err, staged: st.Path(), target: t.Path}
			return fail(res, checkOutcome(ctx, err), fmt.Errorf("checking the new %s: %w", t.Path, err))
		}
	}
	a.at(pointChecked)
	if err := t.keepLastGood(cur); err != nil {
		return fail(res, OutcomeError, err)
	}
	a.at(pointLastGood)
	committed = true
	if err := st.Commit(); err != nil && !holds(t.Path, want) {
		// Only a failed rename leaves the target untouched; a failed
		// directory sync after it leaves want in place, to be loaded.
		return fail(res, OutcomeError, err)
	}
	a.at(pointRenamed)
	return res, nil
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

// reload reloads the service after want was installed; when that fails it
// restores the last-known-good copy and reloads again (see rollback).
func (a *Agent) reload(ctx context.Context, t *target, want []byte, in targetResult) (res targetResult) {
	res = in
	start := time.Now()
	defer func() { res.Reload = time.Since(start) }()
	err := t.Reloader.Reload(ctx)
	if err == nil {
		t.loaded = hashOf(want)
		res.Reloads++
		res.Outcome = OutcomeApplied
		return res
	}
	res.Failed++
	if notRunning(err) {
		// Nothing runs the old file: keep the new one (it passed the
		// check) for the service's next start, and owe a reload.
		t.loaded = loadedUnknown
		res.Outcome = OutcomeError
		res.Err = fmt.Errorf("%s is not running; the new %s stays in place for its start: %w", t.Name, t.Path, err)
		return res
	}
	if notTried(err) {
		// The service never tried the new file (the request was never
		// sent, its unit was starting or stopping, or another job replaced
		// ours): nothing to roll back, nothing to mark failed.
		t.loaded = loadedUnknown
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
	return errors.Is(err, ErrNotTried) || errors.Is(err, haproxy.ErrReloadNotSent) ||
		errors.Is(err, systemd.ErrBusy) || (errors.As(err, &job) && job.Result == "canceled")
}

// rollback puts the last-known-good file back and reloads it, after the
// reload of a new file failed with reloadErr.
func (t *target) rollback(ctx context.Context, res targetResult, reloadErr error) targetResult {
	restored, err := t.restoreLastGood()
	if err == nil {
		err = t.Reloader.Reload(ctx)
		if err == nil {
			t.loaded = hashOf(restored)
			res.Reloads++
			res.Outcome, res.Err = OutcomeReverted, fmt.Errorf("%w; restored the last-known-good %s and reloaded it", reloadErr, t.Path)
			return res
		}
		res.Failed++
		err = fmt.Errorf("reloading the restored last-known-good %s: %w", t.Path, err)
	}
	// What the service runs is unknown now: a reload is owed, and no file
	// becomes the last-known-good copy until one succeeds.
	t.loaded = loadedUnknown
	res.Outcome, res.Err = OutcomeBroken, errors.Join(reloadErr, err)
	return res
}

// fail sets the outcome and error of res and returns both.
func fail(res targetResult, o Outcome, err error) (targetResult, error) {
	res.Outcome, res.Err = o, err
	return res, err
}

func (a *Agent) at(point string) {
	if a.hook != nil {
		a.hook(point)
	}
}
