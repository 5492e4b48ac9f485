package agent

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/hakgen/hakgen/state"
)

// result is what one reconcile did.
type result struct {
	Start    time.Time
	Took     time.Duration
	Outcome  Outcome
	Hash     string   // the state's hash; "" when it did not load
	Warnings []string // the state's and the checkers' warnings
	Targets  []targetResult
	Err      error // nil for unchanged, applied and owed
}

// reconcileOnce brings every target in line with the state file, once. It
// is the step Run schedules and tests call directly; it logs nothing and
// must not run concurrently with itself.
//
// One state is applied whole or not at all: every target is rendered,
// staged and checked first, and only when all of them pass are the new
// files installed and their services reloaded. A state that cannot be
// read or is invalid, or any file refused by its checker (or whose check
// could not run), leaves every target untouched; the targets it held back
// report so. A reload that fails rolls back its own target (see reload).
// The result's outcome is the worst of the targets' and its error joins
// theirs.
func (a *Agent) reconcileOnce(ctx context.Context) result {
	res := result{Start: time.Now()}
	ctx, cancel := context.WithTimeout(ctx, a.cfg.StepTimeout)
	defer cancel()
	s, warnings, err := a.load(ctx)
	for _, w := range warnings {
		res.Warnings = append(res.Warnings, w.Error())
	}
	if err != nil {
		res.Outcome, res.Err = loadOutcome(err), err
		res.Took = time.Since(res.Start)
		return res
	}
	if s, err = a.complete(s); err != nil {
		res.Outcome, res.Err = OutcomeError, err
		res.Took = time.Since(res.Start)
		return res
	}
	res.Hash = s.Hash()
	steps := make([]*step, len(a.targets))
	for i, t := range a.targets {
		steps[i] = a.prepare(ctx, t, s)
		defer steps[i].discard()
	}
	if blocker := firstFailed(steps); blocker != nil {
		for _, st := range steps {
			st.holdFor(blocker)
		}
	} else {
		for _, st := range steps {
			a.install(st)
		}
		for _, st := range steps {
			if st.action == actionReload {
				st.res = a.apply(ctx, st, res.Hash)
			}
		}
	}
	res.Outcome = OutcomeUnchanged
	var errs []error
	for _, st := range steps {
		tr := st.res
		res.Targets = append(res.Targets, tr)
		if severity[tr.Outcome] > severity[res.Outcome] {
			res.Outcome = tr.Outcome
		}
		if tr.Warnings != "" {
			res.Warnings = append(res.Warnings, st.t.Name+": "+tr.Warnings)
		}
		errs = append(errs, tr.Err)
	}
	res.Err = errors.Join(errs...)
	res.Took = time.Since(res.Start)
	return res
}

// stateReadTimeout bounds reading the state file and its secrets: a file
// on a hung mount must not hold the reconcile for its whole StepTimeout.
const stateReadTimeout = 10 * time.Second

func (a *Agent) load(ctx context.Context) (*state.State, state.Problems, error) {
	ctx, cancel := context.WithTimeout(ctx, stateReadTimeout)
	defer cancel()
	return state.LoadContext(ctx, a.cfg.StatePath)
}

// complete is s with what the Source adds, s itself without a Source.
func (a *Agent) complete(s *state.State) (*state.State, error) {
	if a.cfg.Source == nil {
		return s, nil
	}
	out, err := a.cfg.Source.Complete(s)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.File(), err)
	}
	return out, nil
}

// firstFailed returns the first step whose file cannot be installed, nil
// when every one can.
func firstFailed(steps []*step) *step {
	for _, st := range steps {
		if st.res.Err != nil {
			return st
		}
	}
	return nil
}

// holdFor records that st, which would have changed its target, was not
// applied because blocker's file failed.
func (st *step) holdFor(blocker *step) {
	if st == blocker || st.action == actionNone {
		return
	}
	st.action = actionNone
	st.res.Outcome = OutcomeHeld
	st.res.Err = fmt.Errorf("%s not installed: the new %s of this state failed (%s), and a state is applied whole or not at all", st.t.Path, blocker.t.Path, blocker.res.Outcome)
}

// loadOutcome tells a state file that is wrong (invalid) from one that
// cannot be read (an environment problem, e.g. missing).
func loadOutcome(err error) Outcome {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) {
		return OutcomeError
	}
	return OutcomeInvalid
}

// reloads counts the successful and failed reloads of a result.
func (r result) reloads() (ok, failed int) {
	for _, t := range r.Targets {
		ok += t.Reloads
		failed += t.Failed
	}
	return ok, failed
}

// retry reports whether the result is worth trying again soon without any
// change: a step that could not finish for a passing reason (a reload
// owed, a unit busy, a file that cannot be written) rather than a state or
// file that is wrong.
func (r result) retry() bool {
	if r.Outcome == OutcomeError || r.Outcome == OutcomeBroken {
		return true
	}
	for _, t := range r.Targets {
		if t.Outcome == OutcomeOwed || t.Outcome == OutcomeError || t.Outcome == OutcomeBroken {
			return true
		}
	}
	return false
}
