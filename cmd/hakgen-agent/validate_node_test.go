package main

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hakgen/hakgen/hetzner/hetznertest"
	"github.com/hakgen/hakgen/internal/tooltest"
)

// validateNode is a load balancer for validate: a network namespace with
// lb1's private address on enp7s0 (eth0, the Floating IP's interface, only
// when withEth0), the built binary, and the quick start's state with its
// token file in a temporary directory.
type validateNode struct {
	ns                     *testNetns
	bin, dir, state, token string
	unshare                string
}

func newValidateNode(t *testing.T, withEth0 bool) *validateNode {
	t.Helper()
	tooltest.NeedRoot(t)
	tooltest.Need(t, "haproxy")
	tooltest.Need(t, "keepalived")
	ip := tooltest.Need(t, "ip")
	v := &validateNode{ns: newTestNetns(t), bin: buildNotifyAgent(t), dir: t.TempDir(), unshare: tooltest.Need(t, "unshare")}
	links := []struct{ name, addr string }{{"enp7s0", "10.0.0.5/24"}}
	if withEth0 {
		links = append(links, struct{ name, addr string }{"eth0", "192.0.2.5/24"})
	}
	v.ns.run(t, ip, "link", "set", "lo", "up")
	for _, l := range links {
		v.ns.run(t, ip, "link", "add", l.name, "type", "veth", "peer", "name", l.name+"-p")
		v.ns.run(t, ip, "addr", "add", l.addr, "dev", l.name)
		v.ns.run(t, ip, "link", "set", l.name, "up")
	}
	v.token = filepath.Join(v.dir, "hcloud-token")
	v.state = filepath.Join(v.dir, "state.yaml")
	v.write(t, quickStartState(t))
	return v
}

// write writes the state, with its tokenFile pointing into the directory.
func (v *validateNode) write(t *testing.T, yaml string) {
	t.Helper()
	writeNotifyFile(t, v.state, strings.Replace(yaml, "/etc/hakgen/hcloud-token", v.token, 1), 0o644)
}

// validate runs `validate ARGS` in the node's namespaces, with a hard
// file-descriptor limit of fdLimit, in a mount namespace whose /run has no
// systemd (so the limit is this process's). It returns exit code and output.
func (v *validateNode) validate(t *testing.T, fdLimit string, args ...string) (int, string) {
	t.Helper()
	return v.agent(t, fdLimit, append([]string{"validate", "--state", v.state, "--agent-path", v.bin}, args...)...)
}

// agent runs hakgen-agent with args in the node's namespaces, as validate
// does.
func (v *validateNode) agent(t *testing.T, fdLimit string, args ...string) (int, string) {
	t.Helper()
	script := `mount -t tmpfs tmpfs /run && ulimit -Sn 1024 && ulimit -Hn "$1" && shift && exec "$@"`
	argv := append([]string{"--mount", "--propagation", "private", "--", "/bin/bash", "-c", script, "sh", fdLimit, v.bin}, args...)
	cmd := exec.Command(v.unshare, argv...)
	var out []byte
	var err error
	v.ns.do(func() { out, err = cmd.CombinedOutput() })
	var exit *exec.ExitError
	if err != nil && !asExitErr(err, &exit) {
		t.Fatalf("running validate: %v\n%s", err, out)
	}
	return cmd.ProcessState.ExitCode(), string(out)
}

// TestValidateChecksTheNode: on lb1, validate finds the node by address,
// checks keepalived.conf with keepalived -t and reports what the machine
// lacks, each at its field in the file: the Floating IP's interface, the
// token file, a maxconn the file-descriptor limit cannot carry.
func TestValidateChecksTheNode(t *testing.T) {
	v := newValidateNode(t, false)
	code, out := v.validate(t, "20000")
	for _, want := range []string{
		v.state + ":" + place(t, v.state, "interface: eth0") + `: floatingIP.interface: interface "eth0" does not exist on this node (it has "enp7s0", "enp7s0-p", "lo")`,
		"keepalived: renders a keepalived.conf for lb1 that /usr/sbin/keepalived refuses (exit 5)",
		"floatingIP.tokenFile: token file " + v.token + " does not exist",
		"maxconn 50100 (haproxy.maxconn 50000 + 100 for stats) needs about 100309 file descriptors, but the hard limit of this shell (ulimit -Hn; no systemd) allows only 20000: HAProxy would not start (lower haproxy.maxconn to at most 9845, or raise that limit)",
	} {
		if code != exitInvalid || !strings.Contains(out, want) {
			t.Errorf("exit %d, output:\n%s\nwant exit 1 and %q", code, out, want)
		}
	}

	v = newValidateNode(t, true)
	writeNotifyFile(t, v.token, "t0ken\n", 0o600)
	v.write(t, quickStartState(t)+"haproxy: {maxconn: 2000}\n")
	code, out = v.validate(t, "20000")
	for _, want := range []string{"is valid (on lb1)", "keepalived.conf passes /usr/sbin/keepalived -t", `ok: interface "enp7s0" holds 10.0.0.5`, "token file " + v.token + " is readable and private", "allows 20000"} {
		if code != exitOK || !strings.Contains(out, want) {
			t.Errorf("a ready node: exit %d, output:\n%s\nwant %q", code, out, want)
		}
	}

	writeNotifyFile(t, v.token, "t0ken\n", 0o644)
	if code, out := v.validate(t, "20000"); code != exitInvalid || !strings.Contains(out, "has mode 0644: group or others can access it") {
		t.Errorf("a token others can read: exit %d\n%s", code, out)
	}
}

// TestValidateOffline checks a state on a machine that is no load
// balancer: missing secret files are warnings, nothing of the node is
// looked at, and the verdict says so.
func TestValidateOffline(t *testing.T) {
	bin := tooltest.Need(t, "haproxy")
	dir := t.TempDir()
	path := filepath.Join(dir, "state.yaml")
	writeNotifyFile(t, path, strings.Replace(quickStartState(t), "/etc/hakgen/hcloud-token", filepath.Join(dir, "missing-token"), 1), 0o644)
	code, out, stderr := runCLI(t, "validate", "--offline", "--state", path, "--haproxy-bin", bin)
	if code != exitOK || !strings.Contains(out, "is valid (offline)") || !strings.Contains(stderr, "warning: "+path+":"+place(t, path, "tokenFile: ")+": floatingIP.tokenFile: ") || !strings.Contains(stderr, "missing-token does not exist here") {
		t.Errorf("exit %d\nstdout: %s\nstderr: %s", code, out, stderr)
	}
	if code, _, stderr := runCLI(t, "validate", "--state", path, "--haproxy-bin", bin); code != exitInvalid || !strings.Contains(stderr, "check the state with --offline") {
		t.Errorf("on a machine that is no load balancer: exit %d, %s", code, stderr)
	}
}

// place is LINE:COL of the value after key in the file at path, as the
// state's problems give it.
func place(t *testing.T, path, key string) string {
	t.Helper()
	for i, line := range strings.Split(string(mustRead(t, path)), "\n") {
		if col := strings.Index(line, key); col >= 0 {
			return fmt.Sprintf("%d:%d", i+1, col+len(key)-len(strings.TrimLeft(key[strings.LastIndex(key, ":")+1:], " "))+1)
		}
	}
	t.Fatalf("%s has no %q", path, key)
	return ""
}

func asExitErr(err error, target **exec.ExitError) bool {
	e, ok := err.(*exec.ExitError)
	*target = e
	return ok
}

// TestValidateChecksThePrivateVIPAgainstItsNetwork: on lb1, validate reads
// the private VIP's network from the (fake) API: an address inside its
// range and outside its subnets passes, one in a subnet or of a network
// that does not exist is refused at its field; offline it is a warning.
func TestValidateChecksThePrivateVIPAgainstItsNetwork(t *testing.T) {
	v := newValidateNode(t, true)
	var fake *hetznertest.Fake
	v.ns.do(func() { fake = hetznertest.New(t) })
	fake.RequireToken(notifyToken)
	fake.AddQuickStartNetwork()
	t.Setenv("HCLOUD_ENDPOINT", fake.APIEndpoint())
	writeNotifyFile(t, v.token, notifyToken+"\n", 0o600)
	withVIP := func(vip, network string) string {
		return quickStartState(t) + "haproxy: {maxconn: 2000}\nprivateVIP: {address: " + vip + ", network: " + network + "}\n"
	}
	v.write(t, withVIP("10.0.255.1", "k8s"))
	code, out := v.validate(t, "20000")
	if code != exitOK || !strings.Contains(out, "ok: 10.0.255.1 is inside network k8s's range 10.0.0.0/16 and outside its subnets (10.0.0.0/24)") {
		t.Errorf("a good VIP: exit %d, output:\n%s", code, out)
	}
	if n := fake.Count(hetznertest.ListNetworks); n != 1 {
		t.Errorf("%d requests for the network, want 1", n)
	}
	for _, c := range []struct{ vip, network, want string }{
		{"10.0.0.200", "k8s", "privateVIP.address: 10.0.0.200 is inside subnet 10.0.0.0/24 of network k8s"},
		{"10.0.255.1", "k9s", "privateVIP.network: cannot read network k9s from the Hetzner API: looking up network k9s: network not found: k9s"},
	} {
		v.write(t, withVIP(c.vip, c.network))
		if code, out := v.validate(t, "20000"); code != exitInvalid || !strings.Contains(out, c.want) {
			t.Errorf("VIP %s in %s: exit %d, output:\n%s\nwant %q", c.vip, c.network, code, out, c.want)
		}
	}
	v.write(t, withVIP("10.0.255.1", "k8s"))
	requests := len(fake.Requests())
	code, stdout, stderr := runCLI(t, "validate", "--offline", "--state", v.state)
	if code != exitOK || !strings.Contains(stderr, "privateVIP.network: network k8s is not read offline") {
		t.Errorf("offline: exit %d\n%s%s", code, stdout, stderr)
	}
	if got := len(fake.Requests()); got != requests {
		t.Errorf("offline, validate made %d requests", got-requests)
	}
}
