package serverplan_test

import (
	"testing"

	"github.com/hakgen/hakgen/haproxy"
	"github.com/hakgen/hakgen/haproxy/haproxytest"
	"github.com/hakgen/hakgen/haproxy/serverplan"
)

// TestApplyKeepsACLIDrain: a server drained on the CLI (as `hakgen-agent
// drain` does) is no mismatch; a plan that does not change it keeps the
// drain, and one that changes it ends the drain, as a state change for the
// server does across a reload.
func TestApplyKeepsACLIDrain(t *testing.T) {
	haproxytest.EachBuild(t, func(t *testing.T, b haproxytest.Build) {
		ctx := testContext(t)
		l := newLab(t, b, initial...)
		w := l.worker(ctx)
		if err := w.Run(ctx, haproxy.SetServerState("kube-api", "cp2", haproxy.StateDrain)); err != nil {
			t.Fatal(err)
		}
		admin := func(name string) haproxy.AdminState {
			t.Helper()
			states, err := w.ServersState(ctx, "kube-api")
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range states {
				if s.Name == name {
					return s.Admin
				}
			}
			t.Fatalf("no server %s", name)
			return 0
		}
		plan := l.decide(cp{"cp1", 0, 1}, cp{"cp2", 1, 1}, cp{"cp3", 2, 3}, cp{"cp4", 3, 1}) // +cp4, cp3 weight
		if err := (serverplan.Executor{}).Apply(ctx, w, plan); err != nil {
			t.Fatalf("a plan beside a CLI drain: %v", err)
		}
		if a := admin("cp2"); a != haproxy.AdminForcedDrain {
			t.Errorf("cp2 after a plan that does not change it: %s, want drain", a)
		}
		plan = l.decide(cp{"cp1", 0, 1}, cp{"cp2", 1, 2}, cp{"cp3", 2, 3}, cp{"cp4", 3, 1}) // cp2 weight
		if err := (serverplan.Executor{}).Apply(ctx, w, plan); err != nil {
			t.Fatalf("a plan changing the drained server: %v", err)
		}
		if a := admin("cp2"); !a.Ready() {
			t.Errorf("cp2 after a plan that changes it: %s, want ready", a)
		}
		l.wantServers(ctx, w, cp{"cp1", 0, 1}, cp{"cp2", 1, 2}, cp{"cp3", 2, 3}, cp{"cp4", 3, 1})
	})
}
