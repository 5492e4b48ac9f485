package preflight

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"slices"

	"github.com/hakgen/hakgen/internal/secretfile"
	"github.com/hakgen/hakgen/state"
)

// Interface is one of this machine's network interfaces, as the checks see
// it: its name and addresses.
type Interface struct {
	Name  string
	Addrs []netip.Addr
}

// LocalInterfaces lists this machine's interfaces with their addresses.
func LocalInterfaces() ([]Interface, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("listing this machine's interfaces: %w", err)
	}
	out := make([]Interface, 0, len(ifs))
	for _, ifc := range ifs {
		i := Interface{Name: ifc.Name}
		addrs, err := ifc.Addrs()
		if err != nil {
			return nil, fmt.Errorf("listing the addresses of %s: %w", ifc.Name, err)
		}
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok {
				if ip, ok := netip.AddrFromSlice(n.IP); ok {
					i.Addrs = append(i.Addrs, ip.Unmap())
				}
			}
		}
		out = append(out, i)
	}
	return out, nil
}

// Interfaces checks that the interfaces the state names for node exist on
// this machine: keepalived.interface, holding the node's own address
// (VRRP's unicast source), and each Floating IP's interface.
func Interfaces(s *state.State, node string, have []Interface) []Result {
	k := s.Keepalived
	if k == nil {
		return nil
	}
	byName := map[string]Interface{}
	var names []string
	for _, i := range have {
		byName[i.Name] = i
		names = append(names, i.Name)
	}
	slices.Sort(names)
	var results []Result
	vrrp, ok := byName[k.Interface]
	if !ok {
		results = append(results, fail("interface "+k.Interface, "keepalived.interface",
			"name the interface of the private network, see `ip -br addr`",
			"interface %q does not exist on this node (it has %s)", k.Interface, quoteList(names)))
	} else {
		results = append(results, ownAddress(s, node, vrrp))
	}
	seen := map[string]bool{k.Interface: true}
	for i, f := range s.FloatingIPList() {
		if f.Interface == "" || seen[f.Interface] {
			continue
		}
		seen[f.Interface] = true
		field := s.FloatingIPPath(i) + ".interface"
		if _, ok := byName[f.Interface]; !ok {
			results = append(results, fail("interface "+f.Interface, field,
				"name the public interface, usually eth0, see `ip -br addr`",
				"interface %q does not exist on this node (it has %s)", f.Interface, quoteList(names)))
		} else {
			results = append(results, pass("interface "+f.Interface, field, "interface %q exists", f.Interface))
		}
	}
	return results
}

// ownAddress checks that node's loadBalancers address is on the VRRP
// interface: keepalived sends its adverts from it.
func ownAddress(s *state.State, node string, vrrp Interface) Result {
	check := "interface " + vrrp.Name
	for i, lb := range s.LoadBalancers {
		if lb.Name != node {
			continue
		}
		field := fmt.Sprintf("loadBalancers[%d].address", i)
		want, err := netip.ParseAddr(lb.Address)
		if err == nil && slices.Contains(vrrp.Addrs, want.Unmap()) {
			return pass(check, field, "interface %q holds %s", vrrp.Name, lb.Address)
		}
		return fail(check, field, "put the node's private address on keepalived.interface, or fix loadBalancers[].address",
			"%s is not an address of interface %q (it has %s)", lb.Address, vrrp.Name, addrList(vrrp.Addrs))
	}
	return pass(check, "keepalived.interface", "interface %q exists", vrrp.Name)
}

func addrList(addrs []netip.Addr) string {
	if len(addrs) == 0 {
		return "no address"
	}
	s := make([]string, len(addrs))
	for i, a := range addrs {
		s[i] = a.String()
	}
	return fmt.Sprint(s)
}

// SecretFile checks a secret file the state names (field), resolved
// against the state file's directory: it exists, can be read, and nobody
// but its owner (root) can read or replace it. offline turns a missing
// file into a warning: the file belongs to the node, not to the laptop
// that checks the state before deploying it.
func SecretFile(field, path, what string, offline bool) Result {
	check := what + " " + path
	_, err := secretfile.Read(path, what, true)
	switch {
	case err == nil:
		return pass(check, field, "%s %s is readable and private", what, path)
	case errors.Is(err, fs.ErrNotExist) && offline:
		return warn(check, field, "create it on each load balancer with `install -m 600 -o root -g root /dev/null "+path+"`",
			"%s %s does not exist here", what, path)
	case errors.Is(err, fs.ErrNotExist):
		return fail(check, field, "create it with `install -m 600 -o root -g root /dev/null "+path+"` and write the secret into it",
			"%s %s does not exist", what, path)
	}
	return fail(check, field, "", "%v", err)
}

// SecretFiles checks every secret file the state names: the stats
// password and the Hetzner API token.
func SecretFiles(s *state.State, offline bool) []Result {
	var results []Result
	if p := s.Stats.PasswordFile; p != "" {
		results = append(results, SecretFile("stats.passwordFile", s.Resolve(p), "password file", offline))
	}
	if s.HasFailoverAddress() || s.HCloud != nil {
		if path, field := s.TokenFile(); path == "" {
			results = append(results, warn("token file", "hcloud.tokenFile", "set hcloud.tokenFile to a root-only file: keepalived runs notify outside the agent's unit, so a credential of the unit does not reach it",
				"no tokenFile: notify and the healer read $CREDENTIALS_DIRECTORY/hcloud-token or $HCLOUD_TOKEN"))
		} else {
			results = append(results, SecretFile(field, path, "token file", offline))
		}
	}
	return results
}

// fdPerConn is how many file descriptors HAProxy needs per connection: one
// for the client, one for the server.
const fdPerConn = 2

// fdReserve covers HAProxy's other descriptors: listeners, health checks,
// the CLI and log sockets, pipes.
const fdReserve = 100

// FDNeed is about how many file descriptors HAProxy needs for the state:
// two per connection of the global maxconn, and a reserve for one check
// connection per server and HAProxy's own sockets.
func FDNeed(s *state.State) uint64 {
	servers := len(s.ControlPlanes)*(1+len(s.ExtraPorts)) + 2*len(s.Workers)
	return uint64(fdPerConn*GlobalMaxConn(s) + servers + fdReserve)
}

// GlobalMaxConn is the global maxconn haproxy.cfg is rendered with.
func GlobalMaxConn(s *state.State) int { return s.HAProxy.MaxConn + StatsMaxConn }

// StatsMaxConn is the stats frontend's share on top of haproxy.maxconn; it
// must equal render's.
const StatsMaxConn = 100

// FDLimit is the file-descriptor limit HAProxy gets on this node, and
// where it was read, e.g. "LimitNOFILE of haproxy.service".
type FDLimit struct {
	Hard   uint64
	Source string
}

// MaxConnFits checks that haproxy.maxconn fits the file-descriptor limit:
// HAProxy refuses to start when it cannot raise its limit to what its
// maxconn needs.
func MaxConnFits(s *state.State, limit FDLimit) Result {
	need := FDNeed(s)
	check := "file descriptors"
	if limit.Hard >= need {
		return pass(check, "haproxy.maxconn", "maxconn %d needs about %d file descriptors; %s allows %d", GlobalMaxConn(s), need, limit.Source, limit.Hard)
	}
	others := need - uint64(fdPerConn*GlobalMaxConn(s))
	fits := 1
	if limit.Hard > others {
		fits = max(int((limit.Hard-others)/fdPerConn)-StatsMaxConn, 1)
	}
	return fail(check, "haproxy.maxconn", fmt.Sprintf("lower haproxy.maxconn to at most %d, or raise that limit", fits),
		"maxconn %d (haproxy.maxconn %d + %d for stats) needs about %d file descriptors, but %s allows only %d: HAProxy would not start",
		GlobalMaxConn(s), s.HAProxy.MaxConn, StatsMaxConn, need, limit.Source, limit.Hard)
}
