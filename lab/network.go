package lab

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// The lab's links, as named in the nodes that are not load balancers: the
// internet's bridge for the public network, the private segment's bridge,
// and in both a port named after each node plugged into them.
const (
	publicBridge  = "pub"
	privateBridge = "seg"
	backendsIface = "eth0"
)

// ipBatch runs iproute2 commands in a node's network namespace, one per
// line, in one process. It enters the network namespace only, so that the
// host's PIDs name other nodes' namespaces (`netns PID`).
func (n *Node) ipBatch(ctx context.Context, lines ...string) error {
	ctx, cancel := context.WithTimeout(ctx, commandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, n.tools.Nsenter, "--target", strconv.Itoa(n.pid1), "--net", "--", n.tools.IP, "-batch", "-")
	cmd.Env = nodeEnv
	cmd.Stdin = strings.NewReader(strings.Join(lines, "\n") + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s: ip: %w: %s", n.Name, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// buildNetwork links the nodes (see the package documentation): every
// link is created in the namespaces of its two ends, never in the host's.
func (l *Lab) buildNetwork(ctx context.Context) error {
	p := l.Plan
	// The internet routes between the public addresses, as Hetzner's
	// network does: a load balancer reaches the Floating IP through its
	// default route wherever the address is (drill probes it from the
	// MASTER it leaves). It sends no ICMP redirects, as the gateway of a
	// Hetzner VM, alone on its link, has none to send (set before the
	// bridge is made, which takes the default).
	for key, value := range map[string]string{"ipv4/ip_forward": "1", "ipv4/conf/all/send_redirects": "0", "ipv4/conf/default/send_redirects": "0"} {
		if err := l.Internet.sysctl(key, value); err != nil {
			return err
		}
	}
	if err := l.Internet.ipBatch(ctx,
		"link set lo up",
		fmt.Sprintf("addr add %s/32 dev lo", ClientAddr),
		"link add "+publicBridge+" type bridge",
		fmt.Sprintf("addr add %s/%d dev %s", Gateway, publicPrefixLen, publicBridge),
		"link set "+publicBridge+" up",
	); err != nil {
		return err
	}
	if err := l.Private.ipBatch(ctx, "link set lo up", "link add "+privateBridge+" type bridge", "link set "+privateBridge+" up"); err != nil {
		return err
	}
	for i, lb := range l.LBs {
		plan := p.LBs[i]
		if err := l.plug(ctx, l.Internet, publicBridge, lb.Node, p.PublicIface); err != nil {
			return err
		}
		if err := l.plug(ctx, l.Private, privateBridge, lb.Node, p.PrivateIface); err != nil {
			return err
		}
		if err := lb.ipBatch(ctx,
			"link set lo up",
			fmt.Sprintf("addr add %s/%d dev %s", plan.Public, publicPrefixLen, p.PublicIface),
			fmt.Sprintf("addr add %s/%d dev %s", plan.Private, privatePrefixLen, p.PrivateIface),
			"link set "+p.PublicIface+" up",
			"link set "+p.PrivateIface+" up",
			fmt.Sprintf("route add default via %s", Gateway),
		); err != nil {
			return err
		}
	}
	if err := l.plug(ctx, l.Private, privateBridge, l.Backends, backendsIface); err != nil {
		return err
	}
	lines := []string{"link set lo up"}
	for _, s := range append(append([]Server(nil), p.ControlPlanes...), p.Workers...) {
		lines = append(lines, fmt.Sprintf("addr add %s/%d dev %s", s.Addr, privatePrefixLen, backendsIface))
	}
	if err := l.Backends.ipBatch(ctx, append(lines, "link set "+backendsIface+" up")...); err != nil {
		return err
	}
	for _, lb := range l.LBs {
		if err := lb.awaitOperUp(ctx, p.PublicIface, p.PrivateIface); err != nil {
			return err
		}
	}
	return l.RouteFloatingIP(ctx, p.LBs[0].Public)
}

// sysctl sets /proc/sys/net/KEY in the node's network namespace (the
// namespace of the thread that opens the file is the one it shows).
func (n *Node) sysctl(key, value string) error {
	_, err := inNetns(n, func() (struct{}, error) {
		return struct{}{}, os.WriteFile("/proc/sys/net/"+key, []byte(value+"\n"), 0o644)
	})
	if err != nil {
		return fmt.Errorf("%s: net.%s: %w", n.Name, strings.ReplaceAll(key, "/", "."), err)
	}
	return nil
}

// awaitOperUp waits until the kernel reports the machine's links up
// (operstate). It does so up to a second after the carrier came (the
// kernel's link watch batches such changes), and keepalived, started
// before, would begin in FAULT: a VM's links are up long before
// keepalived starts.
func (lb *LB) awaitOperUp(ctx context.Context, ifaces ...string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for _, iface := range ifaces {
		for {
			data, err := os.ReadFile(lb.Path("/sys/class/net/" + iface + "/operstate"))
			if err == nil && strings.TrimSpace(string(data)) == "up" {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("%s: %s is not up (%q, %v)", lb.Name, iface, data, err)
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	return nil
}

// plug links node to bridge, a bridge in hub: a veth pair made in hub
// whose other end, named iface, is made directly in node.
func (l *Lab) plug(ctx context.Context, hub *Node, bridge string, node *Node, iface string) error {
	return hub.ipBatch(ctx,
		fmt.Sprintf("link add %s type veth peer name %s netns %d", node.Name, iface, node.pid1),
		fmt.Sprintf("link set %s master %s up", node.Name, bridge),
	)
}

// RouteFloatingIP points the internet's route for the Floating IP to a
// load balancer's public address, as Hetzner's network does once an
// assign is done.
func (l *Lab) RouteFloatingIP(ctx context.Context, via netip.Addr) error {
	return l.Internet.ipBatch(ctx, fmt.Sprintf("route replace %s/32 via %s", l.Plan.FloatingIP, via))
}

// FloatingIPRoute is the public address the internet routes the Floating
// IP to now.
func (l *Lab) FloatingIPRoute(ctx context.Context) (netip.Addr, error) {
	out, err := l.Internet.Run(ctx, l.tools.IP, "-4", "route", "show", l.Plan.FloatingIP.String()+"/32")
	if err != nil {
		return netip.Addr{}, err
	}
	return viaOf(out)
}

// viaOf is the gateway of the route `ip route show` printed.
func viaOf(out string) (netip.Addr, error) {
	fields := strings.Fields(out)
	for i := 0; i+1 < len(fields); i++ {
		if fields[i] == "via" {
			return netip.ParseAddr(fields[i+1])
		}
	}
	return netip.Addr{}, fmt.Errorf("no route: %q", out)
}

// SetLinks takes a load balancer's links down or up at the far ends (its
// ports on the private and public bridges), as when the machine drops off
// the network: the node sees its carrier go, and keeps its addresses and
// routes for when it comes back. Going down, the private link goes first:
// keepalived, seeing a link go, resigns with a last advert, which a
// machine that vanishes never sends.
func (l *Lab) SetLinks(ctx context.Context, lb *LB, up bool) error {
	state, hubs := "down", []*Node{l.Private, l.Internet}
	if up {
		state, hubs = "up", []*Node{l.Internet, l.Private}
	}
	for _, hub := range hubs {
		if err := hub.ipBatch(ctx, fmt.Sprintf("link set %s %s", lb.Name, state)); err != nil {
			return err
		}
	}
	return nil
}

// Nft loads an nftables ruleset (`nft -f -`) in the node: the firewall of
// that node only.
func (n *Node) Nft(ctx context.Context, ruleset string) error {
	if n.tools.Nft == "" {
		return fmt.Errorf("nft is not installed")
	}
	_, err := n.RunInput(ctx, ruleset, n.tools.Nft, "-f", "-")
	return err
}
