package serverplan_test

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hakgen/hakgen/haproxy/serverplan"
	"github.com/hakgen/hakgen/render"
	"github.com/hakgen/hakgen/state"
)

// cluster is a state to render: three control planes and three workers by
// default, each edited by a test case.
type cluster struct {
	cps, workers []state.Server
	edit         func(s *state.State)
}

func defaultCluster() cluster {
	return cluster{
		cps: []state.Server{{Name: "cp1", Address: "10.0.0.11"}, {Name: "cp2", Address: "10.0.0.12"}, {Name: "cp3", Address: "10.0.0.13"}},
		workers: []state.Server{{Name: "w1", Address: "10.0.0.21"}, {Name: "w2", Address: "10.0.0.22"},
			{Name: "w3", Address: "10.0.0.23"}},
	}
}

func (c cluster) render(t testing.TB) string {
	t.Helper()
	s, _, err := state.FromServers("test", c.cps, c.workers)
	if err != nil {
		t.Fatal(err)
	}
	if c.edit != nil {
		c.edit(s)
	}
	cfg, err := render.HAProxy(s)
	if err != nil {
		t.Fatal(err)
	}
	return string(cfg)
}

// withServer appends words to the server lines of name, in every backend:
// the form a server's weight takes in haproxy.cfg (see the package doc).
func withServer(cfg, name, words string) string {
	re := regexp.MustCompile(`(?m)^(    server ` + regexp.QuoteMeta(name) + ` .*)$`)
	return re.ReplaceAllString(cfg, "${1} "+words)
}

// replace replaces old (which must occur) with new in cfg.
func replace(t *testing.T, cfg, old, new string) string {
	t.Helper()
	if !strings.Contains(cfg, old) {
		t.Fatalf("the configuration has no %q", old)
	}
	return strings.ReplaceAll(cfg, old, new)
}

// withStatsUser adds a userlist, as the template renders one for stats
// with a user, holding hash.
func withStatsUser(t *testing.T, cfg, hash string) string {
	t.Helper()
	return replace(t, cfg, "# Stats page", "userlist stats-users\n    user admin password "+hash+"\n\n# Stats page")
}

func TestDecide(t *testing.T) {
	base := defaultCluster()
	baseCfg := base.render(t)
	added := defaultCluster()
	added.workers = append(added.workers, state.Server{Name: "w4", Address: "10.0.0.24"})
	addedCP := defaultCluster()
	addedCP.cps = append(addedCP.cps, state.Server{Name: "cp4", Address: "fd00::14"})
	removed := defaultCluster()
	removed.workers = removed.workers[:2]
	moved := defaultCluster()
	moved.workers[1].Address = "10.0.0.32"
	reordered := defaultCluster()
	reordered.workers[0], reordered.workers[2] = reordered.workers[2], reordered.workers[0]
	renamed := defaultCluster()
	renamed.cps[2].Name = "cp9"
	dns := defaultCluster()
	dns.workers = append(dns.workers, state.Server{Name: "w4", Address: "w4.example.com"})
	edited := func(edit func(s *state.State)) string { c := defaultCluster(); c.edit = edit; return c.render(t) }

	cases := []struct {
		name, old, new string
		kind           serverplan.Kind
		want           string // ServersOnly: Plan.String(); Reload: a part of the reason
	}{
		{"identical", baseCfg, baseCfg, serverplan.Same, ""},
		{"worker added", baseCfg, added.render(t), serverplan.ServersOnly, "ingress-http: +w4; ingress-https: +w4"},
		{"control plane added by IPv6", baseCfg, addedCP.render(t), serverplan.ServersOnly, "kube-api: +cp4"},
		{"worker removed", baseCfg, removed.render(t), serverplan.ServersOnly, "ingress-http: -w3; ingress-https: -w3"},
		{"worker re-addressed", baseCfg, moved.render(t), serverplan.ServersOnly,
			"ingress-http: w2 addr 10.0.0.22:80->10.0.0.32:80; ingress-https: w2 addr 10.0.0.22:443->10.0.0.32:443"},
		{"backend port changed", baseCfg, edited(func(s *state.State) { s.APIServer.BackendPort = 16443 }), serverplan.ServersOnly,
			"kube-api: cp1 addr 10.0.0.11:6443->10.0.0.11:16443 cp2 addr 10.0.0.12:6443->10.0.0.12:16443 cp3 addr 10.0.0.13:6443->10.0.0.13:16443"},
		{"control plane renamed", baseCfg, renamed.render(t), serverplan.ServersOnly, "kube-api: +cp9 -cp3"},
		{"weight set", baseCfg, withServer(baseCfg, "cp2", "weight 5"), serverplan.ServersOnly, "kube-api: cp2 weight 1->5"},
		{"weight 1 written out", baseCfg, withServer(baseCfg, "cp2", "weight 1"), serverplan.Same, ""},
		{"drain on", baseCfg, withServer(baseCfg, "w1", "weight 0"), serverplan.ServersOnly,
			"ingress-http: w1 weight 1->0; ingress-https: w1 weight 1->0"},
		{"drain off", withServer(baseCfg, "w1", "weight 0"), baseCfg, serverplan.ServersOnly,
			"ingress-http: w1 weight 0->1; ingress-https: w1 weight 0->1"},
		{"drained and re-addressed", withServer(baseCfg, "w2", "weight 0"), withServer(moved.render(t), "w2", "weight 0"), serverplan.ServersOnly,
			"ingress-http: w2 addr 10.0.0.22:80->10.0.0.32:80; ingress-https: w2 addr 10.0.0.22:443->10.0.0.32:443"},
		{"order change only", baseCfg, reordered.render(t), serverplan.Same, ""},
		{"comments and spacing only", baseCfg,
			replace(t, replace(t, baseCfg, "# Kubernetes API", "# The Kubernetes API"), "    balance leastconn\n", "\tbalance   leastconn\n\n"),
			serverplan.Same, ""},
		{"default-server changed", baseCfg, edited(func(s *state.State) { s.HAProxy.Checks.Interval = state.Duration(2 * time.Second) }),
			serverplan.Reload, `defaults section changed at line 47: "default-server inter 2s fastinter 1s downinter 2s fall 2 rise 2 slowstart 10s init-addr last,libc,none"`},
		{"timeout changed", baseCfg, edited(func(s *state.State) { s.HAProxy.Timeouts.Connect = state.Duration(3 * time.Second) }),
			serverplan.Reload, `defaults section changed at line 34: "timeout connect 3s" (was "timeout connect 5s")`},
		{"global changed", baseCfg, edited(func(s *state.State) { s.HAProxy.MaxConn = 1000 }),
			serverplan.Reload, "global section changed"},
		{"server keyword changed", baseCfg, edited(func(s *state.State) { s.Ingress.ProxyProtocol = true }),
			serverplan.Reload, "backend ingress-http: server w1 changes more than address and weight"},
		{"server keyword besides a weight", baseCfg, withServer(baseCfg, "cp2", "weight 5 maxconn 10"),
			serverplan.Reload, "backend kube-api: server cp2 changes more than address and weight"},
		{"new backend", baseCfg, edited(func(s *state.State) {
			s.ExtraPorts = []state.ExtraPort{{Name: "rke2", Port: 9345, BackendPort: 9345, Backends: state.BackendsControlPlanes}}
		}), serverplan.Reload, "frontend extra-rke2 added"},
		{"workers gone: ingress backends removed", baseCfg, (cluster{cps: base.cps}).render(t), serverplan.Reload, "frontend ingress-http removed"},
		{"frontend port changed", baseCfg, edited(func(s *state.State) { s.APIServer.Port = 7443 }),
			serverplan.Reload, `frontend kube-api changed at line 51: "bind :::7443 v4v6"`},
		{"worker added by DNS name", baseCfg, dns.render(t), serverplan.Reload, "resolvers system added"},
		{"unknown server keyword", baseCfg, withServer(baseCfg, "cp1", "cookie c1"),
			serverplan.Reload, `backend kube-api: line 67: server cp1: keyword "cookie" is not one the runtime path knows`},
		{"quoted word on a server line", baseCfg, withServer(baseCfg, "cp1", `sni "str(x)"`),
			serverplan.Reload, "is not a plain word"},
		{"server defined twice", baseCfg, replace(t, baseCfg, "    server cp3 10.0.0.13:6443", "    server cp2 10.0.0.13:6443"),
			serverplan.Reload, "server cp2 is defined twice"},
		{"inline comment on a server line", baseCfg, withServer(baseCfg, "cp1", "# first"),
			serverplan.Reload, `"#" is not a plain word`},
		{"stats password changed", withStatsUser(t, baseCfg, "$6$salt$old"), withStatsUser(t, baseCfg, "$6$salt$new"),
			serverplan.Reload, "userlist stats-users changed at line 113: (a line with a password, not shown) (was (a line with a password, not shown))"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := serverplan.Decide([]byte(c.old), []byte(c.new))
			if d.Kind != c.kind {
				t.Fatalf("kind %v (reason %q, plan %q), want %v", d.Kind, d.Reason, d.Plan, c.kind)
			}
			switch c.kind {
			case serverplan.ServersOnly:
				if got := d.Plan.String(); got != c.want {
					t.Errorf("plan %q, want %q", got, c.want)
				}
			case serverplan.Reload:
				if !strings.Contains(d.Reason, c.want) {
					t.Errorf("reason %q, want it to contain %q", d.Reason, c.want)
				}
				if strings.Contains(d.Reason, "$6$") {
					t.Errorf("reason %q shows a password hash", d.Reason)
				}
				if !d.Plan.Empty() {
					t.Errorf("a reload decision carries a plan: %s", d.Plan)
				}
			default:
				if !d.Plan.Empty() || d.Reason != "" {
					t.Errorf("same: plan %q reason %q, want neither", d.Plan, d.Reason)
				}
			}
		})
	}
}

// TestDecideCommands checks the exact commands of an added and a removed
// server: an added one spells out the default-server keywords (a dynamic
// server inherits none) and leaves out init-addr, which add server refuses.
func TestDecideCommands(t *testing.T) {
	base := defaultCluster()
	next := defaultCluster()
	next.cps = append(next.cps[1:], state.Server{Name: "cp4", Address: "10.0.0.14"})
	old := withServer(base.render(t), "cp2", "weight 3")
	d := serverplan.Decide([]byte(old), []byte(withServer(withServer(next.render(t), "cp2", "weight 0"), "cp4", "weight 2")))
	if d.Kind != serverplan.ServersOnly {
		t.Fatalf("decision %v: %s", d.Kind, d.Reason)
	}
	var got []string
	for _, c := range d.Plan.Commands() {
		got = append(got, c.String())
	}
	want := []string{
		"add server kube-api/cp4 10.0.0.14:6443 check on-marked-down shutdown-sessions verify none weight 2 inter 500ms fastinter 250ms downinter 500ms fall 2 rise 2 slowstart 10s",
		"enable health kube-api/cp4",
		"enable server kube-api/cp4",
		"set server kube-api/cp2 weight 0",
		"set server kube-api/cp1 state drain",
		"set server kube-api/cp1 state maint",
		"del server kube-api/cp1",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("commands:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	b := d.Plan.Backends[0]
	if len(b.Before) != 3 || len(b.After) != 3 || b.After[2].Name != "cp4" || b.After[2].Weight != 2 || !b.After[2].Check {
		t.Errorf("before %+v after %+v, want the three servers of each file", b.Before, b.After)
	}
}

// TestDecideBalance: a backend balanced by a static algorithm keeps its
// servers until a reload; one without balance takes roundrobin, dynamic.
func TestDecideBalance(t *testing.T) {
	cfg := func(balance, servers string) string {
		return fmt.Sprintf("defaults\n    mode tcp\n%sbackend be\n%s", balance, servers)
	}
	one := "    server a 10.0.0.1:80\n"
	two := one + "    server b 10.0.0.2:80\n"
	for _, c := range []struct {
		balance string
		kind    serverplan.Kind
	}{
		{"", serverplan.ServersOnly},
		{"    balance roundrobin\n", serverplan.ServersOnly},
		{"    balance static-rr\n", serverplan.Reload},
		{"    balance source\n", serverplan.Reload},
	} {
		d := serverplan.Decide([]byte(cfg(c.balance, one)), []byte(cfg(c.balance, two)))
		if d.Kind != c.kind {
			t.Errorf("defaults %q: %v (%s), want %v", c.balance, d.Kind, d.Reason, c.kind)
		}
	}
}

// TestDecideDefaultServerScope: a server takes the default-server lines of
// its defaults section and those above it in its backend, not those below.
func TestDecideDefaultServerScope(t *testing.T) {
	old := "defaults\n    default-server inter 5s\nbackend be\n    server a 10.0.0.1:80 check\n    default-server fall 2\n"
	next := old + "    server b 10.0.0.2:80 check\n"
	d := serverplan.Decide([]byte(old), []byte(next))
	if d.Kind != serverplan.ServersOnly {
		t.Fatalf("%v: %s", d.Kind, d.Reason)
	}
	if got := d.Plan.Commands()[0].String(); got != "add server be/b 10.0.0.2:80 check inter 5s fall 2" {
		t.Errorf("add: %q", got)
	}
	moved := "defaults\n    default-server inter 5s\nbackend be\n    default-server fall 2\n    server a 10.0.0.1:80 check\n"
	if d := serverplan.Decide([]byte(old), []byte(moved)); d.Kind != serverplan.Reload {
		t.Errorf("a server moved below a default-server line: %v, want a reload", d.Kind)
	}
	named := "defaults base\n    default-server inter 2s\ndefaults\n    default-server inter 9s\nbackend be from base\n    server a 10.0.0.1:80 check\n"
	d = serverplan.Decide([]byte(named), []byte(named+"    server b 10.0.0.2:80 check\n"))
	if d.Kind != serverplan.ServersOnly || d.Plan.Commands()[0].String() != "add server be/b 10.0.0.2:80 check inter 2s" {
		t.Errorf("backend from a named defaults section: %v %v", d.Kind, d.Plan.Commands())
	}
}
