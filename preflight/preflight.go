// Package preflight checks a load balancer against its desired state
// before the state is relied on: the things that a valid state file cannot
// promise by itself, because they belong to the machine (its interfaces,
// its secret files, the file-descriptor limit HAProxy gets).
//
// `hakgen-agent validate` reports every failed check as a problem of the
// state file, at the field the check is about; checks never change the
// machine.
package preflight

import (
	"fmt"
	"strings"

	"github.com/hakgen/hakgen/state"
)

// Status is the outcome of one check.
type Status int

// The outcomes, from best to worst.
const (
	Pass Status = iota
	Warn
	Fail
)

func (s Status) String() string {
	switch s {
	case Pass:
		return "pass"
	case Warn:
		return "warn"
	}
	return "fail"
}

// Result is the outcome of one check on one thing.
type Result struct {
	Check  string // what was checked, e.g. "interface enp7s0"
	Status Status
	Field  string // the state field the check is about ("" when none)
	Detail string // what was found
	Fix    string // what to do about it; empty for Pass
}

// Problem turns a result that did not pass into a problem of the state
// file, at its field: warnings stay warnings.
func (r Result) Problem(s *state.State) state.Problem {
	msg := r.Detail
	if r.Fix != "" {
		msg += " (" + r.Fix + ")"
	}
	p := s.ProblemAt(r.Field, "%s", msg)
	p.Warning = r.Status == Warn
	return p
}

// Problems returns the results that did not pass, as problems of s.
func Problems(s *state.State, results []Result) state.Problems {
	var ps state.Problems
	for _, r := range results {
		if r.Status != Pass {
			ps = append(ps, r.Problem(s))
		}
	}
	return ps
}

// Worst is the worst status among results (Pass for none).
func Worst(results []Result) Status {
	w := Pass
	for _, r := range results {
		w = max(w, r.Status)
	}
	return w
}

func pass(check, field, format string, args ...any) Result {
	return Result{Check: check, Status: Pass, Field: field, Detail: fmt.Sprintf(format, args...)}
}

func fail(check, field, fix, format string, args ...any) Result {
	return Result{Check: check, Status: Fail, Field: field, Detail: fmt.Sprintf(format, args...), Fix: fix}
}

func warn(check, field, fix, format string, args ...any) Result {
	return Result{Check: check, Status: Warn, Field: field, Detail: fmt.Sprintf(format, args...), Fix: fix}
}

func quoteList(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q, ", ")
}
