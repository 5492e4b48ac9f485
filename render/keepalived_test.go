package render_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hakgen/hakgen/internal/tooltest"
	"github.com/hakgen/hakgen/render"
	"github.com/hakgen/hakgen/state"
)

// keepalivedCase is one view of a golden state: the file rendered for one
// of its load balancers, testdata/keepalived/STATE.NODE.conf.golden.
type keepalivedCase struct {
	name   string // STATE.NODE
	yaml   string
	node   string
	golden string
}

// keepalivedCases lists every load balancer of every
// testdata/keepalived/*.yaml, so one state gives the view of each node.
func keepalivedCases(t *testing.T) []keepalivedCase {
	t.Helper()
	files, err := filepath.Glob("testdata/keepalived/*.yaml")
	failover, _ := filepath.Glob(filepath.Join(failoverStates, "*.yaml"))
	shared, _ := filepath.Glob(filepath.Join(sharedStates, "*.yaml"))
	files = append(append(files, failover...), shared...)
	if err != nil || len(files) < 4 || len(failover) < 3 {
		t.Fatalf("want at least 4 keepalived golden states, found %d (%v)", len(files), err)
	}
	var cases []keepalivedCase
	for _, f := range files {
		base := strings.TrimSuffix(f, ".yaml")
		if filepath.Dir(f) == sharedStates {
			base = filepath.Join("testdata", "keepalived", "shared-"+filepath.Base(base))
		}
		for _, lb := range loadCase(t, f).LoadBalancers {
			cases = append(cases, keepalivedCase{
				name: filepath.Base(base) + "." + lb.Name, yaml: f, node: lb.Name,
				golden: base + "." + lb.Name + ".conf.golden",
			})
		}
	}
	return cases
}

// TestKeepalivedGolden renders every node of every testdata state and
// compares the bytes with its golden file; `go test ./render -update`
// rewrites them.
func TestKeepalivedGolden(t *testing.T) {
	for _, c := range keepalivedCases(t) {
		t.Run(c.name, func(t *testing.T) {
			got, err := render.Keepalived(loadCase(t, c.yaml), render.KeepalivedOptions{Node: c.node})
			if err != nil {
				t.Fatal(err)
			}
			if *update {
				if err := os.WriteFile(c.golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(c.golden)
			if err != nil {
				t.Fatalf("%v (run: go test ./render -update)", err)
			}
			if string(got) != string(want) {
				t.Errorf("%s differs from the rendered output (review, then go test ./render -update):\n%s", c.golden, diff(string(want), string(got)))
			}
		})
	}
}

// TestKeepalivedGoldenPassesKeepalivedCheck runs Debian's keepalived -t on
// every golden view, in a network namespace of its own that has the
// configured interface (keepalived -t warns, exit 5, about a missing one).
// Its script checks need a root-owned executable at the script path, so the
// file checked is the golden rendered with a stand-in for hakgen-agent;
// nothing else differs. A clean file makes keepalived print nothing and
// exit 0; any warning fails the test.
func TestKeepalivedGoldenPassesKeepalivedCheck(t *testing.T) {
	tooltest.NeedRoot(t)
	bin := tooltest.Need(t, "keepalived")
	unshare := tooltest.Need(t, "unshare")
	ip := tooltest.Need(t, "ip")
	standIn := rootOwnedExecutable(t)
	for _, c := range keepalivedCases(t) {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s := loadCase(t, c.yaml)
			cfg, err := render.Keepalived(s, render.KeepalivedOptions{Node: c.node, Agent: standIn})
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), "keepalived.conf")
			if err := os.WriteFile(path, cfg, 0o644); err != nil {
				t.Fatal(err)
			}
			code, out := keepalivedCheck(t, unshare, ip, bin, s.Keepalived.Interface, path, floatingIface(s)...)
			if code != 0 || out != "" {
				t.Errorf("keepalived -t -f %s: exit %d (0 clean, 4 fatal, 5 warnings, 6 security), output:\n%s\nconfiguration:\n%s", c.golden, code, out, cfg)
			}
		})
	}
}

// keepalivedCheck runs `keepalived -t -f path` in a new network namespace
// holding a veth named iface (and one named extra, unless empty), and
// returns its exit code and output.
func keepalivedCheck(t *testing.T, unshare, ip, bin, iface, path string, extra ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	script := `ip="$1"; iface="$2"; bin="$3"; conf="$4"; shift 4
"$ip" link add "$iface" type veth peer name hakgen-peer || exit 100
for extra; do "$ip" link add "$extra" type veth peer name "$extra-peer" || exit 100; done
exec "$bin" -t -f "$conf"`
	args := append([]string{"--net", "--", "/bin/sh", "-c", script, "sh", ip, iface, bin, path}, extra...)
	cmd := exec.CommandContext(ctx, unshare, args...)
	out, err := cmd.CombinedOutput()
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		return 0, strings.TrimSpace(string(out))
	case ctx.Err() != nil:
		t.Fatalf("keepalived -t did not finish: %v\n%s", ctx.Err(), out)
	case errors.As(err, &exitErr) && exitErr.ExitCode() == 100:
		t.Fatalf("creating interface %s in a new network namespace: %s", iface, out)
	case errors.As(err, &exitErr) && exitErr.ExitCode() >= 0:
		return exitErr.ExitCode(), strings.TrimSpace(string(out))
	}
	t.Fatalf("running keepalived -t: %v\n%s", err, out)
	return 0, ""
}

// floatingIface lists the interfaces of the Floating IPs that the state
// names apart from keepalived's, each once.
func floatingIface(s *state.State) []string {
	var out []string
	for _, f := range s.FloatingIPList() {
		if f.Interface != "" && f.Interface != s.Keepalived.Interface && !slices.Contains(out, f.Interface) {
			out = append(out, f.Interface)
		}
	}
	return out
}

// rootOwnedExecutable returns an executable keepalived accepts as a
// script: owned by root, in directories only root can write to.
func rootOwnedExecutable(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("true")
	if err == nil {
		p, err = filepath.EvalSymlinks(p)
	}
	if err != nil {
		t.Fatalf("finding a root-owned stand-in for hakgen-agent: %v", err)
	}
	return p
}

func TestKeepalivedPassesStatePathToNotify(t *testing.T) {
	s, _, err := state.Parse(state.ExampleName, state.Example)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := render.Keepalived(s, render.KeepalivedOptions{Node: "lb2", StatePath: "/srv/hakgen/state.yaml", Agent: "/opt/hakgen/bin/hakgen-agent"})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`notify "/opt/hakgen/bin/hakgen-agent notify --node lb2 --require-vip --state /srv/hakgen/state.yaml"`,
		`notify_master_rx_lower_pri "/opt/hakgen/bin/hakgen-agent notify --reassert --node lb2 --require-vip --state /srv/hakgen/state.yaml MASTER"`,
		`script "/opt/hakgen/bin/hakgen-agent check --url http://10.0.0.6:8404/healthz --peer http://10.0.0.5:8404"`,
		"priority 240",
		`file "/run/hakgen/haproxy-down"`,
		"unicast_src_ip 10.0.0.6",
	} {
		if !strings.Contains(string(cfg), want) {
			t.Errorf("keepalived.conf lacks %q:\n%s", want, cfg)
		}
	}
}

// TestKeepalivedRefusesUnsafeWords: a path that could end the quoted
// script string or start a new directive never reaches the file.
func TestKeepalivedRefusesUnsafeWords(t *testing.T) {
	s, _, err := state.Parse(state.ExampleName, state.Example)
	if err != nil {
		t.Fatal(err)
	}
	for _, opts := range []render.KeepalivedOptions{
		{Node: "lb1", Agent: "/usr/bin/hakgen-agent\"\n}\nglobal_defs {"},
		{Node: "lb1", Agent: "/opt/my tools/hakgen-agent"},
		{Node: "lb1", StatePath: "/etc/hakgen/state.yaml # x"},
	} {
		cfg, err := render.Keepalived(s, opts)
		if err == nil || !strings.Contains(err.Error(), "not a single safe word") {
			t.Errorf("Keepalived(%+v) = %q, %v; want a refusal", opts, cfg, err)
		}
	}
}

func TestKeepalivedNeedsACompleteStateAndANode(t *testing.T) {
	s, _, err := state.Parse("state.yaml", []byte("controlPlanes: [{name: cp1, address: 10.0.0.11}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = render.Keepalived(s, render.KeepalivedOptions{Node: "lb1"})
	for _, field := range []string{"loadBalancers: missing", "floatingIP: missing", "keepalived: missing"} {
		if err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("incomplete state: error %v does not name %q", err, field)
		}
	}
	ex, _, err := state.Parse(state.ExampleName, state.Example)
	if err != nil {
		t.Fatal(err)
	}
	for node, want := range map[string]string{
		"":    "no node given",
		"lb9": `no load balancer is named "lb9" (expected one of lb1, lb2)`,
	} {
		if _, err := render.Keepalived(ex, render.KeepalivedOptions{Node: node}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("node %q: error %v, want %q", node, err, want)
		}
	}
}

// TestKeepalivedCheckSeesProblems shows that the check above can fail: an
// agent others may replace, and an interface the machine lacks, each make
// keepalived -t warn (exit 5), and keepalivedCheck reports it.
func TestKeepalivedCheckSeesProblems(t *testing.T) {
	tooltest.NeedRoot(t)
	bin := tooltest.Need(t, "keepalived")
	unshare := tooltest.Need(t, "unshare")
	ip := tooltest.Need(t, "ip")
	s := loadCase(t, filepath.Join(sharedStates, "quickstart.yaml"))

	open := filepath.Join(t.TempDir(), "open")
	if err := os.Mkdir(open, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o777); err != nil { // past the umask
		t.Fatal(err)
	}
	insecure := filepath.Join(open, "hakgen-agent")
	if err := os.WriteFile(insecure, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, agent, iface, want string
	}{
		{"agent in a directory anyone can write", insecure, s.Keepalived.Interface, "insecure"},
		{"interface missing", rootOwnedExecutable(t), "other0", "interface enp7s0 for vrrp_instance hakgen-prod doesn't exist"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := render.Keepalived(s, render.KeepalivedOptions{Node: "lb1", Agent: c.agent})
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), "keepalived.conf")
			if err := os.WriteFile(path, cfg, 0o644); err != nil {
				t.Fatal(err)
			}
			code, out := keepalivedCheck(t, unshare, ip, bin, c.iface, path, floatingIface(s)...)
			if code != 5 || !strings.Contains(out, c.want) {
				t.Errorf("keepalived -t: exit %d, output:\n%s\nwant exit 5 and %q", code, out, c.want)
			}
		})
	}
}

func TestKeepalivedFloatingIPInterface(t *testing.T) {
	yaml := strings.Replace(string(state.Example), "tokenFile: /etc/hakgen/hcloud-token}", "tokenFile: /etc/hakgen/hcloud-token, interface: eth0}", 1)
	s, _, err := state.Parse("state.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := render.Keepalived(s, render.KeepalivedOptions{Node: "lb1"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(cfg), "203.0.113.10/32 dev eth0\n") || !strings.Contains(string(cfg), "interface enp7s0\n") {
		t.Errorf("the Floating IP must go on eth0 while VRRP stays on enp7s0:\n%s", cfg)
	}
}

// TestKeepalivedIgnoresUnrelatedEdits: adding a worker changes haproxy.cfg,
// not keepalived.conf, so keepalived is not reloaded for it.
func TestKeepalivedIgnoresUnrelatedEdits(t *testing.T) {
	render1 := func(yaml string) string {
		s, _, err := state.Parse("state.yaml", []byte(yaml))
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := render.Keepalived(s, render.KeepalivedOptions{Node: "lb1"})
		if err != nil {
			t.Fatal(err)
		}
		return string(cfg)
	}
	before := render1(string(state.Example))
	after := render1(strings.Replace(string(state.Example), "workers:\n", "workers:\n  - {name: w9, address: 10.0.0.29}\n", 1))
	if before != after {
		t.Error("adding a worker changed keepalived.conf")
	}
	if render1(strings.Replace(string(state.Example), "virtualRouterID: 51", "virtualRouterID: 52", 1)) == before {
		t.Error("changing virtualRouterID left keepalived.conf as it was")
	}
}

// TestKeepalivedActiveActive: with a Floating IP preferring each node,
// each node renders both instances, with the top priority in its own and
// the next in the other's, both nopreempt, with their own router IDs.
func TestKeepalivedActiveActive(t *testing.T) {
	s := loadCase(t, filepath.Join(failoverStates, "active-active.yaml"))
	want := map[string]map[string]string{ // node -> instance -> priority
		"lb1": {"hakgen-prod": "250", "hakgen-prod-lb2": "240"},
		"lb2": {"hakgen-prod": "240", "hakgen-prod-lb2": "250"},
	}
	for node, prios := range want {
		cfg, err := render.Keepalived(s, render.KeepalivedOptions{Node: node})
		if err != nil {
			t.Fatal(err)
		}
		blocks := instanceBlocks(string(cfg))
		if len(blocks) != 2 {
			t.Fatalf("%s: %d vrrp_instance blocks, want 2:\n%s", node, len(blocks), cfg)
		}
		ids := map[string]bool{}
		for name, prio := range prios {
			b := blocks[name]
			for _, line := range []string{"priority " + prio, "nopreempt", "notify_master_rx_lower_pri", "INSTANCE " + name + " MASTER\""} {
				if !strings.Contains(b, line) {
					t.Errorf("%s: instance %s lacks %q:\n%s", node, name, line, b)
				}
			}
			id := regexp.MustCompile(`virtual_router_id (\d+)`).FindStringSubmatch(b)
			if id == nil || ids[id[1]] {
				t.Errorf("%s: instance %s has no router ID of its own: %v", node, name, id)
			} else {
				ids[id[1]] = true
			}
		}
		if !strings.Contains(blocks["hakgen-prod"], "203.0.113.10/32 dev eth0") || !strings.Contains(blocks["hakgen-prod-lb2"], "203.0.113.11/32 dev eth0") {
			t.Errorf("%s: each instance must hold its own Floating IP:\n%s", node, cfg)
		}
	}
}

// instanceBlocks splits keepalived.conf into its vrrp_instance blocks, by
// instance name.
func instanceBlocks(cfg string) map[string]string {
	out := map[string]string{}
	for _, m := range regexp.MustCompile(`(?ms)^vrrp_instance (\S+) \{\n(.*?)^\}`).FindAllStringSubmatch(cfg, -1) {
		out[m[1]] = m[2]
	}
	return out
}
