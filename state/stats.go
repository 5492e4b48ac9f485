package state

import (
	"net"
	"strconv"
)

// StatsBind returns where the stats frontend of the named load balancer
// listens. One state file serves both load balancers, so when stats.bind
// names the address of any of them, each node binds its own address
// instead (the peer's address is not on this node and could not be bound).
// Any other bind, and every bind when node is empty, is used as written.
func (s *State) StatsBind(node string) (host string, port int, err error) {
	host, port, err = SplitBind(s.Stats.Bind)
	if err != nil || node == "" {
		return host, port, err
	}
	var mine string
	ofAPair := false
	for _, lb := range s.LoadBalancers {
		if lb.Name == node {
			mine = lb.Address
		}
		ofAPair = ofAPair || sameHost(lb.Address, host)
	}
	if ofAPair && mine != "" {
		host = mine
	}
	return host, port, nil
}

// HealthURL is the URL HAProxy itself answers 200 on while it runs (the
// stats frontend's monitor-uri), as reached from the node: a wildcard bind
// is reached on loopback.
func (s *State) HealthURL(node string) (string, error) {
	host, port, err := s.StatsBind(node)
	if err != nil {
		return "", err
	}
	if IsWildcard(host) {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, strconv.Itoa(port)) + HealthPath, nil
}

// HealthPath is the stats frontend's monitor-uri.
const HealthPath = "/healthz"

// PeerStatsURLs are the stats frontends of node's peers, as node reaches
// them over the private network (http://ADDRESS:PORT), in the order of
// loadBalancers: known only when stats.bind names a load balancer's
// address, so that each node binds its own; nil otherwise.
func (s *State) PeerStatsURLs(node string) []string {
	var urls []string
	for _, lb := range s.LoadBalancers {
		if u, ok := s.NodeStatsURL(lb.Name); ok && lb.Name != node {
			urls = append(urls, u)
		}
	}
	return urls
}

// NodeStatsURL is the stats frontend of the load balancer named node as its
// peers reach it over the private network (http://ADDRESS:PORT): known
// when stats.bind names a load balancer's address, so that each node binds
// its own, or is a wildcard, so that each node's private address serves it.
func (s *State) NodeStatsURL(node string) (string, bool) {
	host, port, err := SplitBind(s.Stats.Bind)
	if err != nil {
		return "", false
	}
	perNode := IsWildcard(host)
	for _, lb := range s.LoadBalancers {
		perNode = perNode || sameHost(lb.Address, host)
	}
	for _, lb := range s.LoadBalancers {
		if perNode && lb.Name == node {
			return "http://" + net.JoinHostPort(lb.Address, strconv.Itoa(port)), true
		}
	}
	return "", false
}
