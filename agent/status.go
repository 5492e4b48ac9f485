package agent

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hakgen/hakgen/internal/atomicfile"
)

// DefaultStatusPath is where the daemon writes its status; /run is emptied
// at boot, together with HAProxy's own state.
const DefaultStatusPath = "/run/hakgen/status.json"

// Status is the content of the status file, rewritten atomically after
// every reconcile. Its JSON form is stable: fields are only ever added.
type Status struct {
	PID       int       `json:"pid"`
	StartedAt time.Time `json:"startedAt"`
	UpdatedAt time.Time `json:"updatedAt"`
	StateFile string    `json:"stateFile"`
	// AppliedHash is the hash (state.State.Hash) of the last state every
	// target was brought in line with; "" before the first success.
	AppliedHash string    `json:"appliedStateHash"`
	AppliedAt   time.Time `json:"appliedAt,omitzero"`
	// Healthy is false while the last reconcile failed.
	Healthy bool       `json:"healthy"`
	Last    *Reconcile `json:"lastReconcile,omitempty"`
	// LastError is the most recent failure, kept after recovery.
	LastError *Failure       `json:"lastError,omitempty"`
	Counts    Counts         `json:"counts"`
	Targets   []TargetStatus `json:"targets"`
}

// Reconcile describes one reconcile.
type Reconcile struct {
	At            time.Time `json:"at"`
	Trigger       string    `json:"trigger"` // start, file, signal, resync, retry, overflow, discovery
	Outcome       Outcome   `json:"outcome"`
	StateHash     string    `json:"stateHash,omitempty"`
	TookSeconds   float64   `json:"tookSeconds"`
	CheckSeconds  float64   `json:"checkSeconds"`  // time in the checkers (haproxy -c)
	ReloadSeconds float64   `json:"reloadSeconds"` // time in the reloaders, rollback included
	// RuntimeSeconds is the time spent changing running services without a
	// reload (HAProxy's Runtime API).
	RuntimeSeconds float64  `json:"runtimeSeconds"`
	Warnings       []string `json:"warnings,omitempty"`
	Error          string   `json:"error,omitempty"`
}

// Failure is a reconcile that failed.
type Failure struct {
	At      time.Time `json:"at"`
	Outcome Outcome   `json:"outcome"`
	Error   string    `json:"error"`
}

// Counts are totals since the daemon started.
type Counts struct {
	Reconciles    int `json:"reconciles"`
	Reloads       int `json:"reloads"`       // successful, rollbacks' included
	ReloadsFailed int `json:"reloadsFailed"` // failed, rollbacks' included
	Rollbacks     int `json:"rollbacks"`     // last-known-good restored and reloaded
	// RuntimeUpdates counts new files applied to their running service
	// without a reload (HAProxy's servers, through its Runtime API);
	// RuntimeFallbacks those whose runtime change failed and which were
	// reloaded instead.
	RuntimeUpdates   int `json:"runtimeUpdates"`
	RuntimeFallbacks int `json:"runtimeFallbacks"`
	// Targets has the same per target, with its reconciles by outcome.
	Targets map[string]TargetCounts `json:"targets,omitempty"`
}

// TargetCounts are one target's totals since the daemon started.
type TargetCounts struct {
	Outcomes      map[Outcome]int `json:"outcomes"`
	Reloads       int             `json:"reloads"`
	ReloadsFailed int             `json:"reloadsFailed"`
}

// TargetStatus is one generated file and what its service runs.
type TargetStatus struct {
	Name     string `json:"name"`
	Path     string `json:"path"`
	LastGood string `json:"lastGood"`
	// Loaded is the SHA-256 of the bytes the service is known to run.
	Loaded string `json:"loadedSha256"`
	// StateHash is the hash of the state the running file was rendered
	// from; "" when not known (a file the agent did not install).
	StateHash string `json:"stateHash,omitempty"`
	// Pending is true when the file on disk is not known to be loaded.
	Pending bool `json:"pending"`
	// Outcome is what the last reconcile did to this file.
	Outcome Outcome `json:"outcome,omitempty"`
	// Reason says why the last reconcile's state is not (yet) what runs:
	// why the file was refused or held back, or why its reload is owed.
	Reason string `json:"reason,omitempty"`
	// How the last reconcile's new file came to run: reload, runtime
	// (changed in the running service, no reload) or none (nothing the
	// service runs differed); empty when it installed none.
	How string `json:"how,omitempty"`
	// Change is what a runtime change changed ("kube-api: +cp4").
	Change string `json:"change,omitempty"`
	// ReloadReason is why a new file was reloaded rather than changed at
	// runtime: the difference needs a reload, or the runtime change failed.
	ReloadReason string `json:"reloadReason,omitempty"`
}

// Describe tells in words what runs from this file.
func (t TargetStatus) Describe() string {
	runs := "runs state " + short(t.StateHash)
	if t.StateHash == "" {
		runs = "runs a file the agent did not install (sha256 " + short(t.Loaded) + ")"
		if t.Loaded == "" || t.Loaded == loadedUnknown {
			runs = "what runs is not known"
		}
	}
	switch t.Outcome {
	case OutcomeApplied:
		switch t.How {
		case HowRuntime:
			return t.Path + " applied without a reload (" + t.Change + "): " + runs
		case HowNone:
			return t.Path + " applied, nothing to reload: " + runs
		}
		return t.Path + " applied: " + runs
	case OutcomeUnchanged:
		return t.Path + " " + string(t.Outcome) + ": " + runs
	case OutcomeOwed:
		return t.Path + " installed, reload owed: " + firstLine(t.Reason)
	case OutcomeInvalid, OutcomeHeld, OutcomeError:
		return t.Path + " " + string(t.Outcome) + ", the previous file stays and " + runs + ": " + firstLine(t.Reason)
	case OutcomeReverted:
		return t.Path + " reverted to the last-known-good copy, which " + runs + ": " + firstLine(t.Reason)
	case OutcomeBroken:
		return t.Path + " broken: " + firstLine(t.Reason)
	}
	return t.Path + ": " + runs
}

// ReadStatus reads a status file. An empty path reads nothing and returns
// an error wrapping fs.ErrNotExist, like a missing file.
func ReadStatus(path string) (*Status, error) {
	if path == "" {
		return nil, fmt.Errorf("reading status: %w", os.ErrNotExist)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading status: %w", err)
	}
	var st Status
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("reading status %s: %w", path, err)
	}
	return &st, nil
}

// target returns the recorded status of the target named name at path.
func (s *Status) target(name, path string) (TargetStatus, bool) {
	if s == nil {
		return TargetStatus{}, false
	}
	for _, t := range s.Targets {
		if t.Name == name && t.Path == path {
			return t, true
		}
	}
	return TargetStatus{}, false
}

// writeStatus writes st to path atomically, creating its directory.
func writeStatus(path string, st *Status) error {
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("writing status: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("writing status: %w", err)
	}
	if _, err := atomicfile.Write(path, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("writing status: %w", err)
	}
	return nil
}

// statusBook keeps the Status up to date from the results of reconciles.
type statusBook struct{ st Status }

func newStatusBook(statePath string, now time.Time) *statusBook {
	return &statusBook{st: Status{PID: os.Getpid(), StartedAt: now, UpdatedAt: now, StateFile: statePath}}
}

// record adds the result of a reconcile started by trigger.
func (b *statusBook) record(trigger string, r result, targets []*target) *Status {
	st := &b.st
	rec := &Reconcile{At: r.Start, Trigger: trigger, Outcome: r.Outcome, StateHash: r.Hash,
		TookSeconds: r.Took.Seconds(), Warnings: r.Warnings}
	for _, t := range r.Targets {
		rec.CheckSeconds += t.Check.Seconds()
		rec.ReloadSeconds += t.Reload.Seconds()
		rec.RuntimeSeconds += t.Runtime.Seconds()
		st.Counts.RuntimeUpdates += t.RuntimeUpdates
		st.Counts.RuntimeFallbacks += t.RuntimeFailed
	}
	ok, failed := r.reloads()
	st.Counts.Reconciles++
	st.Counts.Reloads += ok
	st.Counts.ReloadsFailed += failed
	if r.Outcome == OutcomeReverted {
		st.Counts.Rollbacks++
	}
	st.Counts.addTargets(r, targets)
	st.Healthy = r.Err == nil
	if r.Err != nil {
		rec.Error = r.Err.Error()
		st.LastError = &Failure{At: r.Start, Outcome: r.Outcome, Error: rec.Error}
	} else if st.AppliedHash != r.Hash || st.AppliedAt.IsZero() {
		st.AppliedHash, st.AppliedAt = r.Hash, r.Start
	}
	st.Last = rec
	st.UpdatedAt = r.Start.Add(r.Took)
	st.Targets = make([]TargetStatus, 0, len(targets))
	for i, t := range targets {
		cur, _ := readTarget(t.Path)
		ts := TargetStatus{Name: t.Name, Path: t.Path, LastGood: t.LastGood,
			Loaded: t.loaded, StateHash: t.loadedState, Pending: t.pending(cur), Outcome: r.Outcome}
		if i < len(r.Targets) {
			tr := r.Targets[i]
			ts.Outcome, ts.Reason = tr.Outcome, tr.Note
			ts.How, ts.Change, ts.ReloadReason = tr.How, tr.Change, tr.ReloadReason
			if tr.Err != nil {
				ts.Reason = tr.Err.Error()
			}
		}
		st.Targets = append(st.Targets, ts)
	}
	snapshot := *st
	return &snapshot
}

// addTargets counts each target's part of r.
func (c *Counts) addTargets(r result, targets []*target) {
	if c.Targets == nil {
		c.Targets = map[string]TargetCounts{}
	}
	for i, t := range targets {
		tc := c.Targets[t.Name]
		if tc.Outcomes == nil {
			tc.Outcomes = map[Outcome]int{}
		}
		outcome := r.Outcome // the state did not load: every target shares it
		if i < len(r.Targets) {
			outcome = r.Targets[i].Outcome
			tc.Reloads += r.Targets[i].Reloads
			tc.ReloadsFailed += r.Targets[i].Failed
		}
		tc.Outcomes[outcome]++
		c.Targets[t.Name] = tc
	}
}

// Summary is a one-line account of the status, for sd_notify STATUS= and
// the first line of `hakgen-agent status`.
func (s *Status) Summary() string {
	switch {
	case s.Last == nil:
		return "starting"
	case s.Healthy:
		sum := fmt.Sprintf("state %s applied (last reconcile: %s)", short(s.AppliedHash), s.Last.Outcome)
		for _, t := range s.Targets {
			if t.Outcome == OutcomeOwed {
				sum += "; " + t.Name + " reload owed: not running"
			}
		}
		return sum
	default:
		return fmt.Sprintf("%s: %s; %s", s.Last.Outcome, firstLine(s.Last.Error), s.running())
	}
}

// running says which state each service runs, for a failed reconcile.
func (s *Status) running() string {
	var parts []string
	for _, t := range s.Targets {
		switch {
		case t.StateHash != "":
			parts = append(parts, t.Name+" runs state "+short(t.StateHash))
		case t.Loaded == "" || t.Loaded == loadedUnknown:
			parts = append(parts, t.Name+": not known what runs")
		default:
			parts = append(parts, t.Name+" runs a file the agent did not install")
		}
	}
	if len(parts) == 0 {
		return "nothing applied yet"
	}
	return strings.Join(parts, ", ")
}

// short abbreviates a hash for people; state.State.Hash values are long.
func short(hash string) string {
	if len(hash) > 12 {
		return hash[:12]
	}
	return hash
}

func firstLine(s string) string {
	for i, c := range s {
		if c == '\n' {
			return s[:i]
		}
	}
	return s
}
