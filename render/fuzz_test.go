package render_test

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hakgen/hakgen/haproxy"
	"github.com/hakgen/hakgen/internal/tooltest"
	"github.com/hakgen/hakgen/render"
	"github.com/hakgen/hakgen/state"
)

// fuzzSeeds are hostile inputs added to the golden states.
var fuzzSeeds = []string{
	"controlPlanes:\n  - {name: \"cp1\\n    server evil 192.0.2.66:6443\", address: 10.0.0.11}\n",
	"controlPlanes:\n  - {name: cp1, address: \"10.0.0.11:6443 backup\"}\n",
	"controlPlanes:\n  - {name: cp1, address: \"10.0.0.11\\n    bind :::22\"}\n",
	"controlPlanes:\n  - {name: cp1, address: 10.0.0.11}\nstats: {bind: \"10.0.0.5:8404 # x\"}\n",
	"controlPlanes:\n  - {name: cp1, address: 10.0.0.11}\nstats: {bind: \"*:8404\", user: \"a\\nb\", passwordFile: x}\n",
	"controlPlanes: &a [{name: cp1, address: 10.0.0.11}]\nworkers: *a\n",
	"controlPlanes:\n  - {name: cp1, address: fd00::1}\nextraPorts:\n  - {name: x, port: 1, backendPort: 65535}\n",
	"controlPlanes:\n  - {name: cp1, address: 10.0.0.11}\nhaproxy: {timeouts: {tunnel: 24d}, hardStopAfter: 1s}\n",
	"{}", "", "- a", "controlPlanes: [[]]", "\xff\xfe",
	// Addresses that are no single host, or the same host twice.
	"controlPlanes:\n  - {name: cp1, address: 0.0.0.0}\n",
	"controlPlanes:\n  - {name: cp1, address: \"::\"}\n",
	"controlPlanes:\n  - {name: cp1, address: \"::ffff:0.0.0.0\"}\n",
	"controlPlanes:\n  - {name: cp1, address: 224.0.0.1}\n",
	"controlPlanes:\n  - {name: cp1, address: \"ff02::1\"}\n",
	"controlPlanes:\n  - {name: cp1, address: 255.255.255.255}\n",
	"controlPlanes:\n  - {name: cp1, address: \"fd00::11\"}\n  - {name: cp2, address: \"fd00:0:0::11\"}\n",
	"controlPlanes:\n  - {name: cp1, address: 10.0.0.11}\nworkers:\n  - {name: w1, address: 10.0.0.21}\n  - {name: w2, address: \"::ffff:10.0.0.21\"}\n",
	"controlPlanes:\n  - {name: cp1, address: a.example.com}\n  - {name: cp2, address: A.example.com.}\n",
	"controlPlanes:\n  - {name: cp1, address: 10.0.0.11}\nloadBalancers:\n  - {name: lb1, address: 0.0.0.0}\n  - {name: lb2, address: 224.0.0.18}\nfloatingIP: {id: 1, address: 255.255.255.255}\n",
}

// FuzzRender checks parse -> validate -> render on any input: it never
// panics; rejected input gets errors that each name the file; accepted
// input renders exactly the expected proxies and servers (so no value can
// smuggle in a directive), and HAProxy's own check accepts the result.
func FuzzRender(f *testing.F) {
	cases, _ := filepath.Glob("testdata/haproxy/*.yaml")
	for _, c := range cases {
		data, err := os.ReadFile(c)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	bin := tooltest.Need(f, "haproxy")
	f.Fuzz(func(t *testing.T, data []byte) {
		s, _, err := state.Parse("state.yaml", data)
		if err != nil {
			for _, line := range strings.Split(err.Error(), "\n") {
				if !strings.HasPrefix(line, "state.yaml") {
					t.Fatalf("error line does not name the file: %q", line)
				}
			}
			return
		}
		checkHosts(t, s)
		if s.Stats.User != "" {
			s.Stats.Password = "fuzz"
		}
		cfg, err := render.HAProxy(s)
		if err != nil {
			t.Fatalf("a valid state failed to render: %v", err)
		}
		checkShape(t, s, string(cfg))
		if !usesDNSNames(s) { // checking DNS names would send lookups to the network
			checkWithHAProxy(t, bin, cfg)
		}
	})
}

// checkShape counts frontends and server lines: exactly what the state asks
// for, nothing more.
func checkShape(t *testing.T, s *state.State, cfg string) {
	t.Helper()
	frontends, servers := 2, len(s.ControlPlanes) // kube-api and stats
	if len(s.Workers) > 0 {
		frontends, servers = frontends+2, servers+2*len(s.Workers)
	}
	for _, x := range s.ExtraPorts {
		frontends++
		servers += map[string]int{state.BackendsControlPlanes: len(s.ControlPlanes), state.BackendsWorkers: len(s.Workers)}[x.Backends]
	}
	if got := strings.Count(cfg, "\nfrontend "); got != frontends {
		t.Errorf("%d frontends, want %d", got, frontends)
	}
	if got := strings.Count(cfg, "\n    server "); got != servers {
		t.Errorf("%d server lines, want %d", got, servers)
	}
	if got := strings.Count(cfg, "\n    bind "); got != frontends {
		t.Errorf("%d bind lines, want %d", got, frontends)
	}
}

// checkHosts holds every accepted state to the address rules, computed
// here on their own: no list has two servers at the same host (compared
// in canonical form), and no server, load balancer, Floating IP or private VIP is at an
// unspecified, multicast or broadcast address.
func checkHosts(t *testing.T, s *state.State) {
	t.Helper()
	for name, list := range map[string][]state.Server{"controlPlanes": s.ControlPlanes, "workers": s.Workers} {
		seen := map[string]bool{}
		for _, srv := range list {
			key := strings.ToLower(strings.TrimSuffix(srv.Address, "."))
			if a, err := netip.ParseAddr(srv.Address); err == nil {
				key = a.Unmap().String()
				checkHost(t, name, srv.Address)
			}
			if seen[key] {
				t.Errorf("%s has two servers at %s", name, key)
			}
			seen[key] = true
		}
	}
	for _, lb := range s.LoadBalancers {
		checkHost(t, "loadBalancers", lb.Address)
	}
	for _, f := range s.FloatingIPList() {
		checkHost(t, "floatingIPs", f.Address)
	}
	if p := s.PrivateVIP; p != nil {
		checkHost(t, "privateVIP", p.Address)
	}
}

func checkHost(t *testing.T, field, addr string) {
	t.Helper()
	a, err := netip.ParseAddr(addr)
	if err != nil {
		t.Errorf("%s: %q accepted as an IP address: %v", field, addr, err)
		return
	}
	if a = a.Unmap(); a.IsUnspecified() || a.IsMulticast() || a == netip.MustParseAddr("255.255.255.255") {
		t.Errorf("%s: %s accepted, which is no single host", field, addr)
	}
}

func usesDNSNames(s *state.State) bool {
	for _, srv := range append(append([]state.Server{}, s.ControlPlanes...), s.Workers...) {
		if _, err := netip.ParseAddr(srv.Address); err != nil {
			return true
		}
	}
	return false
}

func checkWithHAProxy(t *testing.T, bin string, cfg []byte) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "rendered.cfg")
	if err := os.WriteFile(path, cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	// A directory of its own: the fuzz test's has a '#' in its name,
	// which would start a comment in haproxy.cfg.
	copyDir, err := os.MkdirTemp("", "hakgen-fuzz-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(copyDir) })
	path = withServerState(t, path, copyDir)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	warnings, err := haproxy.Checker{Bin: bin}.Check(ctx, path)
	if err != nil {
		t.Fatalf("haproxy -c refused a rendered valid state: %v\n%s", err, cfg)
	}
	if strings.TrimSpace(warnings) != "" {
		t.Fatalf("haproxy -c warns about a rendered valid state:\n%s\n%s", warnings, cfg)
	}
}
