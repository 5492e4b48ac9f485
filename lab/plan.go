package lab

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/hakgen/hakgen/state"
)

// The lab's own addresses, for what the quick start leaves to Hetzner: the
// public network (documentation ranges, RFC 5737) and the client.
var (
	// Gateway is the internet's side of the load balancers' public
	// network; the fake Hetzner API and metadata service listen on it.
	Gateway = netip.MustParseAddr("198.51.100.1")
	// ClientAddr is the client's address, in the internet namespace.
	ClientAddr = netip.MustParseAddr("192.0.2.10")
)

// publicPrefixLen and privatePrefixLen are the lengths of the public
// network and of the private one (the quick start's 10.0.0.0/24 subnet).
const (
	publicPrefixLen  = 24
	privatePrefixLen = 24
)

// Plan is the lab's addressing: everything the quick start's state names
// (load balancers, servers, the Floating IP, interface names) comes from
// it, the rest from the variables above.
type Plan struct {
	FloatingIP    netip.Addr
	FloatingIPID  int64
	PublicIface   string // floatingIP.interface: where keepalived puts the Floating IP
	PrivateIface  string // keepalived.interface: VRRP
	APIPort       int
	HTTPPort      int
	HTTPSPort     int
	LBs           []LBPlan
	ControlPlanes []Server
	Workers       []Server
	// FloatingIPs are every Floating IP of the lab's state, FloatingIP
	// the first; PrivateVIP, when valid, is its private VIP in the
	// network PrivateVIPNetwork (see daytwo.go).
	FloatingIPs       []FloatingIPPlan
	PrivateVIP        netip.Addr
	PrivateVIPNetwork string
}

// LBPlan is one load balancer.
type LBPlan struct {
	Name     string
	Private  netip.Addr // loadBalancers[].address
	Public   netip.Addr // its public address, 198.51.100.2, .3, ...
	PublicV6 netip.Addr // its public IPv6 address, 2001:db8:ffff::2, ::3, ...
	ServerID int64
}

// Server is a control plane or worker of the state.
type Server struct {
	Name string
	Addr netip.Addr
}

// QuickStart is the README quick start's state.yaml.
const QuickStart = "testdata/quickstart.yaml"

// ReadQuickStart reads the quick start's state from the repository.
func ReadQuickStart() ([]byte, error) {
	root, err := repoRoot()
	if err != nil {
		return nil, err
	}
	return os.ReadFile(filepath.Join(root, QuickStart))
}

// NewPlan derives the lab's addressing from a state (the quick start's).
func NewPlan(stateYAML []byte) (*Plan, error) {
	s, _, err := state.Parse(QuickStart, stateYAML)
	if err != nil {
		return nil, err
	}
	if s.FloatingIP == nil || s.Keepalived == nil || len(s.LoadBalancers) != 2 {
		return nil, fmt.Errorf("%s: the lab needs floatingIP, keepalived and two loadBalancers", QuickStart)
	}
	p := &Plan{
		FloatingIPID: s.FloatingIP.ID,
		PublicIface:  s.FloatingIP.Interface,
		PrivateIface: s.Keepalived.Interface,
		APIPort:      s.APIServer.Port,
		HTTPPort:     s.Ingress.HTTP.Port,
		HTTPSPort:    s.Ingress.HTTPS.Port,
	}
	if p.FloatingIP, err = netip.ParseAddr(s.FloatingIP.Address); err != nil {
		return nil, fmt.Errorf("floatingIP.address: %w", err)
	}
	if p.PublicIface == "" {
		return nil, fmt.Errorf("%s: the lab needs floatingIP.interface (the public interface)", QuickStart)
	}
	for i, lb := range s.LoadBalancers {
		addr, err := netip.ParseAddr(lb.Address)
		if err != nil {
			return nil, fmt.Errorf("loadBalancers[%d].address: %w", i, err)
		}
		p.LBs = append(p.LBs, LBPlan{Name: lb.Name, Private: addr, Public: publicAddr(i), PublicV6: publicV6(i), ServerID: lb.ServerID})
	}
	if p.ControlPlanes, err = servers(s.ControlPlanes); err != nil {
		return nil, err
	}
	if p.Workers, err = servers(s.Workers); err != nil {
		return nil, err
	}
	return p, nil
}

// publicAddr is the public address of the i-th load balancer.
func publicAddr(i int) netip.Addr {
	a := Gateway.As4()
	a[3] += byte(i + 1)
	return netip.AddrFrom4(a)
}

func servers(list []state.Server) ([]Server, error) {
	var out []Server
	for _, s := range list {
		addr, err := netip.ParseAddr(s.Address)
		if err != nil {
			return nil, fmt.Errorf("server %s: the lab needs IP addresses: %w", s.Name, err)
		}
		out = append(out, Server{Name: s.Name, Addr: addr})
	}
	return out, nil
}

// LB returns the plan of the load balancer named name.
func (p *Plan) LB(name string) (LBPlan, bool) {
	for _, lb := range p.LBs {
		if lb.Name == name {
			return lb, true
		}
	}
	return LBPlan{}, false
}

// repoRoot finds the module's root directory above the working directory.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if data, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && strings.HasPrefix(string(data), "module github.com/hakgen/hakgen\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no hakgen go.mod above the working directory")
		}
		dir = parent
	}
}
