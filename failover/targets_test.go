package failover_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/hakgen/hakgen/failover"
	"github.com/hakgen/hakgen/hetzner"
	"github.com/hakgen/hakgen/hetzner/hetznertest"
)

const fip6 = hetznertest.FloatingIPv6ID

// twoFloatingIPs is a Notifier moving Floating IPs 4711 and 4712 through
// the real client c.
func twoFloatingIPs(dir string, c *hetzner.Client, log *zap.Logger) *failover.Notifier {
	return failover.NewNotifier(failover.Config{
		StateDir: dir, ServerID: failover.StaticServerID(me),
		Targets: func(context.Context, failover.Event) ([]failover.Target, error) {
			return []failover.Target{failover.FloatingIPTarget(fip, c), failover.FloatingIPTarget(fip6, c)}, nil
		},
	}, nil, log)
}

// barrier holds each of n requests until all n have arrived (10 s at
// most, so a run that sends them one after the other is not held forever,
// only slowed: its requests then arrive after an action ended).
func barrier(n int) func(*hetznertest.Fake) {
	var wg sync.WaitGroup
	wg.Add(n)
	return func(*hetznertest.Fake) {
		wg.Done()
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
		}
	}
}

// TestMasterMovesFloatingIPsAtOnce: both assigns reach the API before
// either action has ended, each is polled and verified, and both Floating
// IPs point here.
func TestMasterMovesFloatingIPsAtOnce(t *testing.T) {
	f := hetznertest.New(t)
	f.PlanActions(hetznertest.ActionPlan{RunningPolls: 1})
	f.Inject(hetznertest.Assign, 2, hetznertest.Fault{Do: barrier(2)})
	dir := t.TempDir()
	log, logs := observed()

	if err := twoFloatingIPs(dir, apiClient(t, f), log).Notify(t.Context(), []string{"INSTANCE", "hakgen-prod", "MASTER", "250"}); err != nil {
		t.Fatalf("Notify: %v", err)
	}
	for _, id := range []int64{fip, fip6} {
		if f.Owner(id) != me {
			t.Errorf("Floating IP %d points to %d, want %d", id, f.Owner(id), me)
		}
	}
	var assigns []time.Time
	for _, r := range f.Requests() {
		if r.Endpoint == hetznertest.Assign {
			assigns = append(assigns, r.Time)
		}
	}
	acts := f.Actions()
	if len(assigns) != 2 || len(acts) != 2 || acts[0].Finished == nil || acts[1].Finished == nil {
		t.Fatalf("assigns at %v, actions %+v; want two of each, ended", assigns, acts)
	}
	firstEnd := min(acts[0].Finished.UnixNano(), acts[1].Finished.UnixNano())
	for i, at := range assigns {
		if at.UnixNano() >= firstEnd {
			t.Errorf("assign %d arrived %s after the first action ended: the moves ran one after the other", i, time.Duration(at.UnixNano()-firstEnd))
		}
	}
	if n := f.Count(hetznertest.GetFloatingIP); n != 2 {
		t.Errorf("%d verifying GETs, want one per Floating IP", n)
	}
	if n := logs.FilterMessage("floating IP assigned to this server").Len(); n != 2 {
		t.Errorf("%d success lines, want one per Floating IP: %v", n, logs.All())
	}
	if h, err := failover.NewStore(dir).History(); err != nil || h.Last == nil || h.Last.Result != "ok" || h.Last.Requests != 8 || h.Last.Instance != "hakgen-prod" {
		t.Errorf("history = %+v, %v; want ok with 8 requests for hakgen-prod", h.Last, err)
	}
}

// TestOneFailingFloatingIPHoldsNoOtherBack: the IPv6 Floating IP's assign
// is refused; the IPv4 one moves all the same, and the error and the exit
// code name the one that failed (bit 1: the second of the run).
func TestOneFailingFloatingIPHoldsNoOtherBack(t *testing.T) {
	f := hetznertest.New(t)
	f.InjectOn(hetznertest.Assign, fip6, 1, hetznertest.Fault{Status: http.StatusForbidden, Code: "forbidden", Message: "insufficient permissions"})
	dir := t.TempDir()

	err := twoFloatingIPs(dir, apiClient(t, f), zap.NewNop()).Notify(t.Context(), []string{"MASTER"})
	var moves *failover.MovesError
	if !errors.As(err, &moves) || len(moves.Failed) != 1 || moves.Failed[0].Index != 1 || len(moves.Moved) != 1 {
		t.Fatalf("Notify = %v, want the second Floating IP alone to fail", err)
	}
	if code := failover.ExitCode(err); code != failover.ExitMoves+2 {
		t.Errorf("exit code %d, want %d (64 + bit 1)", code, failover.ExitMoves+2)
	}
	if !strings.Contains(err.Error(), "floating IP 4712") || !strings.Contains(err.Error(), "forbidden") || !strings.Contains(err.Error(), "moved: floating IP 4711") {
		t.Errorf("error %q does not say which failed, why, and which moved", err)
	}
	if f.Owner(fip) != me || f.Owner(fip6) == me {
		t.Errorf("owners %d and %d; want 4711 here and 4712 not", f.Owner(fip), f.Owner(fip6))
	}
	if h, _ := failover.NewStore(dir).History(); h.Last == nil || h.Last.Result != "partial" {
		t.Errorf("history = %+v, want a partial run", h.Last)
	}
}

// TestExitCodeOfMoves: the mask has a bit per failed target; a run of
// one target keeps the codes it always had.
func TestExitCodeOfMoves(t *testing.T) {
	boom := errors.New("boom")
	all := &failover.MovesError{Failed: []failover.TargetError{{Index: 0, Err: boom}, {Index: 2, Err: context.DeadlineExceeded}}}
	if got := failover.ExitCode(all); got != 64+1+4 {
		t.Errorf("ExitCode = %d, want 69", got)
	}
	if !errors.Is(all, context.DeadlineExceeded) {
		t.Error("a MovesError does not unwrap to its targets' errors")
	}
	many := &failover.MovesError{Failed: []failover.TargetError{{Index: 1, Err: boom}, {Index: 9, Err: boom}}}
	if got := failover.ExitCode(many); got != 64+2+32 {
		t.Errorf("ExitCode with the tenth address failed = %d, want 98 (bit 5 for the sixth and later)", got)
	}
	if got := failover.ResultName(all); got != "failed" {
		t.Errorf("ResultName of a run where nothing moved = %q, want its first failure's", got)
	}
}

// TestSupersededOnlyByItsOwnInstance: a BACKUP of another instance does
// not stop a MASTER run; one of its own instance does.
func TestSupersededOnlyByItsOwnInstance(t *testing.T) {
	dir := t.TempDir()
	a := &fakeAssigner{block: true, started: make(chan struct{}, 1)}
	n := notifier(dir, a, zap.NewNop())
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	master := make(chan error, 1)
	go func() { master <- n.Notify(ctx, strings.Fields("INSTANCE hakgen-prod MASTER 250")) }()
	<-a.started
	if err := n.Notify(t.Context(), strings.Fields("INSTANCE hakgen-prod-lb2 BACKUP 240")); err != nil {
		t.Fatal(err)
	}
	// The watch looks every 50 ms: give it a few rounds to (wrongly) see it.
	time.Sleep(200 * time.Millisecond)
	select {
	case err := <-master:
		t.Fatalf("the MASTER run ended on another instance's BACKUP: %v", err)
	default:
	}
	if err := n.Notify(t.Context(), strings.Fields("INSTANCE hakgen-prod BACKUP 250")); err != nil {
		t.Fatal(err)
	}
	var sup *failover.SupersededError
	if err := result(t, master); !errors.As(err, &sup) || sup.Newer.Instance != "hakgen-prod" {
		t.Fatalf("MASTER run = %v, want superseded by its own instance's BACKUP", err)
	}
}
