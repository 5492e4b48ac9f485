package main

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/hakgen/hakgen/failover"
	"github.com/hakgen/hakgen/hetzner/hetznertest"
	"github.com/hakgen/hakgen/state"
)

// TestHealersCoverEveryAddress: lb2's healers are one per address, each
// following its instance and ranking the peers as its instance does;
// against the fake, each heals only what its own instance's MASTER holds.
func TestHealersCoverEveryAddress(t *testing.T) {
	w := newDayTwoWorld(t)
	s, err := state.LoadForFailover(w.statePath)
	if err != nil {
		t.Fatal(err)
	}
	client := &tokenClient{tokenFile: tokenFileOf(s), endpoint: w.fake.APIEndpoint(), log: zap.NewNop()}
	base := failover.HealerConfig{StateDir: w.stateDir, ServerID: failover.StaticServerID(peerID), Interval: time.Hour}
	cfgs := healerConfigs(s, 1, base, client, func(netip.Addr) func() error { return nil })
	type want struct {
		key, instance string
		lb1Above      bool
	}
	wants := []want{
		{failover.FloatingIPKey(fipID), "hakgen-prod", true},
		{failover.FloatingIPKey(fip6ID), "hakgen-prod", true},
		{failover.PrivateVIPKey, "hakgen-prod", true},
		{failover.FloatingIPKey(lb2FIPID), "hakgen-prod-lb2", false},
	}
	if len(cfgs) != len(wants) {
		t.Fatalf("%d healers, want %d: %+v", len(cfgs), len(wants), cfgs)
	}
	for i, w := range wants {
		c := cfgs[i]
		if c.Key != w.key || c.Instance != w.instance || c.Node != "lb2" || len(c.Peers) != 1 || c.Peers[0].Above != w.lb1Above {
			t.Errorf("healer %d = key %s, instance %s, node %s, peers %+v; want %+v", i, c.Key, c.Instance, c.Node, c.Peers, w)
		}
	}
	// The peer's stats frontend is not reachable here: a peer above in
	// an instance could not be asked, and the healer would yield to it.
	for i := range cfgs {
		cfgs[i].Peers = nil
	}
	// lb2 is MASTER of its own instance only; lb1's addresses are on lb1.
	for _, id := range []int64{fipID, fip6ID} {
		w.fake.Grab(id, thisID)
	}
	w.fake.Grab(lb2FIPID, thisID)
	w.fake.SetRoute(hetznertest.NetworkID, vipRoute, hetznertest.ThisServerPrivateIP)
	if code, stderr := w.notify(t, "--node", "lb2", "INSTANCE", "hakgen-prod", "BACKUP", "240"); code != 0 {
		t.Fatal(stderr)
	}
	if _, err := failover.NewStore(w.stateDir).Record(context.Background(), failover.Event{State: failover.Master, Kind: "INSTANCE", Name: "hakgen-prod-lb2"}); err != nil {
		t.Fatal(err)
	}
	got := map[string]failover.Outcome{}
	for _, c := range cfgs {
		o, err := failover.NewHealer(c, client, zap.NewNop()).CheckOnce(t.Context())
		if err != nil {
			t.Errorf("%s: %v", c.Key, err)
		}
		got[c.Key] = o
	}
	for key, want := range map[string]failover.Outcome{
		failover.FloatingIPKey(fipID): failover.NotMaster, failover.FloatingIPKey(fip6ID): failover.NotMaster,
		failover.PrivateVIPKey: failover.NotMaster, failover.FloatingIPKey(lb2FIPID): failover.Healed,
	} {
		if got[key] != want {
			t.Errorf("%s: %s, want %s", key, got[key], want)
		}
	}
	if w.fake.Owner(lb2FIPID) != peerID || w.fake.Owner(fipID) != thisID {
		t.Errorf("owners: 4711 %d, 4713 %d; want 4713 healed to lb2 alone", w.fake.Owner(fipID), w.fake.Owner(lb2FIPID))
	}
	// Now lb2 is MASTER of both (lb1 is gone): the VIP's route, on lb1's
	// gateway, comes here too.
	if _, err := failover.NewStore(w.stateDir).Record(context.Background(), failover.Event{State: failover.Master, Kind: "INSTANCE", Name: "hakgen-prod"}); err != nil {
		t.Fatal(err)
	}
	vip := cfgs[2]
	o, err := failover.NewHealer(vip, client, zap.NewNop()).CheckOnce(t.Context())
	if o != failover.Healed || err != nil || w.fake.RouteGateway(hetznertest.NetworkID, vipRoute) != hetznertest.OtherServerPrivateIP {
		t.Errorf("the VIP: %s, %v, route to %s; want healed to %s", o, err, w.fake.RouteGateway(hetznertest.NetworkID, vipRoute), hetznertest.OtherServerPrivateIP)
	}
	if o, err := failover.NewHealer(vip, client, zap.NewNop()).CheckOnce(t.Context()); o != failover.Owned || err != nil {
		t.Errorf("the VIP's next check: %s, %v; want owned", o, err)
	}
	if strings.Contains(w.logged(t), notifyToken) {
		t.Error("the token was logged")
	}
}

// TestOneInstanceFollowsItsOwnRecord: on a pair with one instance, a later
// record of another instance name (DELETED by keepalived after going back
// from two instances, or after a rename) does not stand for it: its
// healers, drill and doctor still see this node MASTER.
func TestOneInstanceFollowsItsOwnRecord(t *testing.T) {
	s, _, err := state.Parse("state.yaml", []byte(quickStartState(t)))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CompleteForKeepalived(); err != nil {
		t.Fatal(err)
	}
	ins := s.VRRPInstances()
	if len(ins) != 1 {
		t.Fatalf("the quick start has %d instances, want 1", len(ins))
	}
	store := failover.NewStore(t.TempDir())
	for _, ev := range []failover.Event{
		{State: failover.Master, Kind: "INSTANCE", Name: ins[0].Name, Priority: 250},
		{State: failover.Deleted, Kind: "INSTANCE", Name: ins[0].Name + "-lb2", Priority: 240},
	} {
		if _, err := store.Record(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
	}
	rec, err := store.LatestFor(healInstance(s, ins[0]))
	if err != nil || rec.State != failover.Master || rec.Instance != ins[0].Name {
		t.Errorf("the record %s follows: %+v, %v; want its own MASTER", ins[0].Name, rec, err)
	}
}
