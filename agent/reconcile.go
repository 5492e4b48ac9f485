package agent

import (
	"context"
	"errors"
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
	Err      error // nil for unchanged and applied
}

// reconcileOnce brings every target in line with the state file, once. It
// is the step Run schedules and tests call directly; it logs nothing and
// must not run concurrently with itself.
//
// A state that cannot be read or is invalid leaves every target untouched.
// Otherwise each target is applied in turn (see apply); the result's
// outcome is the worst of theirs and its error joins theirs.
func (a *Agent) reconcileOnce(ctx context.Context) result {
	res := result{Start: time.Now()}
	ctx, cancel := context.WithTimeout(ctx, a.cfg.StepTimeout)
	defer cancel()
	s, warnings, err := state.Load(a.cfg.StatePath)
	for _, w := range warnings {
		res.Warnings = append(res.Warnings, w.Error())
	}
	if err != nil {
		res.Outcome, res.Err = loadOutcome(err), err
		res.Took = time.Since(res.Start)
		return res
	}
	res.Hash = s.Hash()
	res.Outcome = OutcomeUnchanged
	var errs []error
	for _, t := range a.targets {
		tr := a.apply(ctx, t, s)
		res.Targets = append(res.Targets, tr)
		if severity[tr.Outcome] > severity[res.Outcome] {
			res.Outcome = tr.Outcome
		}
		if tr.Warnings != "" {
			res.Warnings = append(res.Warnings, t.Name+": "+tr.Warnings)
		}
		errs = append(errs, tr.Err)
	}
	res.Err = errors.Join(errs...)
	res.Took = time.Since(res.Start)
	return res
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
