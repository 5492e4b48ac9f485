package failover_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/hakgen/hakgen/failover"
	"github.com/hakgen/hakgen/hetzner/hetznertest"
)

func healer(dir string, c failover.OwnerAssigner, interval time.Duration, log *zap.Logger) *failover.Healer {
	return failover.NewHealer(failover.HealerConfig{
		StateDir: dir, FloatingIPID: fip, ServerID: failover.StaticServerID(me), Interval: interval,
	}, c, log)
}

func record(t *testing.T, dir string, st failover.State) {
	t.Helper()
	if _, err := failover.NewStore(dir).Record(t.Context(), failover.Event{State: st}); err != nil {
		t.Fatal(err)
	}
}

func TestHealerAsksNothingUnlessMaster(t *testing.T) {
	f := hetznertest.New(t)
	dir := t.TempDir()
	h := healer(dir, apiClient(t, f), time.Second, zap.NewNop())

	for _, st := range []failover.State{"", failover.Backup, failover.Fault, failover.Stop} {
		if st != "" {
			record(t, dir, st)
		}
		if got, err := h.CheckOnce(t.Context()); got != failover.NotMaster || err != nil {
			t.Errorf("state %q: CheckOnce = %s, %v; want %s", st, got, err, failover.NotMaster)
		}
	}
	wantEndpoints(t, f)
}

func TestHealerLeavesAnIPThatPointsHere(t *testing.T) {
	f := hetznertest.New(t)
	f.Grab(fip, me)
	dir := t.TempDir()
	record(t, dir, failover.Master)

	got, err := healer(dir, apiClient(t, f), time.Second, zap.NewNop()).CheckOnce(t.Context())
	if got != failover.Owned || err != nil {
		t.Fatalf("CheckOnce = %s, %v; want %s", got, err, failover.Owned)
	}
	wantEndpoints(t, f, hetznertest.GetFloatingIP)
}

func TestHealerReassignsAnIPThatPointsElsewhere(t *testing.T) {
	f := hetznertest.New(t) // the IP starts on the peer
	dir := t.TempDir()
	record(t, dir, failover.Master)
	log, logs := observed()

	got, err := healer(dir, apiClient(t, f), time.Second, log).CheckOnce(t.Context())
	if got != failover.Healed || err != nil {
		t.Fatalf("CheckOnce = %s, %v; want %s", got, err, failover.Healed)
	}
	wantEndpoints(t, f, hetznertest.GetFloatingIP, hetznertest.Assign, hetznertest.ListActions, hetznertest.GetFloatingIP)
	if f.Owner(fip) != me {
		t.Errorf("owner = %d, want %d", f.Owner(fip), me)
	}
	if logs.FilterMessage("floating IP pointed elsewhere; assigned it back to this server").Len() != 1 {
		t.Errorf("no heal log line: %v", logs.All())
	}
}

func TestHealerLeavesTheIPToARunningNotify(t *testing.T) {
	dir := t.TempDir()
	a := &fakeAssigner{owner: peer, block: true, started: make(chan struct{}, 1)}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	master := make(chan error, 1)
	go func() { master <- notifier(dir, a, zap.NewNop()).Notify(ctx, []string{"MASTER"}) }()
	<-a.started

	got, err := healer(dir, a, time.Second, zap.NewNop()).CheckOnce(t.Context())
	if got != failover.Busy || err != nil {
		t.Errorf("CheckOnce = %s, %v; want %s", got, err, failover.Busy)
	}
	cancel()
	_ = result(t, master)
}

func TestHealerRunHealsAtStartAndAfterAnotherServerGrabsTheIP(t *testing.T) {
	f := hetznertest.New(t) // the IP starts on the peer: a notify run failed
	dir := t.TempDir()
	record(t, dir, failover.Master)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	// An hour between checks: only the check at start can heal.
	go func() { done <- healer(dir, apiClient(t, f), time.Hour, zap.NewNop()).Run(ctx) }()
	waitFor(t, "the heal at start", func() bool { return f.Owner(fip) == me })
	cancel()
	if err := result(t, done); err != nil {
		t.Errorf("Run = %v, want nil when its context ends", err)
	}

	ctx, cancel = context.WithCancel(t.Context())
	go func() { done <- healer(dir, apiClient(t, f), 10*time.Millisecond, zap.NewNop()).Run(ctx) }()
	waitFor(t, "a few checks", func() bool { return f.Count(hetznertest.GetFloatingIP) >= 5 })
	f.Grab(fip, hetznertest.ThirdServer)
	waitFor(t, "the heal", func() bool { return f.Owner(fip) == me })

	cancel()
	if err := result(t, done); err != nil {
		t.Errorf("Run = %v, want nil when its context ends", err)
	}
	if f.Count(hetznertest.Assign) != 2 {
		t.Errorf("%d assigns, want 2 (at start, after the grab)", f.Count(hetznertest.Assign))
	}
}

func TestHealerStopsHealingAfterBackup(t *testing.T) {
	f := hetznertest.New(t)
	dir := t.TempDir()
	record(t, dir, failover.Master)
	record(t, dir, failover.Backup)

	if got, _ := healer(dir, apiClient(t, f), time.Second, zap.NewNop()).CheckOnce(t.Context()); got != failover.NotMaster {
		t.Fatalf("CheckOnce = %s, want %s", got, failover.NotMaster)
	}
	wantEndpoints(t, f)
}

func TestHealerLogsRateLimits(t *testing.T) {
	f := hetznertest.New(t)
	f.Inject(hetznertest.GetFloatingIP, 1_000_000, hetznertest.RateLimited())
	dir := t.TempDir()
	record(t, dir, failover.Master)
	log, logs := observed()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- healer(dir, apiClient(t, f), 5*time.Millisecond, log).Run(ctx) }()

	waitFor(t, "a rate-limited check", func() bool { return logs.FilterMessage("floating IP check failed").Len() > 0 })
	cancel()
	_ = result(t, done)
	line := logs.FilterMessage("floating IP check failed").All()[0].ContextMap()
	if line["next_check_in"] == nil || !strings.Contains(fmt.Sprint(line["error"]), "rate limit") {
		t.Errorf("log line = %v, want the rate limit and the next check", line)
	}
	if f.Owner(fip) != peer {
		t.Error("healed although every request was rate limited")
	}
}

// TestHealerAsksNothingUnconfirmed: MASTER recorded, but keepalived does
// not confirm it (killed without STOP): the healer must not take the IP
// back from the real MASTER.
func TestHealerAsksNothingUnconfirmed(t *testing.T) {
	f := hetznertest.New(t) // the IP is on the peer, the new MASTER
	dir := t.TempDir()
	record(t, dir, failover.Master)
	h := failover.NewHealer(failover.HealerConfig{
		StateDir: dir, FloatingIPID: fip, ServerID: failover.StaticServerID(me), Interval: time.Second,
		Confirm: func() error { return fmt.Errorf("keepalived is not running") },
	}, apiClient(t, f), zap.NewNop())
	got, err := h.CheckOnce(t.Context())
	if got != failover.Unconfirmed || err == nil || !strings.Contains(err.Error(), "keepalived is not running") {
		t.Fatalf("CheckOnce = %s, %v; want %s naming the reason", got, err, failover.Unconfirmed)
	}
	wantEndpoints(t, f)
	if f.Owner(fip) == me {
		t.Error("the Floating IP was taken from the peer")
	}
}

// lb1 and lb2 as the healer of one of them sees the other.
func peerAbove(stats string) failover.Peer {
	return failover.Peer{Name: "lb1", ServerID: peer, Stats: stats, Above: true}
}

// TestHealerYieldsToAHigherRankedPeer: on a node that ranks second, a
// Floating IP on the first node is left there while that node's HAProxy is
// healthy or cannot be asked, and taken only when its machine answers and
// its HAProxy does not.
func TestHealerYieldsToAHigherRankedPeer(t *testing.T) {
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	for _, c := range []struct {
		name  string
		stats string
		want  failover.Outcome
	}{
		{"peer healthy", stats(t, http.StatusOK), failover.Yielded},
		{"peer not answering", "http://" + silent.Addr().String(), failover.Yielded},
		{"peer's HAProxy gone", closedURL(t), failover.Healed},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := hetznertest.New(t) // the IP starts on the peer
			dir := t.TempDir()
			record(t, dir, failover.Master)
			h := failover.NewHealer(failover.HealerConfig{StateDir: dir, FloatingIPID: fip, ServerID: failover.StaticServerID(me),
				Peers: []failover.Peer{peerAbove(c.stats)}, PeerTimeout: 200 * time.Millisecond}, apiClient(t, f), zap.NewNop())
			if got, err := h.CheckOnce(t.Context()); got != c.want || err != nil {
				t.Errorf("CheckOnce = %s, %v; want %s", got, err, c.want)
			}
			if want := map[failover.Outcome]int64{failover.Yielded: peer, failover.Healed: me}[c.want]; f.Owner(fip) != want {
				t.Errorf("owner %d, want %d", f.Owner(fip), want)
			}
		})
	}
}

// TestTwoMastersOfAPartitionDoNotPingPong runs the healers of both nodes,
// both recorded MASTER as in a VRRP partition and both healthy, against one
// fake API at a 20 ms interval for a second: the Floating IP moves at most
// twice (the lower-ranked node's notify took it; the higher-ranked node
// takes it back) and ends on the first node.
func TestTwoMastersOfAPartitionDoNotPingPong(t *testing.T) {
	f := hetznertest.New(t)
	f.Grab(fip, peer) // the second node's notify assigned it to itself
	healthy := stats(t, http.StatusOK)
	nodes := []struct {
		id   int64
		peer failover.Peer
	}{
		{peer, failover.Peer{Name: "lb1", ServerID: me, Stats: healthy, Above: true}}, // the second node, "peer" here
		{me, failover.Peer{Name: "lb2", ServerID: peer, Stats: healthy}},              // the first node
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	done := make(chan struct{}, len(nodes))
	for _, n := range nodes {
		dir := t.TempDir()
		record(t, dir, failover.Master)
		h := failover.NewHealer(failover.HealerConfig{StateDir: dir, FloatingIPID: fip, ServerID: failover.StaticServerID(n.id),
			Interval: 20 * time.Millisecond, Peers: []failover.Peer{n.peer}}, apiClient(t, f), zap.NewNop())
		go func() { _ = h.Run(ctx); done <- struct{}{} }()
	}
	<-ctx.Done()
	for range nodes {
		<-done
	}
	assigns := 0
	for _, r := range f.Requests() {
		if r.Endpoint == hetznertest.Assign {
			assigns++
		}
	}
	if assigns > 1 || f.Owner(fip) != me {
		t.Errorf("%d assigns by the healers, owner %d; want at most 1 (the second move) and the first node", assigns, f.Owner(fip))
	}
}
