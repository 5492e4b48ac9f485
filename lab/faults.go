package lab

import (
	"context"
	"fmt"
	"strings"
)

// faultTable is the nftables table of the lab's faults in a load
// balancer; each fault has a chain of its own in it.
const faultTable = "lab_faults"

// PartitionVRRP drops IP protocol 112 (VRRP) in and out of every load
// balancer, as a firewall or a network incident between the nodes does:
// each stops hearing the other's adverts, everything else still flows
// (the private network, the public one, each HAProxy's stats frontend).
// HealVRRP ends it.
func (l *Lab) PartitionVRRP(ctx context.Context) error {
	for _, lb := range l.LBs {
		if err := lb.addFault(ctx, "vrrp", "ip protocol vrrp drop", "ip protocol vrrp drop"); err != nil {
			return err
		}
	}
	return nil
}

// HealVRRP lets VRRP through again on every load balancer.
func (l *Lab) HealVRRP(ctx context.Context) error {
	for _, lb := range l.LBs {
		if err := lb.removeFault(ctx, "vrrp"); err != nil {
			return err
		}
	}
	return nil
}

// DropBackends drops every TCP packet between lb and the control planes
// and workers, as a load balancer whose path to the cluster broke: its
// checks and connections to them time out, while VRRP and the stats
// frontends on the same private network still work. AllowBackends ends it.
func (lb *LB) DropBackends(ctx context.Context) error {
	var addrs []string
	for _, s := range append(append([]Server(nil), lb.lab.Plan.ControlPlanes...), lb.lab.Plan.Workers...) {
		addrs = append(addrs, s.Addr.String())
	}
	set := "{ " + strings.Join(addrs, ", ") + " }"
	return lb.addFault(ctx, "backends", "ip saddr "+set+" meta l4proto tcp drop", "ip daddr "+set+" meta l4proto tcp drop")
}

// AllowBackends ends DropBackends.
func (lb *LB) AllowBackends(ctx context.Context) error { return lb.removeFault(ctx, "backends") }

// addFault loads a fault into faultTable: chain NAME-in at the input
// hook with rule in, chain NAME-out at the output hook with rule out.
func (lb *LB) addFault(ctx context.Context, name, in, out string) error {
	ruleset := fmt.Sprintf("table inet %[1]s {\n"+
		"\tchain %[2]s-in {\n\t\ttype filter hook input priority 0;\n\t\t%[3]s\n\t}\n"+
		"\tchain %[2]s-out {\n\t\ttype filter hook output priority 0;\n\t\t%[4]s\n\t}\n}\n", faultTable, name, in, out)
	return lb.Nft(ctx, ruleset)
}

// removeFault deletes the fault's chains (emptied first: a chain with
// rules cannot be deleted).
func (lb *LB) removeFault(ctx context.Context, name string) error {
	var b strings.Builder
	for _, dir := range []string{"in", "out"} {
		fmt.Fprintf(&b, "flush chain inet %[1]s %[2]s-%[3]s\ndelete chain inet %[1]s %[2]s-%[3]s\n", faultTable, name, dir)
	}
	return lb.Nft(ctx, b.String())
}
