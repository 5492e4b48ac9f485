package agent

import (
	"context"
	"errors"
	"time"
)

// Runtime brings a running service to a newly installed file without
// reloading it, where the difference between the files allows: for
// haproxy.cfg, serverplan.Updater changes the servers of backends through
// HAProxy's Runtime API.
type Runtime interface {
	// Apply is called once next is installed in place of running, the
	// bytes the service is known to run. nil means the service runs next
	// now, without a reload; summary says what changed ("" when nothing
	// the service runs differs, e.g. only comments).
	//
	// An error means the service must be reloaded to run next. One with a
	// NeedsReload() bool method that returns true says the difference
	// cannot be made at runtime (a planned reload, with its reason); any
	// other, that the change failed on the way (part of it may be applied:
	// the reload loads next, installed before Apply, whatever happened).
	Apply(ctx context.Context, running, next []byte) (summary string, err error)
}

// How a target's new file came to run (targetResult.How, TargetStatus.How).
const (
	HowReload  = "reload"  // the service was reloaded
	HowRuntime = "runtime" // changed in the running service, without a reload
	HowNone    = "none"    // nothing the service runs differs (comments, spacing, order): no reload
)

// needsReload reports whether a Runtime's error is a planned reload rather
// than a failure.
func needsReload(err error) bool {
	var planned interface{ NeedsReload() bool }
	return errors.As(err, &planned) && planned.NeedsReload()
}

// apply makes the target's service run the file installed by this
// reconcile: through its Runtime when it has one and the file that ran
// before is known, else, or when the Runtime says so or fails, by a reload
// (see reload). A file that was right already but not known to run
// (pending) is always reloaded: what runs is not known.
func (a *Agent) apply(ctx context.Context, st *step, stateHash string) targetResult {
	t := st.t
	if t.Runtime == nil || !st.installed || st.running == nil {
		res := a.reload(ctx, t, st.want, st.res, stateHash)
		res.How = HowReload
		return res
	}
	start := time.Now()
	summary, err := t.Runtime.Apply(ctx, st.running, st.want)
	res := st.res
	res.Runtime = time.Since(start)
	if err == nil {
		t.loaded, t.loadedState = hashOf(st.want), stateHash
		res.Outcome, res.How, res.Change = OutcomeApplied, HowRuntime, summary
		if summary == "" {
			res.How = HowNone
		} else {
			res.RuntimeUpdates++
		}
		return res
	}
	res.ReloadReason = err.Error()
	if !needsReload(err) {
		res.RuntimeFailed++
	}
	res = a.reload(ctx, t, st.want, res, stateHash)
	res.How = HowReload
	return res
}
