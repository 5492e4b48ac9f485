package main

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hakgen/hakgen/hetzner/hetznertest"
	"github.com/hakgen/hakgen/internal/tooltest"
)

// quickStartFloatingIPLine is the quick start's floatingIP line, which the
// README's day-two states replace (or, for the private VIP, follow).
const quickStartFloatingIPLine = "floatingIP: {id: 4711, address: 203.0.113.10, tokenFile: /etc/hakgen/hcloud-token, interface: eth0}\n"

// dayTwoStates are the README's day-two fragments applied to the quick
// start's state, as an operator edits it, by block name.
func dayTwoStates(t *testing.T) map[string]string {
	t.Helper()
	text, quick := readme(t), quickStartState(t)
	if !strings.Contains(quick, quickStartFloatingIPLine) {
		t.Fatalf("the quick start's state has no line %q", quickStartFloatingIPLine)
	}
	out := map[string]string{}
	for _, name := range []string{"dualstack-state", "activeactive-state"} {
		out[name] = strings.Replace(quick, quickStartFloatingIPLine, between(t, text, name), 1)
	}
	out["privatevip-state"] = strings.Replace(quick, quickStartFloatingIPLine, quickStartFloatingIPLine+between(t, text, "privatevip-state"), 1)
	return out
}

// TestREADMEDayTwoStates: each of the README's day-two states validates
// offline and renders keepalived.conf for both nodes through the binary,
// with what the README says of it.
func TestREADMEDayTwoStates(t *testing.T) {
	bin := tooltest.Need(t, "haproxy")
	want := map[string][]string{
		"dualstack-state":    {"vrrp_instance hakgen-prod {", "203.0.113.10/32 dev eth0", "virtual_ipaddress_excluded {", "2001:db8:1::1/64 dev eth0 preferred_lft 0"},
		"activeactive-state": {"vrrp_instance hakgen-prod {", "vrrp_instance hakgen-prod-lb2 {", "virtual_router_id 52", "203.0.113.11/32 dev eth0"},
		"privatevip-state":   {"203.0.113.10/32 dev eth0", "10.0.255.1/32 dev enp7s0"},
	}
	for name, yaml := range dayTwoStates(t) {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "state.yaml")
			writeNotifyFile(t, path, yaml, 0o644)
			if code, out, stderr := runCLI(t, "validate", "--offline", "--state", path, "--haproxy-bin", bin); code != exitOK {
				t.Fatalf("validate --offline: exit %d\n%s%s", code, out, stderr)
			}
			for _, node := range []string{"lb1", "lb2"} {
				code, conf, stderr := runCLI(t, "render", "--keepalived", "--node", node, "--state", path)
				if code != exitOK {
					t.Fatalf("render --keepalived --node %s: exit %d\n%s", node, code, stderr)
				}
				for _, w := range want[name] {
					if !strings.Contains(conf, w) {
						t.Errorf("%s's keepalived.conf lacks %q", node, w)
					}
				}
			}
		})
	}
}

// TestREADMEDayTwoHcloudCommands runs the README's day-two hcloud commands
// with Debian's hcloud CLI against the fake, in the quick start's world:
// they create an IPv6 Floating IP on lb1 and an IPv4 one on lb2, and add
// the private VIP's route to lb1.
func TestREADMEDayTwoHcloudCommands(t *testing.T) {
	bin := tooltest.Need(t, "hcloud")
	fake := hetznertest.New(t)
	fake.AddQuickStartNetwork()
	for _, line := range strings.Split(strings.TrimSpace(between(t, readme(t), "daytwo-hcloud")), "\n") {
		args := strings.Fields(line)
		if len(args) == 0 || args[0] != "hcloud" {
			t.Fatalf("not an hcloud command: %q", line)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
		cmd := exec.CommandContext(ctx, bin, args[1:]...)
		cmd.Env = []string{"HCLOUD_ENDPOINT=" + fake.APIEndpoint(), "HCLOUD_TOKEN=x", "HOME=" + t.TempDir(), "PATH=/usr/bin:/bin"}
		out, err := cmd.CombinedOutput()
		cancel()
		if err != nil {
			t.Fatalf("%s: %v\n%s", line, err, out)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "floating-ip", "list", "-o", "noheader", "-o", "columns=type,name,server")
	cmd.Env = []string{"HCLOUD_ENDPOINT=" + fake.APIEndpoint(), "HCLOUD_TOKEN=x", "HOME=" + t.TempDir(), "PATH=/usr/bin:/bin"}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"ipv6   k8s-api-v6   lb1", "ipv4   k8s-api-2    lb2"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("floating-ip list lacks %q:\n%s", want, out)
		}
	}
	if gw := fake.RouteGateway(hetznertest.NetworkID, "10.0.255.1/32"); gw != "10.0.0.5" {
		t.Errorf("the VIP's route leads to %q, want lb1's 10.0.0.5", gw)
	}
}
