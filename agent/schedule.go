package agent

import "time"

// Triggers of a reconcile, as recorded in the status file.
const (
	TriggerStart    = "start"    // the first reconcile of Run
	TriggerFile     = "file"     // an event on the state file
	TriggerOverflow = "overflow" // the event queue overflowed: events were lost
	TriggerSignal   = "signal"   // Trigger, i.e. SIGHUP
	TriggerResync   = "resync"   // the periodic resync
	TriggerRetry    = "retry"    // a retry after a step that could not finish
)

// schedule decides when the next reconcile runs. It is pure: the loop
// feeds it the time and owns the timer.
//
// File events are coalesced with a min/max quiescence window (as
// consul-template does): the reconcile runs once no event came for min, but
// no later than max after the burst's first event. A forced request
// (signal, resync) runs at once. Either way a reconcile never starts
// earlier than minReload after the last reload.
type schedule struct {
	min, max, minReload time.Duration

	first, last time.Time // of the pending burst; zero when none is pending
	forced      bool
	trigger     string // what the pending reconcile will be recorded as
	lastReload  time.Time
}

// event records a file event (or an overflow) at now.
func (s *schedule) event(now time.Time, trigger string) {
	if s.first.IsZero() {
		s.first, s.trigger = now, trigger
	}
	s.last = now
}

// force records a request to reconcile without waiting for quiescence.
func (s *schedule) force(now time.Time, trigger string) {
	if s.first.IsZero() {
		s.first, s.last = now, now
	}
	s.forced, s.trigger = true, trigger
}

// pending reports whether a reconcile is due at some point.
func (s *schedule) pending() bool { return !s.first.IsZero() }

// due returns when the pending reconcile should run.
func (s *schedule) due() time.Time {
	at := s.last.Add(s.min)
	if limit := s.first.Add(s.max); limit.Before(at) {
		at = limit
	}
	if s.forced {
		at = s.first
	}
	if s.minReload > 0 && !s.lastReload.IsZero() {
		if earliest := s.lastReload.Add(s.minReload); at.Before(earliest) {
			at = earliest
		}
	}
	return at
}

// ran clears the pending reconcile, which ended at now and reloaded a
// service when reloaded is true.
func (s *schedule) ran(now time.Time, reloaded bool) {
	s.first, s.last, s.forced, s.trigger = time.Time{}, time.Time{}, false, ""
	if reloaded {
		s.lastReload = now
	}
}
