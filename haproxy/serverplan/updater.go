package serverplan

import (
	"context"
	"errors"
	"fmt"

	"go.uber.org/zap"

	"github.com/hakgen/hakgen/haproxy"
	"github.com/hakgen/hakgen/internal/atomicfile"
)

// Updater applies a new haproxy.cfg to a running HAProxy without a reload
// when only servers of backends differ: the agent's Runtime for
// haproxy.cfg (agent.Runtime).
type Updater struct {
	// Master is the master CLI of the running HAProxy; commands go to its
	// current worker (haproxy.CurrentWorker).
	Master   *haproxy.Master
	Executor Executor
	// StateFile, when set, is the server-state file: it is saved after
	// every runtime change (rewritten for the new file, see
	// CarryServerState), so that a reload the agent does not make
	// (`systemctl reload haproxy`) starts from the servers as they run.
	StateFile string
	// Log gets a warning when StateFile cannot be saved; none when nil.
	Log *zap.Logger
}

// ReloadNeededError says that a new haproxy.cfg cannot be applied at
// runtime: the difference needs a reload (Reason says which), or there is
// no running HAProxy to change.
type ReloadNeededError struct{ Reason string }

func (e *ReloadNeededError) Error() string { return "the change needs a reload: " + e.Reason }

// NeedsReload tells the agent this is a planned reload, not a failure.
func (e *ReloadNeededError) NeedsReload() bool { return true }

// Apply applies next to the HAProxy that runs running, once next is
// installed: nothing when the files differ only in comments, spacing or
// server order (Decide's Same, summary ""); the plan through the current
// worker when only servers differ (summary: Plan.String()). It returns a
// *ReloadNeededError when the difference needs a reload or no HAProxy
// runs, and the error of Executor.Apply when the runtime change fails:
// the caller then reloads.
func (u Updater) Apply(ctx context.Context, running, next []byte) (string, error) {
	d := Decide(running, next)
	switch d.Kind {
	case Same:
		return "", nil
	case Reload:
		return "", &ReloadNeededError{Reason: d.Reason}
	}
	w, err := haproxy.CurrentWorker(ctx, u.Master)
	if errors.Is(err, haproxy.ErrMasterUnavailable) {
		return "", &ReloadNeededError{Reason: "no running haproxy to change: " + err.Error()}
	}
	if err != nil {
		return "", fmt.Errorf("changing servers at runtime: %w", err)
	}
	if err := u.Executor.Apply(ctx, w, d.Plan); err != nil {
		return "", err
	}
	if u.StateFile != "" {
		if _, err := saveServerState(ctx, u.Master, u.StateFile, next); err != nil && u.Log != nil {
			u.Log.Warn("servers changed, but the server-state file was not saved: a reload that does not save it first starts from the last one",
				zap.String("file", u.StateFile), zap.Error(err))
		}
	}
	return d.Plan.String(), nil
}

// saveServerState is SaveServerState for the configuration's bytes.
func saveServerState(ctx context.Context, m *haproxy.Master, path string, cfg []byte) ([]string, error) {
	saved, err := m.Worker(ctx, "show servers state")
	if err != nil {
		return nil, fmt.Errorf("reading the servers' state: %w", err)
	}
	out, notes, err := CarryServerState([]byte(saved), cfg)
	if err != nil {
		return nil, err
	}
	if _, err := atomicfile.Write(path, out, 0o600); err != nil {
		return nil, fmt.Errorf("saving the servers' state: %w", err)
	}
	return notes, nil
}
