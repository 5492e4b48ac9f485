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
	HealFile        = "heal.json" // the healer's last check
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
	// not-assigned, action-error, auth.
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
}

// ResultName is the History result of a MASTER run that ended with err.
func ResultName(err error) string {
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

// HealCheck is the healer's last check, written after each one.
type HealCheck struct {
	At        time.Time `json:"at"`
	Outcome   Outcome   `json:"outcome"`
	Owner     int64     `json:"owner,omitempty"` // the server the Floating IP pointed to; 0 when not asked
	Me        int64     `json:"me,omitempty"`
	Error     string    `json:"error,omitempty"`
	Requests  int       `json:"requests"`
	RateLimit int       `json:"rateLimitRemaining,omitempty"`
	// Counts are the checks since the daemon started, by outcome, and
	// TotalRequests their API requests.
	Counts        map[Outcome]int `json:"counts"`
	TotalRequests int             `json:"totalRequests"`
}

// WriteHeal records the healer's last check.
func (s *Store) WriteHeal(c HealCheck) error {
	data, err := json.Marshal(c)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(s.dir, 0o755); err != nil {
		return err
	}
	_, err = atomicfile.Write(s.path(HealFile), append(data, '\n'), 0o644)
	return err
}

// Heal reads the healer's last check; the zero HealCheck when none.
func (s *Store) Heal() (HealCheck, error) {
	var c HealCheck
	return c, readJSON(s.path(HealFile), &c)
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
