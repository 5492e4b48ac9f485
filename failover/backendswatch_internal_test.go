package failover

import (
	"testing"
	"time"
)

// TestBackendsHold: the verdict turns unfit only once this node's
// backends were down while a peer saw one, for the hold without a break;
// the peers are asked only while this node's are down; fit comes back at
// the first look that sees a backend here, or no peer seeing one. A
// cluster-wide outage, whose start and end the peer sees a little apart,
// never turns it unfit.
func TestBackendsHold(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	type step struct {
		ms         int
		down, peer bool
		asked      bool // the peers were asked
		report     bool
		fit        bool
	}
	for _, c := range []struct {
		name  string
		steps []step
	}{
		{"lost here, seen by the peer", []step{
			{0, false, true, false, true, true},
			{200, true, true, true, false, true},
			{400, true, true, true, false, true},
			{800, true, true, true, false, true},
			{900, true, true, true, true, false},
			{1100, true, true, true, false, false},
			{1300, false, true, false, true, true},
		}},
		{"a cluster-wide outage begins, the peer a little later", []step{
			{0, true, true, true, true, true},
			{400, true, true, true, false, true},
			{600, true, false, true, false, true},
			{900, true, false, true, false, true},
		}},
		{"a cluster-wide outage ends, the peer a little sooner", []step{
			{0, true, false, true, true, true},
			{5000, true, false, true, false, true},
			{5200, true, true, true, false, true},
			{5600, true, true, true, false, true},
			{5800, false, true, false, false, true},
		}},
		{"a break in the streak starts the hold again", []step{
			{0, true, true, true, true, true},
			{600, false, true, false, false, true},
			{800, true, true, true, false, true},
			{1400, true, true, true, false, true},
			{1500, true, true, true, true, false},
		}},
		{"the peer stops seeing backends", []step{
			{0, true, true, true, true, true},
			{700, true, true, true, true, false},
			{900, true, false, true, true, true},
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := &backendsHold{hold: 700 * time.Millisecond}
			for _, s := range c.steps {
				asked := false
				report, fit := h.look(at(s.ms), s.down, func() bool { asked = true; return s.peer })
				if report != s.report || fit != s.fit || asked != s.asked {
					t.Errorf("+%d ms (down %v, peer %v): report %v, fit %v, asked %v; want %v, %v, %v",
						s.ms, s.down, s.peer, report, fit, asked, s.report, s.fit, s.asked)
				}
			}
		})
	}
}
