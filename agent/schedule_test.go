package agent

import (
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

func TestScheduleQuiescence(t *testing.T) {
	s := schedule{min: ms(100), max: ms(2000)}
	if s.pending() {
		t.Fatal("pending before any event")
	}
	s.event(t0, TriggerFile)
	if got := s.due(); !got.Equal(t0.Add(ms(100))) {
		t.Errorf("one event: due %s, want +100ms", got.Sub(t0))
	}
	// Events every 50 ms keep pushing it back...
	for i := 1; i <= 10; i++ {
		s.event(t0.Add(ms(50*i)), TriggerFile)
	}
	if got := s.due(); !got.Equal(t0.Add(ms(600))) {
		t.Errorf("burst to +500ms: due %s, want +600ms", got.Sub(t0))
	}
	// ...but never past max after the first.
	for i := 11; i <= 60; i++ {
		s.event(t0.Add(ms(50*i)), TriggerFile)
	}
	if got := s.due(); !got.Equal(t0.Add(ms(2000))) {
		t.Errorf("endless burst: due %s, want +2s (max quiescence)", got.Sub(t0))
	}
	if s.trigger != TriggerFile {
		t.Errorf("trigger %q, want file", s.trigger)
	}
	s.ran(t0.Add(ms(2000)), false)
	if s.pending() {
		t.Error("still pending after ran")
	}
}

func TestScheduleForceAndMinReloadInterval(t *testing.T) {
	s := schedule{min: ms(100), max: ms(2000), minReload: ms(1000)}
	s.event(t0, TriggerFile)
	s.force(t0.Add(ms(10)), TriggerSignal)
	if got := s.due(); !got.Equal(t0) || s.trigger != TriggerSignal {
		t.Errorf("forced: due %s trigger %q, want at once (the burst's start) and signal", got.Sub(t0), s.trigger)
	}
	s.ran(t0.Add(ms(50)), true)

	// A reconcile right after a reload waits for the minimum interval.
	s.event(t0.Add(ms(60)), TriggerFile)
	if got := s.due(); !got.Equal(t0.Add(ms(1050))) {
		t.Errorf("after a reload: due %s, want +1050ms (last reload + 1s)", got.Sub(t0))
	}
	s.ran(t0.Add(ms(1100)), false)
	s.force(t0.Add(ms(1200)), TriggerResync)
	if got := s.due(); !got.Equal(t0.Add(ms(1200))) {
		t.Errorf("long after the reload: due %s, want at once", got.Sub(t0))
	}
}
