package lab_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hakgen/hakgen/hetzner/hetznertest"
	"github.com/hakgen/hakgen/lab"
	"github.com/hakgen/hakgen/state"
)

// discoveryInterval is the state's shortest poll period; discoverySlack
// is what the issue allows past one interval until a new worker is in
// rotation (one poll, one reconcile, one runtime change).
const (
	discoveryInterval = state.MinDiscoveryInterval
	discoverySlack    = 2 * time.Second
)

// discoveredWorker: both load balancers discover their workers by label
// (the README's discovery section, at the shortest interval), with the
// last worker left out of the static list. A worker created in the
// project with the labels is in rotation on both within interval + 2 s,
// with no reload of HAProxy and no failed client connection. The figure
// is the time from the server's creation until both route to it.
func discoveredWorker(t *testing.T, l *lab.Lab) lab.Run {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	wks := l.Plan.Workers
	last := wks[len(wks)-1]
	st, err := lab.Edit(l.State, fmt.Sprintf("  - {name: %s, address: %s}\n", last.Name, last.Addr), "")
	if err != nil {
		t.Fatal(err)
	}
	st = fmt.Appendf(st, "discovery:\n  hcloud:\n    network: k8s\n    interval: %s\n    workers: \"cluster=prod,role=worker\"\n",
		state.Duration(discoveryInterval))
	applyOnBoth(t, ctx, l, st)
	checkServers(t, ctx, l, st)

	api, web := l.APIProber(), l.HTTPProber()
	for _, p := range []*lab.Prober{api, web} {
		if err := p.AwaitClean(ctx, time.Second); err != nil {
			t.Fatal(err)
		}
	}
	reloads := map[string]int{}
	for _, lb := range l.LBs {
		s, err := lb.Status()
		if err != nil {
			t.Fatal(err)
		}
		reloads[lb.Name] = s.Counts.Reloads
	}
	begin := time.Now()
	l.API.PutServer(hetznertest.ServerSpec{ID: 5023, Name: last.Name, Labels: map[string]string{"cluster": "prod", "role": "worker"},
		Private: map[int64]string{lab.NetworkID: last.Addr.String()}})
	var both time.Time
	for _, lb := range l.LBs {
		at, err := waitServer(ctx, lb, "ingress-http", last.Name, "UP", discoveryInterval+discoverySlack-time.Since(begin))
		if err != nil {
			t.Fatalf("%s: %v", lb.Name, err)
		}
		both = later(both, at)
	}
	took := both.Sub(begin)
	t.Logf("%s created with the labels: in rotation on both after %s", last.Name, took.Round(time.Millisecond))
	time.Sleep(1500 * time.Millisecond) // let the client open connections to the new worker
	end := time.Now()
	apiAttempts, webAttempts := api.Stop(), web.Stop()
	for name, attempts := range map[string][]lab.Attempt{"6443": apiAttempts, "80": webAttempts} {
		if failed := lab.Failures(attempts, begin, end); len(failed) > 0 {
			t.Errorf("port %s: %d of %d new connections failed while the worker was added, first: %+v", name, len(failed), len(attempts), failed[0])
		}
	}
	for _, lb := range l.LBs {
		s, err := lb.Status()
		if err != nil {
			t.Fatal(err)
		}
		if n := s.Counts.Reloads - reloads[lb.Name]; n != 0 {
			t.Errorf("%s: HAProxy reloaded %d times for the discovered worker, want 0 (the Runtime API)", lb.Name, n)
		}
		if code, out := lb.AgentStatus(ctx); code != 0 || !strings.Contains(out, last.Name+" "+last.Addr.String()) {
			t.Errorf("%s: hakgen-agent status exited %d without the discovered %s:\n%s", lb.Name, code, last.Name, out)
		}
	}
	return lab.Run{Figure: &lab.Figure{Name: "a labelled worker in rotation on both", Value: float64(took) / float64(time.Millisecond), Unit: "ms"}}
}
