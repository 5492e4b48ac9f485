package state

import (
	"fmt"
	"strconv"
)

// notLoopback reports a loopback address where one cannot work; why says
// what goes wrong and what is expected.
func (v *validator) notLoopback(path, addr, why string) {
	if isLoopback(addr) {
		v.errorf(path, "%q is a loopback address: %s", addr, why)
	}
}

// overlaps checks the addresses that must not be the same host: an
// address that follows the MASTER (a Floating IP, the private VIP) is
// neither a load balancer's own address nor a backend's, and no backend is
// this load balancer itself on a port it listens on.
func (v *validator) overlaps() {
	moving := v.movingAddrs()
	v.movingOverlaps(moving)
	for _, g := range v.backendGroups() {
		for i, srv := range g.servers {
			path := indexed(g.list, i) + ".address"
			if m, ok := movingAt(moving, srv.Address); ok {
				v.errorf(path, "%s is %s: HAProxy would send the traffic back to the load balancer holding it (expected the server's own address)", quoteAddr(srv.Address), m.what)
				continue
			}
			v.selfLoop(path, srv.Address, g.targets)
		}
	}
}

// backendGroup is a list of servers and the backend ports HAProxy
// connects to them on.
type backendGroup struct {
	list    string
	servers []Server
	targets []portRef
}

// portRef is a port and the field it comes from.
type portRef struct {
	path string
	port int
}

func (v *validator) backendGroups() []backendGroup {
	s := v.s
	cps := backendGroup{list: "controlPlanes", servers: s.ControlPlanes,
		targets: []portRef{{"apiServer.backendPort", s.APIServer.BackendPort}}}
	ws := backendGroup{list: "workers", servers: s.Workers, targets: []portRef{
		{"ingress.http.backendPort", s.Ingress.HTTP.BackendPort}, {"ingress.https.backendPort", s.Ingress.HTTPS.BackendPort}}}
	for i, p := range s.ExtraPorts {
		ref := portRef{indexed("extraPorts", i) + ".backendPort", p.BackendPort}
		switch p.Backends {
		case BackendsControlPlanes:
			cps.targets = append(cps.targets, ref)
		case BackendsWorkers:
			ws.targets = append(ws.targets, ref)
		}
	}
	return []backendGroup{cps, ws}
}

// selfLoop reports a backend that is this load balancer itself (a
// loopback address, or a load balancer's own address) on a port one of
// its frontends listens on: HAProxy would connect to itself, forwarding
// its own traffic back to itself until maxconn is full.
func (v *validator) selfLoop(path, addr string, targets []portRef) {
	self := v.selfName(addr)
	if self == "" {
		return
	}
	for _, t := range targets {
		if front := v.listenerOn(addr, t.port); front != "" {
			v.errorf(path, "%s is %s, and %s %d is the port of its own %s: HAProxy would connect to itself (expected the address of a server that is not this load balancer, or another backend port)",
				quoteAddr(addr), self, t.path, t.port, front)
			return
		}
	}
}

// selfName names what makes addr an address of this load balancer: ""
// when it is not one.
func (v *validator) selfName(addr string) string {
	if isLoopback(addr) {
		return "a loopback address"
	}
	for i, lb := range v.s.LoadBalancers {
		if sameHost(addr, lb.Address) {
			return fmt.Sprintf("the address of %s (%s)", indexed("loadBalancers", i), lb.Name)
		}
	}
	return ""
}

// listenerOn names the frontend of this load balancer that listens on
// port at addr (an address of the load balancer itself), "" when none
// does. The TCP frontends listen on every address; the stats frontend
// on its bind (each node's own address when it names a load balancer's).
func (v *validator) listenerOn(addr string, port int) string {
	s := v.s
	fronts := []portRef{{"apiServer.port", s.APIServer.Port}}
	if len(s.Workers) > 0 {
		fronts = append(fronts, portRef{"ingress.http.port", s.Ingress.HTTP.Port}, portRef{"ingress.https.port", s.Ingress.HTTPS.Port})
	}
	for i, p := range s.ExtraPorts {
		fronts = append(fronts, portRef{indexed("extraPorts", i) + ".port", p.Port})
	}
	for _, f := range fronts {
		if f.port == port {
			return f.path + " frontend (it listens on every address)"
		}
	}
	host, statsPort, err := SplitBind(s.Stats.Bind)
	if err != nil || statsPort != port {
		return ""
	}
	onLB := func(a string) bool {
		for _, lb := range s.LoadBalancers {
			if sameHost(a, lb.Address) {
				return true
			}
		}
		return false
	}
	if IsWildcard(host) || sameHost(host, addr) || (onLB(host) && onLB(addr)) {
		return "stats frontend (stats.bind " + strconv.Quote(s.Stats.Bind) + ")"
	}
	return ""
}
