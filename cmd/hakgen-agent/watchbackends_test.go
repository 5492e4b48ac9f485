package main

import (
	"slices"
	"testing"
	"time"

	"github.com/hakgen/hakgen/state"
)

// TestNewBackendsWatch: the quick start's lb1 watches its own stats
// frontend and asks lb2's, holding for the check interval plus the margin;
// a longer haproxy.checks.interval holds longer.
func TestNewBackendsWatch(t *testing.T) {
	quick := string(mustRead(t, "../../testdata/quickstart.yaml"))
	for _, c := range []struct {
		extra string
		hold  time.Duration
	}{
		{"", 700 * time.Millisecond},
		{"haproxy: {checks: {interval: 2s}}\n", 2200 * time.Millisecond},
	} {
		s, _, err := state.Parse("state.yaml", []byte(quick+c.extra))
		if err != nil {
			t.Fatal(err)
		}
		w, err := newBackendsWatch(s, "lb1")
		if err != nil {
			t.Fatal(err)
		}
		if w.Eligibility.Health != "http://10.0.0.5:8404/healthz" || !slices.Equal(w.Eligibility.Peers, []string{"http://10.0.0.6:8404"}) {
			t.Errorf("lb1 watches %s and asks %v", w.Eligibility.Health, w.Eligibility.Peers)
		}
		if w.Hold != c.hold {
			t.Errorf("%q: hold %s, want %s", c.extra, w.Hold, c.hold)
		}
	}
}
