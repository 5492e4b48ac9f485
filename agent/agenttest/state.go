package agenttest

import (
	"fmt"
	"strings"
)

// Server is a backend of a State.
type Server struct {
	Name, Address string
	Weight        *int // nil: left out of the file (weight 1)
	Drain         bool
}

// Weight returns a pointer to w, for Server.Weight.
func Weight(w int) *int { return &w }

// Routed reports whether the server takes new connections: not drained,
// and a weight above 0.
func (s Server) Routed() bool { return s.HAProxyWeight() > 0 }

// HAProxyWeight is the weight haproxy.cfg gives the server: 0 when
// drained.
func (s Server) HAProxyWeight() int {
	switch {
	case s.Drain:
		return 0
	case s.Weight != nil:
		return *s.Weight
	}
	return 1
}

// State builds a state.yaml for a test HAProxy on loopback: every port is
// given, so nothing needs privileges; the ingress frontends exist only with
// workers. maxconn is small, so HAProxy needs no raised file limit.
type State struct {
	APIPort, APIBackendPort     int
	HealthCheck                 string // readyz or tcp
	ControlPlanes               []Server
	HTTPPort, HTTPBackendPort   int
	HTTPSPort, HTTPSBackendPort int
	Workers                     []Server
	StatsPort                   int
	// Extra are extra passthrough ports to the control planes (on the same
	// backend port as the API), e.g. to provoke a reload that fails.
	Extra []int
	// MaxConn and HardStopAfter are haproxy.maxconn and hardStopAfter; 200
	// and 5s when zero.
	MaxConn       int
	HardStopAfter string
}

// YAML renders the state file.
func (s State) YAML() []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "cluster: test\ncontrolPlanes:\n%s", servers(s.ControlPlanes))
	if len(s.Workers) > 0 {
		fmt.Fprintf(&b, "workers:\n%s", servers(s.Workers))
	}
	fmt.Fprintf(&b, "apiServer: {port: %d, backendPort: %d, healthCheck: %s}\n", s.APIPort, s.APIBackendPort, or(s.HealthCheck, "tcp"))
	fmt.Fprintf(&b, "ingress:\n  http: {port: %d, backendPort: %d}\n  https: {port: %d, backendPort: %d}\n",
		s.HTTPPort, s.HTTPBackendPort, s.HTTPSPort, s.HTTPSBackendPort)
	if len(s.Extra) > 0 {
		b.WriteString("extraPorts:\n")
		for i, p := range s.Extra {
			fmt.Fprintf(&b, "  - {name: extra%d, port: %d, backendPort: %d}\n", i, p, s.APIBackendPort)
		}
	}
	fmt.Fprintf(&b, "stats: {bind: 127.0.0.1:%d}\n", s.StatsPort)
	fmt.Fprintf(&b, "haproxy: {maxconn: %d, hardStopAfter: %s}\n", orInt(s.MaxConn, 200), or(s.HardStopAfter, "5s"))
	return []byte(b.String())
}

func servers(list []Server) string {
	var b strings.Builder
	for _, s := range list {
		fmt.Fprintf(&b, "  - {name: %s, address: %s", s.Name, s.Address)
		if s.Weight != nil {
			fmt.Fprintf(&b, ", weight: %d", *s.Weight)
		}
		if s.Drain {
			b.WriteString(", drain: true")
		}
		b.WriteString("}\n")
	}
	return b.String()
}

func orInt(n, def int) int {
	if n == 0 {
		return def
	}
	return n
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
