package failover_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/hakgen/hakgen/failover"
	"github.com/hakgen/hakgen/hetzner"
)

func notify(t *testing.T, dir, args string) {
	t.Helper()
	if err := notifier(dir, &fakeAssigner{}, zap.NewNop()).Notify(t.Context(), strings.Fields(args)); err != nil && !strings.Contains(args, "MASTER") {
		t.Fatalf("Notify(%s): %v", args, err)
	}
}

// TestRecordsPerInstance: each instance keeps its latest record; a
// short-form record stands for every instance; Latest is the latest of
// all, as it was with one instance.
func TestRecordsPerInstance(t *testing.T) {
	dir := t.TempDir()
	store := failover.NewStore(dir)
	notify(t, dir, "INSTANCE hakgen-prod BACKUP 250")
	notify(t, dir, "INSTANCE hakgen-prod-lb2 MASTER 250")
	notify(t, dir, "INSTANCE hakgen-prod MASTER 250")
	for instance, want := range map[string]uint64{"hakgen-prod": 3, "hakgen-prod-lb2": 2, "": 3, "other": 0} {
		if rec, err := store.LatestFor(instance); err != nil || rec.Seq != want {
			t.Errorf("LatestFor(%q) = %+v, %v; want seq %d", instance, rec, err, want)
		}
	}
	notify(t, dir, "FAULT")
	for _, instance := range []string{"hakgen-prod", "hakgen-prod-lb2", "other"} {
		if rec, _ := store.LatestFor(instance); rec.State != failover.Fault || rec.Seq != 4 {
			t.Errorf("after a short-form FAULT, LatestFor(%q) = %+v, want it", instance, rec)
		}
	}
	notify(t, dir, "INSTANCE hakgen-prod-lb2 BACKUP 240")
	if rec, _ := store.LatestFor("hakgen-prod"); rec.State != failover.Fault {
		t.Errorf("another instance's BACKUP changed hakgen-prod's record: %+v", rec)
	}
	if rec := latest(t, dir); rec.Seq != 5 || rec.Instance != "hakgen-prod-lb2" {
		t.Errorf("Latest = %+v, want the last record of any instance", rec)
	}
	ins, err := store.Instances()
	if err != nil || len(ins) != 3 || ins["hakgen-prod"].Seq != 3 || ins[""].Seq != 4 {
		t.Errorf("Instances = %+v, %v", ins, err)
	}
}

// TestRecordsOfAnOlderFile: a state file from before records were kept
// per instance is the record of the instance its event names (so status,
// metrics and alerts see it before keepalived reports again), until the
// next record.
func TestRecordsOfAnOlderFile(t *testing.T) {
	dir := t.TempDir()
	old := `{"seq":7,"state":"MASTER","event":"INSTANCE hakgen-prod MASTER 250","recorded":"2024-01-02T03:04:05Z","pid":1}` + "\n"
	if err := os.WriteFile(filepath.Join(dir, failover.StateFile), []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	store := failover.NewStore(dir)
	if rec, err := store.LatestFor("hakgen-prod"); err != nil || rec.Seq != 7 || rec.State != failover.Master {
		t.Errorf("LatestFor of an older file = %+v, %v", rec, err)
	}
	if ins, err := store.Instances(); err != nil || len(ins) != 1 || ins["hakgen-prod"].Seq != 7 {
		t.Errorf("Instances of an older file = %+v, %v; want hakgen-prod's record", ins, err)
	}
	notify(t, dir, "INSTANCE hakgen-prod BACKUP 250")
	if rec, _ := store.LatestFor("hakgen-prod"); rec.Seq != 8 || rec.State != failover.Backup {
		t.Errorf("the next record = %+v, want seq 8 BACKUP", rec)
	}
}

// TestDeletedInstanceLeaves: an instance keepalived reports DELETED (gone
// from keepalived.conf) has no record left to stand for it.
func TestDeletedInstanceLeaves(t *testing.T) {
	dir := t.TempDir()
	store := failover.NewStore(dir)
	notify(t, dir, "INSTANCE hakgen-prod MASTER 250")
	notify(t, dir, "INSTANCE hakgen-prod-lb2 BACKUP 240")
	notify(t, dir, "INSTANCE hakgen-prod-lb2 DELETED 240")
	ins, err := store.Instances()
	if _, gone := ins["hakgen-prod-lb2"]; err != nil || gone || ins["hakgen-prod"].State != failover.Master {
		t.Errorf("Instances after hakgen-prod-lb2 DELETED = %+v, %v; want hakgen-prod's only", ins, err)
	}
	if rec, _ := store.LatestFor("hakgen-prod-lb2"); rec.Seq != 0 {
		t.Errorf("LatestFor(hakgen-prod-lb2) after DELETED = %+v, want none", rec)
	}
	if rec := latest(t, dir); rec.State != failover.Deleted {
		t.Errorf("Latest = %+v, want the DELETED record", rec)
	}
}

// vipTarget is a hand-written HealTarget that knows its holders by load
// balancer, as the private VIP's route does.
type vipTarget struct {
	mu     sync.Mutex
	node   string // the load balancer the route leads to; "" none
	moves  int
	moveTo string
}

var _ failover.HealTarget = (*vipTarget)(nil)

func (v *vipTarget) Holder(context.Context) (failover.Holder, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return failover.Holder{Node: v.node, ByNode: true, Where: "gateway of " + v.node}, nil
}

func (v *vipTarget) Assign(context.Context, int64) (hetzner.Result, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.moves++
	v.node = v.moveTo
	return hetzner.Result{Requests: 5}, nil
}

// TestHealerOfATargetKnownByNode: the private VIP's healer follows its own
// instance, leaves a route to this node alone, yields to a healthy peer
// above it in the instance, and takes a route that leads to no load
// balancer; both healers' checks land in one heal file, counted together.
func TestHealerOfATargetKnownByNode(t *testing.T) {
	dir := t.TempDir()
	newHealer := func(v *vipTarget, peers ...failover.Peer) *failover.Healer {
		return failover.NewHealer(failover.HealerConfig{
			StateDir: dir, Target: v, Key: failover.PrivateVIPKey, Name: "private VIP 10.0.255.1", Kind: "private VIP",
			Instance: "hakgen-prod-lb2", Node: "lb2", ServerID: failover.StaticServerID(me), Interval: time.Hour, Peers: peers,
		}, nil, zap.NewNop())
	}
	v := &vipTarget{node: "lb2", moveTo: "lb2"}
	notify(t, dir, "INSTANCE hakgen-prod BACKUP 240")
	if got, err := newHealer(v).CheckOnce(t.Context()); got != failover.NotMaster || err != nil {
		t.Errorf("another instance's record: CheckOnce = %s, %v; want %s", got, err, failover.NotMaster)
	}
	notify(t, dir, "INSTANCE hakgen-prod-lb2 MASTER 250")
	if got, err := newHealer(v).CheckOnce(t.Context()); got != failover.Owned || err != nil {
		t.Errorf("route here: CheckOnce = %s, %v; want %s", got, err, failover.Owned)
	}
	v.node = "lb1"
	above := failover.Peer{Name: "lb1", ServerID: 0, Stats: stats(t, http.StatusOK), Above: true}
	if got, err := newHealer(v, above).CheckOnce(t.Context()); got != failover.Yielded || err != nil {
		t.Errorf("route to a healthy peer above: CheckOnce = %s, %v; want %s", got, err, failover.Yielded)
	}
	v.node = "" // a route to a gateway that is no load balancer: no peer holds it
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- newHealer(v, above).Run(ctx) }()
	waitFor(t, "the heal", func() bool { v.mu.Lock(); defer v.mu.Unlock(); return v.moves == 1 })
	cancel()
	_ = result(t, done)

	fipHealer := healer(dir, &fakeAssigner{owner: me}, time.Hour, zap.NewNop())
	notify(t, dir, "MASTER")
	ctx, cancel = context.WithCancel(t.Context())
	go func() { done <- fipHealer.Run(ctx) }()
	store := failover.NewStore(dir)
	waitFor(t, "both targets in the heal file", func() bool { ts, _ := store.HealTargets(); return len(ts) == 2 })
	cancel()
	_ = result(t, done)
	ts, _ := store.HealTargets()
	if vip := ts[failover.PrivateVIPKey]; vip.Outcome != failover.Healed || vip.Requests != 6 {
		t.Errorf("the private VIP's check = %+v, want healed with 6 requests", vip)
	}
	if f := ts[failover.FloatingIPKey(fip)]; f.Outcome != failover.Owned {
		t.Errorf("the Floating IP's check = %+v, want owned", f)
	}
	if all, _ := store.Heal(); all.Counts[failover.Healed] != 1 || all.Counts[failover.Owned] != 1 || all.TotalRequests != 7 {
		t.Errorf("the heal file's sums = %+v, want one heal and one owned, 7 requests", all)
	}
}
