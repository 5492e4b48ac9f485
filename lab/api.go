package lab

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hakgen/hakgen/hetzner/hetznertest"
)

// apiPort is where the fake Hetzner API listens, on Gateway.
const apiPort = 80

// NetworkID is the ID of the quick start's private network k8s
// (10.0.0.0/16 with the subnet 10.0.0.0/24, step 2) in the fake API.
const NetworkID int64 = 4242

// Move is one re-routing of a Floating IP by the lab's network.
type Move struct {
	Time       time.Time
	FloatingIP int64  // the Floating IP's ID
	Server     int64  // the server the Floating IP was assigned to
	Node       string // its load balancer
	Err        error  // the route could not be changed
}

func (m Move) String() string {
	s := fmt.Sprintf("%s to %s (server %d)", m.Time.Format("15:04:05.000"), m.Node, m.Server)
	if m.Err != nil {
		s += ": " + m.Err.Error()
	}
	return s
}

// startAPI serves the fake Hetzner API and metadata service on Gateway in
// the internet namespace, in the world of the quick start: the two load
// balancers with their server IDs, the Floating IP first assigned to lb1
// (step 3 of the quick start), the private network k8s. Each load balancer's requests to the
// metadata service get its own server ID. A completed assign re-routes
// the Floating IP after Options.RouteDelay.
func (l *Lab) startAPI() error {
	ln, err := l.Internet.Listen("tcp", net.JoinHostPort(Gateway.String(), strconv.Itoa(apiPort)))
	if err != nil {
		return fmt.Errorf("the fake API's listener: %w", err)
	}
	l.API = hetznertest.Serve(l.tb, ln)
	l.API.RequireToken(l.token)
	for _, lb := range l.Plan.LBs {
		l.API.AddServer(lb.ServerID, lb.Name)
		l.API.SetInstanceIDFor(lb.Public, lb.ServerID)
	}
	l.API.AddFloatingIP(l.Plan.FloatingIPID, l.Plan.FloatingIP.String(), l.Plan.LBs[0].ServerID)
	l.API.AddNetwork(NetworkID, "k8s", "10.0.0.0/16", "10.0.0.0/24")
	for _, f := range l.Plan.FloatingIPs[1:] {
		owner := l.lbNamed(f.Preferred).ServerID
		if f.IPv6() {
			l.API.AddFloatingIPv6(f.ID, f.Prefix(), owner)
		} else {
			l.API.AddFloatingIP(f.ID, f.Addr.String(), owner)
		}
	}
	l.API.OnAssigned(l.Opts.RouteDelay, l.followMove)
	if l.PrivateClient != nil {
		l.API.OnRouteChanged(l.Opts.RouteDelay, l.followRoute)
	}
	return nil
}

// followMove routes a Floating IP to the server it was assigned to.
func (l *Lab) followMove(floatingIPID, server int64) {
	f, ok := l.Plan.FloatingIPByID(floatingIPID)
	if !ok {
		return
	}
	m := Move{FloatingIP: floatingIPID, Server: server}
	if lb := l.LBByServer(server); lb == nil {
		m.Err = fmt.Errorf("server %d is no load balancer of the lab", server)
	} else {
		m.Node = lb.Name
		ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
		m.Err = l.routeFloatingIP(ctx, f, lb.Plan)
		cancel()
	}
	m.Time = time.Now()
	l.mu.Lock()
	l.moves = append(l.moves, m)
	l.mu.Unlock()
}

// Moves returns the re-routings of the Floating IP so far.
func (l *Lab) Moves() []Move {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Move(nil), l.moves...)
}

// RequestsSince returns the fake API's requests that arrived from since on.
func (l *Lab) RequestsSince(since time.Time) []hetznertest.Request {
	var out []hetznertest.Request
	for _, r := range l.API.Requests() {
		if !r.Time.Before(since) {
			out = append(out, r)
		}
	}
	return out
}

// WaitOwner waits until the Floating IP is assigned to lb and routed to it.
func (l *Lab) WaitOwner(ctx context.Context, lb *LB) error {
	for {
		if l.API.Owner(l.Plan.FloatingIPID) == lb.Plan.ServerID {
			if via, err := l.FloatingIPRoute(ctx); err == nil && via == lb.Plan.Public {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the Floating IP never moved to %s: %w", lb.Name, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// MetadataInstanceID asks the metadata service, from lb, which server lb
// is.
func (lb *LB) MetadataInstanceID(ctx context.Context) (string, error) {
	tr := &http.Transport{DialContext: lb.Dialer(lb.Plan.Public), DisableKeepAlives: true}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	url := "http://" + net.JoinHostPort(Gateway.String(), strconv.Itoa(apiPort)) + "/hetzner/v1/metadata/instance-id"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return "", fmt.Errorf("%s: metadata: %w", lb.Name, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1024))
	return strings.TrimSpace(string(body)), err
}

// APIEnv is the environment that points hakgen and the hcloud CLI at the
// fake API and metadata service.
func (l *Lab) APIEnv() []string {
	base := "http://" + net.JoinHostPort(Gateway.String(), strconv.Itoa(apiPort))
	return []string{"HCLOUD_ENDPOINT=" + base + "/v1", "HCLOUD_METADATA_ENDPOINT=" + base + "/hetzner/v1/metadata"}
}
