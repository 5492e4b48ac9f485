package failover

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hakgen/hakgen/hetzner"
)

// Target is one address a MASTER run points to this server: a Floating
// IP, or the private VIP's route.
type Target struct {
	// Key names the target in file names (its assign lock): short and
	// plain, e.g. floating-ip-4711 or private-vip.
	Key string
	// Name names it in logs and errors, e.g. "floating IP 4711".
	Name string
	// Moved is the log message of a move that succeeded, e.g. "floating
	// IP assigned to this server".
	Moved string
	// Move points the target to the server serverID and confirms it.
	Move func(ctx context.Context, serverID int64) (hetzner.Result, error)
}

// FloatingIPTarget is the Target that assigns Floating IP id through a.
func FloatingIPTarget(id int64, a Assigner) Target {
	return Target{
		Key: FloatingIPKey(id), Name: "floating IP " + strconv.FormatInt(id, 10), Moved: "floating IP assigned to this server",
		Move: func(ctx context.Context, serverID int64) (hetzner.Result, error) {
			if a == nil {
				return hetzner.Result{}, errors.New("no Hetzner API client configured")
			}
			return a.Assign(ctx, id, serverID)
		},
	}
}

// FloatingIPKey is the Target key of Floating IP id.
func FloatingIPKey(id int64) string { return "floating-ip-" + strconv.FormatInt(id, 10) }

// PrivateVIPKey is the Target key of the private VIP.
const PrivateVIPKey = "private-vip"

// assignLock is the lock file held while a target is moved, by a notify
// run or the healer.
func assignLock(key string) string { return "assign-" + key + ".lock" }

// TargetError is how one target of a run failed.
type TargetError struct {
	Index int    // its place among the run's targets, from 0
	Name  string // Target.Name
	Err   error
}

func (e TargetError) Error() string { return e.Name + ": " + e.Err.Error() }

// Unwrap returns the target's error.
func (e TargetError) Unwrap() error { return e.Err }

// MovesError is a MASTER run of several targets in which some did not
// move: Failed says which and why; the others point here.
type MovesError struct {
	Failed []TargetError
	Moved  []string // the names of the targets that moved
}

func (e *MovesError) Error() string {
	parts := make([]string, len(e.Failed))
	for i, f := range e.Failed {
		parts[i] = f.Error()
	}
	total := len(e.Failed) + len(e.Moved)
	s := fmt.Sprintf("%d of %d addresses not moved here: %s", len(e.Failed), total, strings.Join(parts, "; "))
	if len(e.Moved) > 0 {
		s += " (moved: " + strings.Join(e.Moved, ", ") + ")"
	}
	return s
}

// Unwrap returns each failed target's error, for errors.Is and As.
func (e *MovesError) Unwrap() []error {
	out := make([]error, len(e.Failed))
	for i, f := range e.Failed {
		out[i] = f
	}
	return out
}

// Mask has bit i set for each failed target of index i, for the first
// five; bit 5 stands for the sixth and any later one (only a run of
// several instances at once has more than state.MaxInstanceAddresses), so
// that ExitMoves plus the mask stays below 128.
func (e *MovesError) Mask() int {
	m := 0
	for _, f := range e.Failed {
		m |= 1 << min(f.Index, 5)
	}
	return m
}

// moveResult is what one target's move did.
type moveResult struct {
	res hetzner.Result
	err error
	end time.Time
}

// moveAll moves every target at once, each with its own retries within
// ctx, and waits for all: one that fails or takes long holds none of the
// others back.
func moveAll(ctx context.Context, targets []Target, serverID int64) []moveResult {
	out := make([]moveResult, len(targets))
	var wg sync.WaitGroup
	for i, t := range targets {
		wg.Go(func() {
			res, err := t.Move(ctx, serverID)
			out[i] = moveResult{res: res, err: err, end: time.Now()}
		})
	}
	wg.Wait()
	return out
}

// combine sums the results of a run's moves into one Result and one
// error: a single target's error as it is, a *MovesError for several.
func combine(targets []Target, results []moveResult) (hetzner.Result, error) {
	var sum hetzner.Result
	var failed []TargetError
	var moved []string
	for i, r := range results {
		sum.Requests += r.res.Requests
		sum.Retries += r.res.Retries
		sum.RateLimited += r.res.RateLimited
		sum.Total = max(sum.Total, r.res.Total)
		if r.res.RateLimit.Known() && (!sum.RateLimit.Known() || r.res.RateLimit.Remaining < sum.RateLimit.Remaining) {
			sum.RateLimit = r.res.RateLimit
		}
		if r.err != nil {
			failed = append(failed, TargetError{Index: i, Name: targets[i].Name, Err: r.err})
		} else {
			moved = append(moved, targets[i].Name)
		}
	}
	if len(targets) == 1 {
		sum = results[0].res
		return sum, results[0].err
	}
	if len(failed) == 0 {
		return sum, nil
	}
	return sum, &MovesError{Failed: failed, Moved: moved}
}

// lockTargets takes the assign lock of every target, in the order of
// their keys (so two runs never wait for each other's), waiting until ctx
// ends. unlock releases them all.
func (s *Store) lockTargets(ctx context.Context, targets []Target) (unlock func(), err error) {
	keys := make([]string, len(targets))
	for i, t := range targets {
		keys[i] = t.Key
	}
	slices.SortFunc(keys, cmp.Compare)
	keys = slices.Compact(keys)
	var held []*fileLock
	unlock = func() {
		for _, l := range held {
			_ = l.Unlock()
		}
	}
	for _, k := range keys {
		l, err := lockFile(ctx, s.path(assignLock(k)))
		if err != nil {
			unlock()
			return nil, err
		}
		held = append(held, l)
	}
	return unlock, nil
}
