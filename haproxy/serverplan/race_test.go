package serverplan_test

import (
	"errors"
	"slices"
	"strconv"
	"testing"

	"go.uber.org/zap"

	"github.com/hakgen/hakgen/haproxy"
	"github.com/hakgen/hakgen/haproxy/haproxytest"
	"github.com/hakgen/hakgen/haproxy/serverplan"
)

// TestApplyNoticesReload reloads HAProxy in the middle of a plan (the new
// file installed, as the agent does before applying): Apply stops with
// ErrWorkerChanged at the next command, the old worker (kept alive by a
// connection) never gets the commands after the reload, and the new
// worker runs the new file, so the change is not lost.
func TestApplyNoticesReload(t *testing.T) {
	haproxytest.EachBuild(t, func(t *testing.T, b haproxytest.Build) {
		ctx := testContext(t)
		l := newLab(t, b, initial...)
		l.holdStats()
		next := []cp{{"cp1", 0, 1}, {"cp2", 1, 1}, {"cp3", 2, 1}, {"cp4", 3, 1}, {"cp5", 4, 1}}
		plan := l.decide(next...)
		old := l.worker(ctx)
		reloader := haproxy.NewMasterReloader(l.in.Master, zap.NewNop())
		r := &recorder{Worker: old, after: func(n int) {
			if n == 3 { // add, enable health, enable server of cp4
				if err := reloader.Reload(ctx); err != nil {
					t.Fatalf("reload during the plan: %v", err)
				}
			}
		}}
		err := serverplan.Executor{}.Apply(ctx, r, plan)
		var wc *haproxy.WorkerChangedError
		if !errors.Is(err, haproxy.ErrWorkerChanged) || !errors.As(err, &wc) || wc.Pinned != old.PID() {
			t.Fatalf("Apply across a reload: %v, want ErrWorkerChanged from worker %d", err, old.PID())
		}
		if wc.Command != "add server kube-api/cp5 "+l.pool[4]+":"+strconv.Itoa(l.backend)+" check on-marked-down shutdown-sessions inter 500ms fastinter 250ms downinter 500ms fall 2 rise 2 slowstart 10s" {
			t.Errorf("the reload was noticed at %q, want the first command after it (add server kube-api/cp5)", wc.Command)
		}
		if len(r.sent) != 4 {
			t.Errorf("commands sent %q, want Apply to stop at the fourth", r.sent)
		}
		procs := l.procs(ctx)
		if !slices.ContainsFunc(procs.OldWorkers, func(p haproxy.Proc) bool { return p.PID == old.PID() }) {
			t.Fatalf("the old worker %d is gone (show proc %+v): the test cannot check what it got", old.PID(), procs)
		}
		answer, err := l.in.Master.Process(ctx, old.PID(), "show servers state kube-api")
		if err != nil {
			t.Fatal(err)
		}
		states, err := haproxy.ParseServersState(answer)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, s := range states {
			names = append(names, s.Name)
		}
		if !slices.Equal(names, []string{"cp1", "cp2", "cp3", "cp4"}) {
			t.Errorf("old worker's servers %v, want cp4 (before the reload) and no cp5 (after it)", names)
		}
		l.wantServers(ctx, l.worker(ctx), next...)
	})
}
