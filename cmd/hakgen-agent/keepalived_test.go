package main

import (
	"strings"
	"testing"
)

const keepalivedState = `controlPlanes: [{name: cp1, address: 10.0.0.11}]
loadBalancers:
  - {name: lb1, address: 10.0.0.5}
  - {name: lb2, address: 10.0.0.6}
floatingIP: {id: 4711, address: 203.0.113.10}
keepalived: {interface: enp7s0}
`

func TestRenderKeepalived(t *testing.T) {
	path := writeState(t, keepalivedState)
	code, out, stderr := runCLI(t, "render", "--keepalived", "--node", "lb2", "--state", path, "--agent-path", "/usr/local/bin/hakgen-agent")
	if code != exitOK {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	for _, want := range []string{
		"priority 240", "unicast_src_ip 10.0.0.6", "        10.0.0.5\n",
		`notify "/usr/local/bin/hakgen-agent notify --node lb2 --require-vip --state ` + path + `"`,
		`script "/usr/local/bin/hakgen-agent check --url http://127.0.0.1:8404/healthz"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("keepalived.conf lacks %q:\n%s", want, out)
		}
	}
}

func TestRenderKeepalivedErrors(t *testing.T) {
	path := writeState(t, keepalivedState)
	incomplete := writeState(t, "controlPlanes: [{name: cp1, address: 10.0.0.11}]\n")
	for _, c := range []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"--keepalived", "--state", path}, exitInvalid, "none of this machine's addresses"},
		{[]string{"--keepalived", "--node", "lb3", "--state", path}, exitInvalid, `no load balancer is named "lb3"`},
		{[]string{"--keepalived", "--node", "lb1", "--state", incomplete}, exitInvalid, "floatingIP: missing"},
		{[]string{"--node", "lb3", "--state", path}, exitInvalid, `no load balancer is named "lb3"`},
		{[]string{"--keepalived", "--node", "lb1", "--diff", "--state", path}, exitUsage, "cannot be combined with --keepalived"},
	} {
		code, _, stderr := runCLI(t, append([]string{"render"}, c.args...)...)
		if code != c.code || !strings.Contains(stderr, c.stderr) {
			t.Errorf("render %v: exit %d, stderr:\n%s\nwant exit %d and %q", c.args, code, stderr, c.code, c.stderr)
		}
	}
}
