package lab_test

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/hakgen/hakgen/hetzner/hetznertest"
	"github.com/hakgen/hakgen/lab"
)

// The day-two scenarios run after the others (make lab
// SCENARIO=dual-stack runs one), each from a state made of the quick
// start's as the README says.
func init() {
	scenarios = append(scenarios,
		scenario{name: "dual-stack", failover: true, opts: lab.Options{StateFrom: lab.DualStackState}, run: dualStack},
		scenario{name: "active-active", failover: true, opts: lab.Options{StateFrom: lab.ActiveActiveState}, run: activeActive},
		scenario{name: "private-vip", failover: true, opts: lab.Options{StateFrom: lab.PrivateVIPState}, run: privateVIP},
	)
}

// runFailoverOf is failover with the client p.
func runFailoverOf(t *testing.T, l *lab.Lab, p *lab.Prober, what string, fault func(context.Context) error) *lab.Failover {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), failoverWindow+time.Minute)
	defer cancel()
	f, err := l.RunFailoverOf(ctx, p, failoverWindow, fault)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	t.Logf("%s: %s through %s; %d requests to the API", what, f.Outage, p.Name, len(f.Requests))
	return f
}

// expectRouted checks that Floating IP f ended assigned and routed to lb.
func expectRouted(t *testing.T, l *lab.Lab, f lab.FloatingIPPlan, lb *lab.LB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := l.WaitRouted(ctx, f, lb); err != nil {
		t.Error(err)
	}
}

// dualStack: the pair holds an IPv4 and an IPv6 Floating IP (one VRRP
// instance). An IPv6 client reaches the API port through the IPv6
// Floating IP, and follows it when HAProxy dies on the MASTER: both
// Floating IPs end on lb2, the IPv6 one routed to lb2's IPv6 address.
func dualStack(t *testing.T, l *lab.Lab) lab.Run {
	lb1, lb2 := l.LBs[0], l.LBs[1]
	v4, v6 := l.Plan.FloatingIPs[0], l.Plan.FloatingIPs[1]
	if !v6.IPv6() {
		t.Fatalf("the state's second Floating IP is %s, want an IPv6 one", v6.Addr)
	}
	f := runFailoverOf(t, l, l.AddrProber("api-ipv6", v6.Addr), "kill -9 of HAProxy on "+lb1.Name, killHAProxy(lb1))
	if f.Outage.Failed == 0 || !f.Outage.Recovered {
		t.Errorf("through the IPv6 Floating IP: %s; want connections cut, then served again", f.Outage)
	}
	expectRouted(t, l, v6, lb2)
	expectRouted(t, l, v4, lb2)
	if !enteredSince(lb2, f.Fault, "MASTER") {
		t.Errorf("%s never became MASTER after the fault", lb2.Name)
	}
	return f.Result()
}

// activeActive: a Floating IP prefers each node, one VRRP instance each.
// The pair starts the quick start's way (lb1 first, so it holds both), and
// `hakgen-agent drill --instance hakgen-prod-lb2` on lb1 hands lb2's
// instance to lb2: each node carries its own. Then HAProxy dies on lb1:
// only lb1's Floating IP moves, and no new connection through lb2's fails.
// The figure is how many did (0 expected).
func activeActive(t *testing.T, l *lab.Lab) lab.Run {
	lb1, lb2 := l.LBs[0], l.LBs[1]
	own, other := l.Plan.FloatingIPs[0], l.Plan.FloatingIPs[1]
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := lb1.RunWith(ctx, l.APIEnv(), "", lab.AgentBin, "drill", "--instance", "hakgen-prod-lb2", "--timeout", "20s")
	t.Logf("drill --instance hakgen-prod-lb2 on %s:\n%s", lb1.Name, strings.TrimSpace(out))
	if err != nil {
		t.Fatalf("handing hakgen-prod-lb2 to %s: %v", lb2.Name, err)
	}
	expectRouted(t, l, other, lb2)
	if got := l.API.Owner(own.ID); got != lb1.Plan.ServerID {
		t.Fatalf("after the hand-over, %s's Floating IP is on server %d, want %s", lb1.Name, got, lb1.Name)
	}
	p2 := l.AddrProber("api-"+lb2.Name, other.Addr)
	if err := p2.AwaitClean(ctx, time.Second); err != nil {
		t.Fatal(err)
	}
	f := runFailoverOf(t, l, l.AddrProber("api-"+lb1.Name, own.Addr), "kill -9 of HAProxy on "+lb1.Name, killHAProxy(lb1))
	attempts := p2.Stop()
	failed := lab.Failures(attempts, f.Fault, f.End)
	if len(failed) > 0 {
		t.Errorf("%d new connections through %s's Floating IP failed during %s's failover, first: %+v", len(failed), lb2.Name, lb1.Name, failed[0])
	}
	if f.Outage.Failed == 0 || !f.Outage.Recovered {
		t.Errorf("through %s's Floating IP: %s; want connections cut, then served again", lb1.Name, f.Outage)
	}
	expectRouted(t, l, own, lb2)
	for _, r := range f.Requests {
		if r.Endpoint == hetznertest.Assign && strings.Contains(r.Path, "/4713/") {
			t.Errorf("lb2's Floating IP was assigned again during lb1's failover: %s from %s", r, r.Remote)
		}
	}
	run := f.Result()
	run.Figure = &lab.Figure{Name: "failed through the other Floating IP", Value: float64(len(failed)), Unit: "connections"}
	return run
}

// privateVIP: a node on the private segment only reaches the API port
// through the private VIP, which the network's route leads to the MASTER.
// HAProxy dies on lb1: lb2 takes the VIP, its notify moves the route
// (deleted, then added: never two for the VIP), and the node reaches the
// API again. The outage column is what that node saw.
func privateVIP(t *testing.T, l *lab.Lab) lab.Run {
	lb1, lb2 := l.LBs[0], l.LBs[1]
	vip := l.Plan.PrivateVIP
	f := runFailoverOf(t, l, l.AddrProber("api-vip", vip), "kill -9 of HAProxy on "+lb1.Name, killHAProxy(lb1))
	if f.Outage.Failed == 0 || !f.Outage.Recovered {
		t.Errorf("through the private VIP: %s; want connections cut, then served again", f.Outage)
	}
	dest := netip.PrefixFrom(vip, 32).String()
	if gw := l.API.RouteGateway(lab.NetworkID, dest); gw != lb2.Plan.Private.String() {
		t.Errorf("the network's route for %s leads to %q, want %s's %s", dest, gw, lb2.Name, lb2.Plan.Private)
	}
	for _, c := range l.API.RouteChanges(lab.NetworkID) {
		if n := routesFor(c, dest); n > 1 {
			t.Errorf("%s: %d routes for the VIP at once", c.At.Format("15:04:05.000"), n)
		}
	}
	moved := false
	for _, m := range l.RouteMoves() {
		if m.Err != nil {
			t.Errorf("following the VIP's route: %v", m.Err)
		}
		moved = moved || (!m.Time.Before(f.Fault) && m.Gateway == lb2.Plan.Private)
	}
	if !moved {
		t.Errorf("the private network never routed the VIP to %s after the fault", lb2.Name)
	}
	if !enteredSince(lb2, f.Fault, "MASTER") {
		t.Errorf("%s never became MASTER after the fault", lb2.Name)
	}
	return f.Result()
}

func routesFor(c hetznertest.RouteChange, dest string) int {
	n := 0
	for _, r := range c.Routes {
		if r.Destination == dest {
			n++
		}
	}
	return n
}
