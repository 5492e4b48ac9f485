package state

import (
	"reflect"
	"time"
)

// Defaults returns the state every file starts from: the values an operator
// gets for each field left out.
func Defaults() *State {
	return &State{
		Cluster:   "kubernetes",
		APIServer: APIServer{Port: 6443, BackendPort: 6443, HealthCheck: HealthCheckReadyz},
		Ingress: Ingress{
			HTTP:  Listener{Port: 80, BackendPort: 80},
			HTTPS: Listener{Port: 443, BackendPort: 443},
		},
		Stats: Stats{Bind: "127.0.0.1:8404"},
		HAProxy: HAProxy{
			MaxConn:       50000,
			Shares:        Shares{APIServer: 20, HTTP: 20, HTTPS: 50, ExtraPorts: 10},
			HardStopAfter: Duration(15 * time.Minute),
			Timeouts: Timeouts{
				Connect:    Duration(5 * time.Second),
				Client:     Duration(time.Hour),
				Server:     Duration(time.Hour),
				Tunnel:     Duration(time.Hour),
				ClientFin:  Duration(10 * time.Second),
				Check:      Duration(5 * time.Second),
				FirstBytes: Duration(5 * time.Second),
			},
			Checks: Checks{Interval: Duration(500 * time.Millisecond), Fall: 2, Rise: 2},
		},
	}
}

// Defaults of the keepalived section, when it is present.
const (
	DefaultVirtualRouterID = 51
	DefaultAdvertInterval  = Duration(time.Second)
)

// fillDefaults sets the defaults that depend on other fields or on an
// optional section being present.
func (s *State) fillDefaults() {
	for _, list := range [][]Server{s.ControlPlanes, s.Workers} {
		for i := range list {
			if w := list[i].Weight; w != nil && *w == DefaultWeight {
				list[i].Weight = nil // the canonical form of the default (see Server.Weight)
			}
		}
	}
	for i := range s.ExtraPorts {
		p := &s.ExtraPorts[i]
		if p.BackendPort == 0 && !s.has(indexed("extraPorts", i)+".backendPort") {
			p.BackendPort = p.Port
		}
		if p.Backends == "" && !s.has(indexed("extraPorts", i)+".backends") {
			p.Backends = BackendsControlPlanes
		}
	}
	if d := s.HCloudDiscovery(); d != nil && !s.has("discovery.hcloud.interval") {
		d.Interval = DefaultDiscoveryInterval
	}
	if k := s.Keepalived; k != nil {
		if !s.has("keepalived.virtualRouterID") {
			k.VirtualRouterID = DefaultVirtualRouterID
		}
		if !s.has("keepalived.advertInterval") {
			k.AdvertInterval = DefaultAdvertInterval
		}
	}
}

func reflectValue(s *State) reflect.Value { return reflect.ValueOf(s).Elem() }
