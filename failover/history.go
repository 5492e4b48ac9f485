package failover

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/hakgen/hakgen/internal/atomicfile"
)

// Files of the failover history, beside the recorded state.
const (
	HistoryFile     = "failovers.json" // what the MASTER runs did, in sum
	historyLockFile = "failovers.lock"
	HealFile        = "heal.json" // the healers' last checks
	healLockFile    = "heal.lock"
)

// FailoverBuckets are the upper bounds, in seconds, of the histogram of
// how long MASTER runs took until the Floating IP pointed here (or they
// failed).
var FailoverBuckets = []float64{0.1, 0.25, 0.5, 1, 2, 5, 10, 30}

// History sums up the MASTER runs since boot (the state directory is a
// tmpfs): each run adds itself; the daemon exports it as metrics and status
// shows its last run.
type History struct {
	// Results counts runs by result: ok, superseded, failed, deadline,
	// not-assigned, action-error, auth, partial.
	Results map[string]int `json:"results"`
	// Buckets[i] counts runs that took at most FailoverBuckets[i]; Sum and
	// Count are over all runs (a Prometheus histogram).
	Buckets    []int   `json:"buckets"`
	SumSeconds float64 `json:"sumSeconds"`
	Count      int     `json:"count"`
	// Requests is the API requests of all runs together.
	Requests int          `json:"requests"`
	Last     *FailoverRun `json:"last,omitempty"`
}

// FailoverRun is one MASTER run.
type FailoverRun struct {
	At        time.Time `json:"at"`
	Result    string    `json:"result"`
	Seconds   float64   `json:"seconds"`
	Requests  int       `json:"requests"`
	Error     string    `json:"error,omitempty"`
	RateLimit int       `json:"rateLimitRemaining,omitempty"`
	// Instance is the VRRP instance the run was for; empty for the
	// short form (every instance).
	Instance string `json:"instance,omitempty"`
}

// ResultName is the History result of a MASTER run that ended with err:
// partial when some of its addresses moved and others did not.
func ResultName(err error) string {
	var moves *MovesError
	if errors.As(err, &moves) && len(moves.Moved) > 0 {
		return "partial"
	}
	if moves != nil {
		err = moves.Failed[0].Err
	}
	switch ExitCode(err) {
	case ExitOK:
		return "ok"
	case ExitSuperseded:
		return "superseded"
	case ExitDeadline:
		return "deadline"
	case ExitNotAssigned:
		return "not-assigned"
	case ExitActionError:
		return "action-error"
	case ExitAuth:
		return "auth"
	}
	return "failed"
}

// AddRun adds run to the history in the store's directory, under a lock of
// its own (never the assign lock). ctx bounds waiting for the lock.
func (s *Store) AddRun(ctx context.Context, run FailoverRun) error {
	lock, err := lockFile(ctx, s.path(historyLockFile))
	if err != nil {
		return err
	}
	defer lock.Unlock()
	h, err := s.History()
	if err != nil {
		h = History{} // a damaged history starts again rather than block failovers
	}
	h.add(run)
	data, err := json.Marshal(h)
	if err != nil {
		return fmt.Errorf("encoding the failover history: %w", err)
	}
	if _, err := atomicfile.Write(s.path(HistoryFile), append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("writing the failover history: %w", err)
	}
	return nil
}

func (h *History) add(run FailoverRun) {
	if h.Results == nil {
		h.Results = map[string]int{}
	}
	if len(h.Buckets) != len(FailoverBuckets) {
		h.Buckets = make([]int, len(FailoverBuckets))
	}
	h.Results[run.Result]++
	for i, le := range FailoverBuckets {
		if run.Seconds <= le {
			h.Buckets[i]++
		}
	}
	h.SumSeconds += run.Seconds
	h.Count++
	h.Requests += run.Requests
	h.Last = &run
}

// History reads the failover history; the zero History when there is none.
func (s *Store) History() (History, error) {
	var h History
	return h, readJSON(s.path(HistoryFile), &h)
}

// HealCheck is a healer's last check, written after each one.
type HealCheck struct {
	At        time.Time `json:"at"`
	Outcome   Outcome   `json:"outcome"`
	Owner     int64     `json:"owner,omitempty"` // the server the address pointed to; 0 when not asked or not known
	Me        int64     `json:"me,omitempty"`
	Error     string    `json:"error,omitempty"`
	Requests  int       `json:"requests"`
	RateLimit int       `json:"rateLimitRemaining,omitempty"`
	// Counts are the checks since the daemon started, by outcome, and
	// TotalRequests their API requests.
	Counts        map[Outcome]int `json:"counts"`
	TotalRequests int             `json:"totalRequests"`
	// Target is the healed address's key (floating-ip-4711,
	// private-vip), and Holder where it pointed when that is not a
	// server ID (the private VIP's gateway).
	Target string `json:"target,omitempty"`
	Holder string `json:"holder,omitempty"`
	// Here tells whether the address pointed to this node at the check;
	// unset when the check did not look.
	Here *bool `json:"here,omitempty"`
	// VRRPInstance is the VRRP instance the address belongs to.
	VRRPInstance string `json:"vrrpInstance,omitempty"`
}

// healFile is HealFile's content: the latest check of any target, with
// the counts of all of them together (what the file held while there was
// one target), and the latest check of each target by key.
type healFile struct {
	HealCheck
	Targets map[string]HealCheck `json:"targets,omitempty"`
}

// WriteHeal records a healer's last check, beside the other targets'.
// Healers of several targets may write at once: a lock serializes them.
func (s *Store) WriteHeal(c HealCheck) error {
	if err := os.MkdirAll(s.dir, 0o755); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	lock, err := lockFile(ctx, s.path(healLockFile))
	if err != nil {
		return err
	}
	defer lock.Unlock()
	var f healFile
	if err := readJSON(s.path(HealFile), &f); err != nil || f.Targets == nil {
		f = healFile{Targets: map[string]HealCheck{}} // a damaged file starts again
	}
	f.Targets[c.Target] = c
	f.HealCheck = c
	f.Counts, f.TotalRequests = map[Outcome]int{}, 0
	for _, t := range f.Targets {
		for o, n := range t.Counts {
			f.Counts[o] += n
		}
		f.TotalRequests += t.TotalRequests
	}
	data, err := json.Marshal(f)
	if err != nil {
		return err
	}
	_, err = atomicfile.Write(s.path(HealFile), append(data, '\n'), 0o644)
	return err
}

// ClearHeal forgets every healer's checks: the daemon starts its healers
// afresh, and a target it no longer heals must not linger.
func (s *Store) ClearHeal() error {
	if err := os.Remove(s.path(HealFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// Heal reads the latest check of any healer, with the counts of all; the
// zero HealCheck when none.
func (s *Store) Heal() (HealCheck, error) {
	var f healFile
	return f.HealCheck, readJSON(s.path(HealFile), &f)
}

// HealTargets reads each target's latest check, by key; empty when none.
func (s *Store) HealTargets() (map[string]HealCheck, error) {
	var f healFile
	err := readJSON(s.path(HealFile), &f)
	return f.Targets, err
}

// readJSON reads the JSON file at path into v; a missing file leaves v as
// it is.
func readJSON(path string, v any) error {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("reading %s: %w", path, err)
	}
	return nil
}
