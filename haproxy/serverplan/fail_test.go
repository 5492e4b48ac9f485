package serverplan_test

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/hakgen/hakgen/haproxy"
	"github.com/hakgen/hakgen/haproxy/haproxytest"
	"github.com/hakgen/hakgen/haproxy/serverplan"
)

// recorder is the real worker, with every command Apply runs recorded and
// a hook after each.
type recorder struct {
	*haproxy.Worker
	sent  []string
	after func(n int) // called after the n-th command (from 1)
}

func (r *recorder) Run(ctx context.Context, c haproxy.Command) error {
	r.sent = append(r.sent, c.String())
	err := r.Worker.Run(ctx, c)
	if r.after != nil {
		r.after(len(r.sent))
	}
	return err
}

var _ serverplan.Runtime = (*recorder)(nil)

// TestApplyFailsWithoutMasterSocket: with the master's socket gone, Apply
// fails at its first read and changes nothing.
func TestApplyFailsWithoutMasterSocket(t *testing.T) {
	haproxytest.EachBuild(t, func(t *testing.T, b haproxytest.Build) {
		ctx := testContext(t)
		l := newLab(t, b, initial...)
		w := l.worker(ctx)
		plan := l.decide(edits[0].cps...)
		moved := l.in.Socket + ".away"
		if err := os.Rename(l.in.Socket, moved); err != nil {
			t.Fatal(err)
		}
		err := serverplan.Executor{}.Apply(ctx, w, plan)
		if err2 := os.Rename(moved, l.in.Socket); err2 != nil {
			t.Fatal(err2)
		}
		if !errors.Is(err, haproxy.ErrMasterUnavailable) {
			t.Fatalf("Apply without the master socket: %v, want ErrMasterUnavailable", err)
		}
		l.wantServers(ctx, w, initial...)
		l.wantRouted(initial...)
	})
}

// TestApplyRefusesUnknownBackend: a plan naming a backend the worker does
// not have fails before any change, with HAProxy's answer.
func TestApplyRefusesUnknownBackend(t *testing.T) {
	haproxytest.EachBuild(t, func(t *testing.T, b haproxytest.Build) {
		ctx := testContext(t)
		l := newLab(t, b, initial...)
		plan := l.decide(edits[2].cps...) // remove cp1
		ghost := plan.Backends[0]
		ghost.Backend = "ghost"
		plan.Backends = append(plan.Backends, ghost)
		r := &recorder{Worker: l.worker(ctx)}
		err := serverplan.Executor{}.Apply(ctx, r, plan)
		var ce *haproxy.CommandError
		if !errors.As(err, &ce) || !strings.Contains(ce.Answer, "Can't find backend.") || !strings.Contains(err.Error(), "ghost") {
			t.Fatalf("Apply with backend ghost: %v, want HAProxy's refusal naming it", err)
		}
		if len(r.sent) != 0 {
			t.Errorf("commands sent before the check failed: %q", r.sent)
		}
		l.wantServers(ctx, r.Worker, initial...)
	})
}

// TestApplyRefusesDrift: a worker whose servers are not the running
// file's (here a server added by hand) is left alone: the plan was made
// for another starting point.
func TestApplyRefusesDrift(t *testing.T) {
	haproxytest.EachBuild(t, func(t *testing.T, b haproxytest.Build) {
		ctx := testContext(t)
		l := newLab(t, b, initial...)
		w := l.worker(ctx)
		extra := netip.AddrPortFrom(netip.MustParseAddr(l.pool[7]), uint16(l.backend))
		if err := w.Run(ctx, haproxy.AddServer("kube-api", "manual", extra, []string{"check"})); err != nil {
			t.Fatal(err)
		}
		r := &recorder{Worker: w}
		err := serverplan.Executor{}.Apply(ctx, r, l.decide(edits[0].cps...))
		var me *serverplan.MismatchError
		if !errors.As(err, &me) || me.After || len(me.Diffs) != 1 || !strings.Contains(me.Diffs[0], "kube-api/manual: running, but not in the configuration") {
			t.Fatalf("Apply over a drifted worker: %v, want a mismatch before any change naming kube-api/manual", err)
		}
		if len(r.sent) != 0 {
			t.Errorf("commands sent despite the mismatch: %q", r.sent)
		}
	})
}

// TestApplyStopsAtRefusedCommand: a command HAProxy refuses in the middle
// of a plan stops it there, with the command and the answer; nothing
// after it is sent.
func TestApplyStopsAtRefusedCommand(t *testing.T) {
	haproxytest.EachBuild(t, func(t *testing.T, b haproxytest.Build) {
		ctx := testContext(t)
		l := newLab(t, b, initial...)
		plan := l.decide([]cp{{"cp2", 1, 1}, {"cp3", 2, 2}, {"cp4", 3, 1}}...) // +cp4, cp3 weight, -cp1
		ch := &plan.Backends[0]
		if len(ch.Update) != 1 || len(ch.Add) != 1 || len(ch.Remove) != 1 {
			t.Fatalf("plan %s, want one addition, update and removal", plan)
		}
		ch.Update[0].After.Weight = 300 // beyond HAProxy's 256
		r := &recorder{Worker: l.worker(ctx)}
		err := serverplan.Executor{}.Apply(ctx, r, plan)
		var ce *haproxy.CommandError
		if !errors.As(err, &ce) || ce.Command != "set server kube-api/cp3 weight 300" || !strings.Contains(ce.Answer, "between 0 and 256") {
			t.Fatalf("Apply: %v, want HAProxy's refusal of weight 300", err)
		}
		if last := r.sent[len(r.sent)-1]; last != "set server kube-api/cp3 weight 300" {
			t.Errorf("commands sent after the refused one: %q", r.sent)
		}
		// cp4 was added before the refusal; cp1 was not removed.
		l.wantServers(ctx, r.Worker, cp{"cp1", 0, 1}, cp{"cp2", 1, 1}, cp{"cp3", 2, 1}, cp{"cp4", 3, 1})
	})
}
