package agenttest

import (
	"fmt"
	"strings"
)

// Server is a backend of a State.
type Server struct{ Name, Address string }

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
	b.WriteString("haproxy: {maxconn: 200, hardStopAfter: 5s}\n")
	return []byte(b.String())
}

func servers(list []Server) string {
	var b strings.Builder
	for _, s := range list {
		fmt.Fprintf(&b, "  - {name: %s, address: %s}\n", s.Name, s.Address)
	}
	return b.String()
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
