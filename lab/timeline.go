package lab

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// Outage is what a client saw of one fault: the gap between the last
// successful new connection before the fault and the first after it, by
// the attempts' start times (the client opens one every ProbeEvery, so
// that is the resolution). When successes come and go after the fault,
// the gap is the longest one from the last success before the fault on.
type Outage struct {
	Fault  time.Time
	LastOK time.Time // the last success started before the fault
	// FirstOK is the success that ended the longest gap (zero when the
	// gap is still open).
	FirstOK time.Time
	// StableSince is the first success after the last failure: from then
	// on every new connection succeeded. Zero when the last one failed.
	StableSince time.Time
	// Recovered: new connections succeed again (StableSince is set).
	Recovered bool
	// Gap is the longest time without a successful new connection; when
	// not recovered, it runs to the end of the observation.
	Gap      time.Duration
	Failed   int // failed attempts started after LastOK
	Attempts int // attempts started after LastOK
}

func (o Outage) String() string {
	if !o.Recovered {
		return fmt.Sprintf("no recovery: no new connection for %s after the fault (%d failed)", o.Gap.Round(time.Millisecond), o.Failed)
	}
	return fmt.Sprintf("outage %s (%d of %d attempts failed)", o.Gap.Round(time.Millisecond), o.Failed, o.Attempts)
}

// MeasureOutage analyses attempts around a fault, up to until (attempts
// started later are left out).
func MeasureOutage(attempts []Attempt, fault, until time.Time) (Outage, error) {
	o := Outage{Fault: fault}
	byStart := slices.Clone(attempts)
	slices.SortFunc(byStart, func(a, b Attempt) int { return a.Start.Compare(b.Start) })
	for _, a := range byStart {
		if a.Start.Before(fault) && a.OK() {
			o.LastOK = a.Start
		}
	}
	if o.LastOK.IsZero() {
		return o, errors.New("no successful connection before the fault")
	}
	prev := o.LastOK
	for _, a := range byStart {
		if !a.Start.After(o.LastOK) || a.Start.After(until) {
			continue
		}
		o.Attempts++
		if !a.OK() {
			o.Failed++
			o.StableSince = time.Time{}
			continue
		}
		if o.StableSince.IsZero() {
			o.StableSince = a.Start
		}
		if gap := a.Start.Sub(prev); gap > o.Gap {
			o.Gap, o.FirstOK = gap, a.Start
		}
		prev = a.Start
	}
	o.Recovered = !o.StableSince.IsZero()
	if !o.Recovered {
		o.FirstOK = time.Time{}
		o.Gap = max(o.Gap, until.Sub(prev))
	}
	return o, nil
}

// Failures returns the failed attempts started in [from, to].
func Failures(attempts []Attempt, from, to time.Time) []Attempt {
	var out []Attempt
	for _, a := range attempts {
		if !a.OK() && !a.Start.Before(from) && !a.Start.After(to) {
			out = append(out, a)
		}
	}
	return out
}

// ServedBy returns the successful attempts started in [from, to] that the
// backend named server answered.
func ServedBy(attempts []Attempt, server string, from, to time.Time) []Attempt {
	var out []Attempt
	for _, a := range attempts {
		if a.OK() && a.Server == server && !a.Start.Before(from) && !a.Start.After(to) {
			out = append(out, a)
		}
	}
	return out
}
