package main

import (
	"sync"
	"testing"
	"time"

	"github.com/hakgen/hakgen/hetzner/hetznertest"
)

// holdUntilAll holds each of n requests until all n have arrived, 10 s at
// most: a notify that sends them one after the other is only slowed, and
// its later requests then arrive after an earlier action ended.
func holdUntilAll(n int) hetznertest.Fault {
	var wg sync.WaitGroup
	wg.Add(n)
	return hetznertest.Fault{Do: func(*hetznertest.Fake) {
		wg.Done()
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
		}
	}}
}

// TestNotifyMovesTheAddressesInParallel: keepalived's MASTER of
// hakgen-prod runs the binary's notify; both Floating IPs' assigns and the
// VIP route's delete_route reach the API before any of their actions has
// ended, so no move waits for another.
func TestNotifyMovesTheAddressesInParallel(t *testing.T) {
	w := newDayTwoWorld(t)
	w.fake.PlanActions(hetznertest.ActionPlan{RunningPolls: 1})
	hold := holdUntilAll(3)
	w.fake.Inject(hetznertest.Assign, 2, hold)
	w.fake.Inject(hetznertest.DeleteRoute, 1, hold)
	code, stderr := w.notify(t, "--node", "lb1", "INSTANCE", "hakgen-prod", "MASTER", "250")
	if code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	var firstEnd time.Time
	acts := w.fake.Actions()
	for _, a := range acts {
		if a.Finished == nil {
			t.Fatalf("action %d (%s) never ended: %+v", a.ID, a.Command, acts)
		}
		if firstEnd.IsZero() || a.Finished.Before(firstEnd) {
			firstEnd = *a.Finished
		}
	}
	if len(acts) != 4 {
		t.Errorf("%d actions, want 4 (two assigns, delete_route, add_route): %+v", len(acts), acts)
	}
	n := 0
	for _, r := range w.fake.Requests() {
		if r.Endpoint != hetznertest.Assign && r.Endpoint != hetznertest.DeleteRoute {
			continue
		}
		n++
		if !r.Time.Before(firstEnd) {
			t.Errorf("%s arrived %s after the first action ended: the moves ran one after the other", r, r.Time.Sub(firstEnd))
		}
	}
	if n != 3 {
		t.Errorf("%d assigns and route deletions, want 3", n)
	}
	if w.fake.Owner(fipID) != thisID || w.fake.Owner(fip6ID) != thisID || w.fake.RouteGateway(hetznertest.NetworkID, vipRoute) != hetznertest.ThisServerPrivateIP {
		t.Errorf("owners %d, %d, route via %s; want all here", w.fake.Owner(fipID), w.fake.Owner(fip6ID), w.fake.RouteGateway(hetznertest.NetworkID, vipRoute))
	}
}
