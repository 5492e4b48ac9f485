package discovery

import (
	"fmt"
	"testing"

	"github.com/hakgen/hakgen/state"
)

func servers(names ...string) []Server {
	var out []Server
	for i, n := range names {
		out = append(out, Server{Name: n, Address: fmt.Sprintf("10.0.1.%d", i+1), ID: int64(100 + i)})
	}
	return out
}

// TestGuardRules: which results pass at once and which wait for HoldPolls
// consecutive sightings.
func TestGuardRules(t *testing.T) {
	w := state.ListWorkers
	cp := state.ListControlPlanes
	for _, c := range []struct {
		what            string
		list            string
		static          int
		current, result []Server
		risky           bool
	}{
		{"adds only", w, 0, servers("a"), servers("a", "b", "c"), false},
		{"the first result", w, 0, nil, servers("a", "b"), false},
		{"half of four removed", w, 0, servers("a", "b", "c", "d"), servers("a", "b"), false},
		{"three of four removed", w, 0, servers("a", "b", "c", "d"), servers("a"), true},
		{"the only one removed", w, 0, servers("a"), nil, true},
		{"both of two removed, two static", w, 2, servers("a", "b"), nil, false},
		{"three of three removed, two static", w, 2, servers("a", "b", "c"), nil, true},
		{"addresses changed", w, 0, servers("a", "b"), []Server{{Name: "a", Address: "10.9.9.1"}, {Name: "b", Address: "10.9.9.2"}}, false},
		{"every control plane", cp, 0, servers("a", "b", "c"), nil, true},
		{"one of three control planes", cp, 0, servers("a", "b", "c"), servers("a", "b"), false},
		{"every discovered control plane, one static", cp, 1, servers("a"), nil, false},
	} {
		var g guard
		v := g.judge(c.list, c.static, c.current, c.result)
		if v.apply == c.risky {
			t.Errorf("%s: applied %v at once, want %v", c.what, v.apply, !c.risky)
		}
	}
}

// TestGuardHoldsTwoPollsAppliesTheThird: a risky result is held on the
// first and second poll that return it and applied on the third; another
// result in between starts the count again, as does a reset (an API
// error between polls).
func TestGuardHoldsTwoPollsAppliesTheThird(t *testing.T) {
	var g guard
	current, shrunk := servers("a", "b", "c", "d"), servers("a")
	for poll := 1; poll <= 3; poll++ {
		v := g.judge(state.ListWorkers, 0, current, shrunk)
		if v.apply != (poll == 3) || v.seen != poll || len(v.removes) != 3 {
			t.Fatalf("poll %d: %+v, want applied only on poll 3, seen %d, 3 removed", poll, v, poll)
		}
	}
	g.judge(state.ListWorkers, 0, current, shrunk)
	g.judge(state.ListWorkers, 0, current, shrunk)
	if v := g.judge(state.ListWorkers, 0, current, servers("b")); v.apply || v.seen != 1 {
		t.Errorf("another risky result after two sightings: %+v, want held, seen 1", v)
	}
	g.reset()
	if v := g.judge(state.ListWorkers, 0, current, servers("b")); v.apply || v.seen != 1 {
		t.Errorf("after a reset: %+v, want held, seen 1", v)
	}
	if v := g.judge(state.ListWorkers, 0, current, servers("a", "b", "c")); !v.apply {
		t.Error("a harmless result is held")
	}
	if v := g.judge(state.ListWorkers, 0, current, servers("b")); v.seen != 1 {
		t.Errorf("a harmless result did not end the count: seen %d", v.seen)
	}
	if v := g.judge(state.ListControlPlanes, 0, current, nil); v.seen != 1 {
		t.Errorf("the lists share a count: seen %d", v.seen)
	}
}
