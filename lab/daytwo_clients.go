package lab

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"time"

	"github.com/hakgen/hakgen/hetzner/hetznertest"
)

// clientAddrs are the addresses clients reach the API servers through:
// every Floating IP and the private VIP, which the backends' certificates
// name.
func (p *Plan) clientAddrs() []netip.Addr {
	var out []netip.Addr
	for _, f := range p.FloatingIPs {
		out = append(out, f.Addr)
	}
	if p.PrivateVIP.IsValid() {
		out = append(out, p.PrivateVIP)
	}
	if len(out) == 0 {
		out = append(out, p.FloatingIP)
	}
	return out
}

// RouteMove is one change of the private VIP's route that the lab's
// private network followed.
type RouteMove struct {
	Time    time.Time
	Gateway netip.Addr // the new gateway; invalid when the route was deleted
	Routes  int        // how many routes the network had for the VIP then
	Err     error
}

// followRoute points the private client's route for the VIP to the
// gateway of the network's route, as Hetzner's network forwards a route's
// destination to its gateway: the route is gone while the network has
// none.
func (l *Lab) followRoute(c hetznertest.RouteChange) {
	dest := netip.PrefixFrom(l.Plan.PrivateVIP, 32).String()
	m := RouteMove{Time: time.Now()}
	for _, r := range c.Routes {
		if r.Destination == dest {
			m.Routes++
			m.Gateway, _ = netip.ParseAddr(r.Gateway)
		}
	}
	line := "route del " + dest
	if m.Gateway.IsValid() {
		line = fmt.Sprintf("route replace %s via %s", dest, m.Gateway)
	}
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	err := l.PrivateClient.ipBatch(ctx, line)
	cancel()
	if err != nil && m.Gateway.IsValid() {
		m.Err = err // a route to delete that is not there is no error
	}
	l.mu.Lock()
	l.routeMoves = append(l.routeMoves, m)
	l.mu.Unlock()
}

// RouteMoves returns the changes of the private VIP's route so far.
func (l *Lab) RouteMoves() []RouteMove {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]RouteMove(nil), l.routeMoves...)
}

// AddrProber is a client like APIProber's through another address: an
// IPv4 or IPv6 Floating IP from the internet's client, the private VIP
// from the node on the private segment only. The certificate is verified
// as APIProber's is.
func (l *Lab) AddrProber(name string, addr netip.Addr) *Prober {
	node, from := l.Internet, ClientAddr
	switch {
	case addr == l.Plan.PrivateVIP:
		node, from = l.PrivateClient, PrivateClientAddr
	case addr.Is6():
		from = ClientAddrV6
	}
	target := net.JoinHostPort(addr.String(), strconv.Itoa(l.Plan.APIPort))
	return l.StartProber(name, func(ctx context.Context) (string, error) {
		raw, err := node.Dialer(from)(ctx, "tcp", target)
		if err != nil {
			return "", err
		}
		defer raw.Close()
		c := tls.Client(raw, l.apiTLS())
		if err := c.HandshakeContext(ctx); err != nil {
			return "", err
		}
		return c.ConnectionState().PeerCertificates[0].Subject.CommonName, nil
	})
}
