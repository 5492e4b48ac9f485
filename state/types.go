// Package state is the desired state of a hakgen load balancer pair: the
// schema of /etc/hakgen/state.yaml, its strict parsing, defaults and
// validation.
//
// Load (or Parse) returns a State with every default filled in, or an error
// listing every problem with its place in the file. A State that loaded
// without error is safe to render: every string in it that reaches a
// generated configuration has been checked to be a single harmless word.
package state

import "time"

// State is the whole desired state. The same file serves every load
// balancer of the pair.
type State struct {
	// Cluster names the cluster in generated files and labels.
	Cluster string `yaml:"cluster" json:"cluster"`
	// ControlPlanes are the Kubernetes API servers; at least one.
	ControlPlanes []Server `yaml:"controlPlanes" json:"controlPlanes"`
	// Workers run the ingress controller; none means no ingress frontends.
	Workers    []Server    `yaml:"workers" json:"workers"`
	APIServer  APIServer   `yaml:"apiServer" json:"apiServer"`
	Ingress    Ingress     `yaml:"ingress" json:"ingress"`
	ExtraPorts []ExtraPort `yaml:"extraPorts" json:"extraPorts"`
	Stats      Stats       `yaml:"stats" json:"stats"`
	HAProxy    HAProxy     `yaml:"haproxy" json:"haproxy"`

	// The failover sections: needed for keepalived and the Floating IP,
	// optional for rendering haproxy.cfg.
	LoadBalancers []LoadBalancer `yaml:"loadBalancers" json:"loadBalancers"`
	// FloatingIP is the shorthand for a FloatingIPs list of one; a state
	// names one or the other (FloatingIPList reads both).
	FloatingIP  *FloatingIP       `yaml:"floatingIP" json:"floatingIP"`
	FloatingIPs []FloatingIPEntry `yaml:"floatingIPs" json:"floatingIPs,omitempty"`
	// PrivateVIP is an address on the private network that follows the
	// MASTER too, for nodes that reach no public address.
	PrivateVIP *PrivateVIP `yaml:"privateVIP" json:"privateVIP,omitempty"`
	Keepalived *Keepalived `yaml:"keepalived" json:"keepalived"`
	// HCloud holds what every call to the Hetzner Cloud API uses.
	HCloud *HCloud `yaml:"hcloud" json:"hcloud,omitempty"`
	// Discovery adds servers found by their Hetzner Cloud labels to
	// ControlPlanes and Workers (see WithDiscovered).
	Discovery *Discovery `yaml:"discovery" json:"discovery,omitempty"`

	file string         // the name used in messages
	dir  string         // directory relative secret paths are resolved against
	pos  map[string]Pos // where each field path was found in the file
}

// Server is a backend node.
type Server struct {
	Name    string `yaml:"name" json:"name"`       // lowercase DNS label, unique in its list
	Address string `yaml:"address" json:"address"` // IPv4, IPv6 or DNS name
	// Weight is the server's share of new connections relative to the
	// others of its list, 0 to 256; nil is DefaultWeight (see
	// EffectiveWeight). Loading a state leaves a weight equal to the
	// default nil, so that a server at its defaults hashes the same whether
	// or not they are written, and as its name and address alone: an agent
	// renders the same bytes for the same state (the hash is in
	// haproxy.cfg's first line) whichever fields the file spells out.
	Weight *int `yaml:"weight" json:"weight,omitempty"`
	// Drain keeps the server configured and health-checked but sends it no
	// new connection; established ones stay.
	Drain bool `yaml:"drain" json:"drain,omitempty"`
}

// DefaultWeight is a server's weight when the state gives none.
const DefaultWeight = 1

// MaxWeight is the highest weight HAProxy takes.
const MaxWeight = 256

// Health checks of the API servers.
const (
	HealthCheckReadyz = "readyz" // GET /readyz over TLS, expect 200
	HealthCheckTCP    = "tcp"    // TCP connect only
)

// APIServer is the Kubernetes API frontend.
type APIServer struct {
	Port        int    `yaml:"port" json:"port"`
	BackendPort int    `yaml:"backendPort" json:"backendPort"`
	HealthCheck string `yaml:"healthCheck" json:"healthCheck"`
}

// Ingress is the pair of passthrough frontends in front of the ingress
// controller on the workers.
type Ingress struct {
	HTTP  Listener `yaml:"http" json:"http"`
	HTTPS Listener `yaml:"https" json:"https"`
	// ProxyProtocol sends a PROXY v2 header to the workers so the ingress
	// controller sees client addresses.
	ProxyProtocol bool `yaml:"proxyProtocol" json:"proxyProtocol"`
}

// Listener is a frontend port and the port it forwards to.
type Listener struct {
	Port        int `yaml:"port" json:"port"`
	BackendPort int `yaml:"backendPort" json:"backendPort"`
}

// Backend groups an extra port can forward to.
const (
	BackendsControlPlanes = "controlPlanes"
	BackendsWorkers       = "workers"
)

// ExtraPort is one more TCP passthrough, e.g. RKE2's supervisor on 9345.
type ExtraPort struct {
	Name        string `yaml:"name" json:"name"`
	Port        int    `yaml:"port" json:"port"`
	BackendPort int    `yaml:"backendPort" json:"backendPort"` // defaults to Port
	Backends    string `yaml:"backends" json:"backends"`       // controlPlanes (default) or workers
}

// Stats is HAProxy's stats page and Prometheus endpoint.
type Stats struct {
	Bind         string `yaml:"bind" json:"bind"` // host:port; a wildcard host needs auth
	User         string `yaml:"user" json:"user"`
	PasswordFile string `yaml:"passwordFile" json:"passwordFile"`
	// Password is read from PasswordFile by LoadSecrets; never serialized.
	Password string `yaml:"-" json:"-"`
}

// HAProxy holds tuning knobs.
type HAProxy struct {
	// MaxConn is the connection limit of all public frontends together;
	// the stats frontend has its own share on top.
	MaxConn int `yaml:"maxconn" json:"maxconn"`
	// Shares split MaxConn between the public frontends, so that no one
	// of them can starve another.
	Shares Shares `yaml:"shares" json:"shares"`
	// MaxConnPerSource bounds each client address's concurrent
	// connections to a public frontend; 0 is no bound.
	MaxConnPerSource int      `yaml:"maxConnPerSource" json:"maxConnPerSource"`
	HardStopAfter    Duration `yaml:"hardStopAfter" json:"hardStopAfter"`
	Timeouts         Timeouts `yaml:"timeouts" json:"timeouts"`
	Checks           Checks   `yaml:"checks" json:"checks"`
}

// Shares are percentages of HAProxy.MaxConn each public frontend may hold
// at once; together at most 100.
type Shares struct {
	APIServer  int `yaml:"apiServer" json:"apiServer"`
	HTTP       int `yaml:"http" json:"http"`
	HTTPS      int `yaml:"https" json:"https"`
	ExtraPorts int `yaml:"extraPorts" json:"extraPorts"` // all extra ports together, split evenly
}

// Timeouts are HAProxy's timeouts for the TCP frontends and backends.
type Timeouts struct {
	Connect   Duration `yaml:"connect" json:"connect"`
	Client    Duration `yaml:"client" json:"client"`
	Server    Duration `yaml:"server" json:"server"`
	Tunnel    Duration `yaml:"tunnel" json:"tunnel"`
	ClientFin Duration `yaml:"clientFin" json:"clientFin"`
	Check     Duration `yaml:"check" json:"check"`
	// FirstBytes is how long a TLS connection (API, ingress HTTPS) may
	// wait for its ClientHello, and an ingress HTTP connection for its
	// first bytes, before it is closed.
	FirstBytes Duration `yaml:"firstBytes" json:"firstBytes"`
}

// Checks tune health checking of every server.
type Checks struct {
	Interval Duration `yaml:"interval" json:"interval"`
	Fall     int      `yaml:"fall" json:"fall"`
	Rise     int      `yaml:"rise" json:"rise"`
}

// LoadBalancer is one HAProxy VM of the pair, preferred master first.
type LoadBalancer struct {
	Name     string `yaml:"name" json:"name"`
	Address  string `yaml:"address" json:"address"` // private IP: VRRP unicast source/peer
	ServerID int64  `yaml:"serverID" json:"serverID"`
}

// FloatingIP is the Hetzner Floating IP that follows the keepalived MASTER:
// the floatingIP shorthand for a floatingIPs list of one, which may also
// name the token file.
type FloatingIP struct {
	ID        int64  `yaml:"id" json:"id"`
	Address   string `yaml:"address" json:"address"`
	TokenFile string `yaml:"tokenFile" json:"tokenFile"`
	// Interface is where keepalived puts the address on the MASTER;
	// keepalived.interface when empty.
	Interface string `yaml:"interface" json:"interface,omitempty"`
	// Preferred names the load balancer that holds it in normal
	// operation; loadBalancers[0] when empty.
	Preferred string `yaml:"preferred" json:"preferred,omitempty"`
}

// FloatingIPEntry is one Hetzner Floating IP of floatingIPs, IPv4 or
// IPv6. The Floating IPs are grouped by Preferred into VRRP instances (see
// VRRPInstances): each group follows the MASTER of its own instance.
type FloatingIPEntry struct {
	ID int64 `yaml:"id" json:"id"`
	// Address is the address keepalived configures: the Floating IP
	// itself for IPv4, one address of its /64 for IPv6 (e.g.
	// 2001:db8:1::1).
	Address   string `yaml:"address" json:"address"`
	Interface string `yaml:"interface" json:"interface,omitempty"`
	Preferred string `yaml:"preferred" json:"preferred,omitempty"`
}

// PrivateVIP is an IPv4 address on the Hetzner private network that the
// MASTER of its VRRP instance holds: keepalived puts it on
// keepalived.interface, and notify points a route of the network for
// Address/32 to the MASTER's private address.
type PrivateVIP struct {
	Address string `yaml:"address" json:"address"`
	// Network is the Hetzner network, by name or ID.
	Network string `yaml:"network" json:"network"`
	// Preferred names the load balancer that holds it in normal
	// operation; loadBalancers[0] when empty.
	Preferred string `yaml:"preferred" json:"preferred,omitempty"`
}

// HCloud is the Hetzner Cloud API access shared by the failover, the
// healer and every other Hetzner call.
type HCloud struct {
	// TokenFile holds the API token (root-only). floatingIP.tokenFile is
	// the older place for it and is still read when this is empty.
	TokenFile string `yaml:"tokenFile" json:"tokenFile"`
}

// TokenFile is the Hetzner API token file every Hetzner call uses, and the
// field that names it: hcloud.tokenFile, else floatingIP.tokenFile; a
// relative path is resolved against the state file's directory. Both are
// empty when the state names none.
func (s *State) TokenFile() (path, field string) {
	switch {
	case s.HCloud != nil && s.HCloud.TokenFile != "":
		return s.Resolve(s.HCloud.TokenFile), "hcloud.tokenFile"
	case s.FloatingIP != nil && s.FloatingIP.TokenFile != "":
		return s.Resolve(s.FloatingIP.TokenFile), "floatingIP.tokenFile"
	}
	return "", ""
}

// Keepalived configures VRRP between the load balancers.
type Keepalived struct {
	Interface       string   `yaml:"interface" json:"interface"`
	VirtualRouterID int      `yaml:"virtualRouterID" json:"virtualRouterID"`
	AdvertInterval  Duration `yaml:"advertInterval" json:"advertInterval"`
}

// Duration is a time.Duration written like HAProxy's: 500ms, 5s, 15m, 1h, 1d.
type Duration time.Duration

// Pos is a place in the state file, 1-based.
type Pos struct{ Line, Col int }

// File is the name of the file the state came from, as used in messages.
func (s *State) File() string { return s.file }
