package serverplan_test

import (
	"testing"

	"github.com/hakgen/hakgen/haproxy/haproxytest"
	"github.com/hakgen/hakgen/haproxy/serverplan"
)

// edits are 20 server edits of the control planes, each from the spec
// before it: additions, removals, new addresses, weights, drains (weight
// 0) and undrains, alone and together.
var edits = []struct {
	what string
	cps  []cp
}{
	{"add cp4", []cp{{"cp1", 0, 1}, {"cp2", 1, 1}, {"cp3", 2, 1}, {"cp4", 3, 1}}},
	{"add cp5", []cp{{"cp1", 0, 1}, {"cp2", 1, 1}, {"cp3", 2, 1}, {"cp4", 3, 1}, {"cp5", 4, 1}}},
	{"remove cp1", []cp{{"cp2", 1, 1}, {"cp3", 2, 1}, {"cp4", 3, 1}, {"cp5", 4, 1}}},
	{"re-address cp2", []cp{{"cp2", 5, 1}, {"cp3", 2, 1}, {"cp4", 3, 1}, {"cp5", 4, 1}}},
	{"weight cp3", []cp{{"cp2", 5, 1}, {"cp3", 2, 3}, {"cp4", 3, 1}, {"cp5", 4, 1}}},
	{"drain cp4", []cp{{"cp2", 5, 1}, {"cp3", 2, 3}, {"cp4", 3, 0}, {"cp5", 4, 1}}},
	{"undrain cp4", []cp{{"cp2", 5, 1}, {"cp3", 2, 3}, {"cp4", 3, 1}, {"cp5", 4, 1}}},
	{"add cp6, remove cp5", []cp{{"cp2", 5, 1}, {"cp3", 2, 3}, {"cp4", 3, 1}, {"cp6", 6, 1}}},
	{"re-address cp3", []cp{{"cp2", 5, 1}, {"cp3", 0, 3}, {"cp4", 3, 1}, {"cp6", 6, 1}}},
	{"weight cp2", []cp{{"cp2", 5, 2}, {"cp3", 0, 3}, {"cp4", 3, 1}, {"cp6", 6, 1}}},
	{"drain cp2", []cp{{"cp2", 5, 0}, {"cp3", 0, 3}, {"cp4", 3, 1}, {"cp6", 6, 1}}},
	{"remove cp3", []cp{{"cp2", 5, 0}, {"cp4", 3, 1}, {"cp6", 6, 1}}},
	{"add cp1 again", []cp{{"cp1", 1, 1}, {"cp2", 5, 0}, {"cp4", 3, 1}, {"cp6", 6, 1}}},
	{"re-address cp6", []cp{{"cp1", 1, 1}, {"cp2", 5, 0}, {"cp4", 3, 1}, {"cp6", 2, 1}}},
	{"weight cp1", []cp{{"cp1", 1, 5}, {"cp2", 5, 0}, {"cp4", 3, 1}, {"cp6", 2, 1}}},
	{"undrain cp2", []cp{{"cp1", 1, 5}, {"cp2", 5, 2}, {"cp4", 3, 1}, {"cp6", 2, 1}}},
	{"add cp7 drained", []cp{{"cp1", 1, 5}, {"cp2", 5, 2}, {"cp4", 3, 1}, {"cp6", 2, 1}, {"cp7", 7, 0}}},
	{"undrain cp7", []cp{{"cp1", 1, 5}, {"cp2", 5, 2}, {"cp4", 3, 1}, {"cp6", 2, 1}, {"cp7", 7, 1}}},
	{"remove cp6 and cp7", []cp{{"cp1", 1, 5}, {"cp2", 5, 2}, {"cp4", 3, 1}}},
	{"re-address and re-weight cp1", []cp{{"cp1", 6, 1}, {"cp2", 5, 2}, {"cp4", 3, 1}}},
}

var initial = []cp{{"cp1", 0, 1}, {"cp2", 1, 1}, {"cp3", 2, 1}}

// TestApplyTwentyEdits applies 20 server edits to a real HAProxy running
// the production haproxy.cfg: after each, routing and show servers state
// follow the new file, and the master has not reloaded (same reload count,
// same worker).
func TestApplyTwentyEdits(t *testing.T) {
	haproxytest.EachBuild(t, func(t *testing.T, b haproxytest.Build) {
		ctx := testContext(t)
		l := newLab(t, b, initial...)
		l.wantRouted(initial...)
		start := l.procs(ctx)
		cur, _ := start.Current()
		ex := serverplan.Executor{}
		for i, e := range edits {
			plan := l.decide(e.cps...)
			w := l.worker(ctx)
			if err := ex.Apply(ctx, w, plan); err != nil {
				t.Fatalf("edit %d (%s): %v", i+1, e.what, err)
			}
			l.wantServers(ctx, w, e.cps...)
			l.wantRouted(e.cps...)
			if t.Failed() {
				t.Fatalf("edit %d (%s), plan %s", i+1, e.what, plan)
			}
		}
		end := l.procs(ctx)
		now, _ := end.Current()
		if end.Master.Reloads != start.Master.Reloads || now.PID != cur.PID || len(end.OldWorkers) != 0 {
			t.Errorf("master reloads %d -> %d, worker %d -> %d, old workers %v: want no reload",
				start.Master.Reloads, end.Master.Reloads, cur.PID, now.PID, end.OldWorkers)
		}
	})
}
