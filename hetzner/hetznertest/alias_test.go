package hetznertest_test

import (
	"errors"
	"net"
	"net/http"
	"testing"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"

	"github.com/hakgen/hakgen/hetzner/hetznertest"
)

// changeAliasIPs sets server's alias IPs on the quick start's network
// through hcloud-go and waits for the action.
func changeAliasIPs(t *testing.T, c *hcloud.Client, server int64, ips ...string) error {
	t.Helper()
	var parsed []net.IP
	for _, ip := range ips {
		parsed = append(parsed, net.ParseIP(ip))
	}
	a, _, err := c.Server.ChangeAliasIPs(t.Context(), &hcloud.Server{ID: server}, hcloud.ServerChangeAliasIPsOpts{
		Network: &hcloud.Network{ID: hetznertest.NetworkID}, AliasIPs: parsed,
	})
	if err != nil {
		return err
	}
	return c.Action.WaitFor(t.Context(), a)
}

// TestFakeAliasIPs: moving a private address between servers with alias
// IPs is two actions, release on one and take on the other, each applied
// when it ends; the server shows its alias IPs in its private_net, and the
// address cannot be on two servers at once.
func TestFakeAliasIPs(t *testing.T) {
	f := hetznertest.New(t)
	f.AddQuickStartNetwork()
	f.PlanActions(hetznertest.ActionPlan{RunningPolls: 1})
	c := client(f)
	const vip = "10.0.255.1"
	if err := changeAliasIPs(t, c, hetznertest.OtherServer, vip); err != nil {
		t.Fatalf("alias IP on the other server: %v", err)
	}
	if err := changeAliasIPs(t, c, hetznertest.ThisServer, vip); !hcloud.IsError(err, "ip_not_available") {
		t.Errorf("the same alias IP on this server while the other has it: %v, want ip_not_available", err)
	}
	if err := changeAliasIPs(t, c, hetznertest.OtherServer); err != nil {
		t.Fatalf("releasing it: %v", err)
	}
	if err := changeAliasIPs(t, c, hetznertest.ThisServer, vip); err != nil {
		t.Fatalf("taking it here: %v", err)
	}
	srv, _, err := c.Server.GetByID(t.Context(), hetznertest.ThisServer)
	if err != nil || len(srv.PrivateNet) != 1 || len(srv.PrivateNet[0].Aliases) != 1 || srv.PrivateNet[0].Aliases[0].String() != vip {
		t.Errorf("this server's private net = %+v, %v; want alias %s", srv.PrivateNet, err, vip)
	}
	if got := f.AliasIPs(hetznertest.OtherServer, hetznertest.NetworkID); len(got) != 0 {
		t.Errorf("the other server kept alias IPs %v", got)
	}
	var changes int
	for _, a := range f.Actions() {
		if a.Command == "change_alias_ips" {
			changes++
		}
	}
	if changes != 3 {
		t.Errorf("%d change_alias_ips actions, want 3", changes)
	}
}

// TestFakeAliasIPsRefuses what the real API refuses, and takes the
// faults of the Floating IP endpoints, for one server alone with InjectOn.
func TestFakeAliasIPsRefuses(t *testing.T) {
	f := hetznertest.New(t)
	f.AddQuickStartNetwork()
	c := client(f)
	if err := changeAliasIPs(t, c, hetznertest.ThisServer, "192.168.1.1"); !hcloud.IsError(err, hcloud.ErrorCodeInvalidInput) {
		t.Errorf("an alias IP outside the network: %v, want invalid_input", err)
	}
	if err := changeAliasIPs(t, c, hetznertest.ThisServer, hetznertest.OtherServerPrivateIP); !hcloud.IsError(err, "ip_not_available") {
		t.Errorf("the other server's own IP: %v, want ip_not_available", err)
	}
	f.InjectOn(hetznertest.ChangeAliasIPs, hetznertest.ThisServer, 1, hetznertest.Fault{Status: http.StatusForbidden, Code: "forbidden", Message: "insufficient permissions"})
	if err := changeAliasIPs(t, c, hetznertest.OtherServer, "10.0.255.2"); err != nil {
		t.Errorf("the other server, without a fault: %v", err)
	}
	if err := changeAliasIPs(t, c, hetznertest.ThisServer, "10.0.255.1"); !hcloud.IsError(err, hcloud.ErrorCodeForbidden) {
		t.Errorf("this server with the injected fault: %v, want forbidden", err)
	}
	f.PlanActions(hetznertest.ActionPlan{ErrorCode: "action_failed"})
	var actionErr hcloud.ActionError
	if err := changeAliasIPs(t, c, hetznertest.ThisServer, "10.0.255.1"); !errors.As(err, &actionErr) {
		t.Errorf("an action ending in error: %v", err)
	}
	if got := f.AliasIPs(hetznertest.ThisServer, hetznertest.NetworkID); len(got) != 0 {
		t.Errorf("a failed action set alias IPs %v", got)
	}
	f.PlanActions(hetznertest.ActionPlan{RunningPolls: 1000})
	a, _, err := c.Server.ChangeAliasIPs(t.Context(), &hcloud.Server{ID: hetznertest.ThisServer}, hcloud.ServerChangeAliasIPsOpts{
		Network: &hcloud.Network{ID: hetznertest.NetworkID}, AliasIPs: []net.IP{net.ParseIP("10.0.255.1")},
	})
	if err != nil || a == nil {
		t.Fatalf("a long change: %v", err)
	}
	_, _, err = c.Server.ChangeAliasIPs(t.Context(), &hcloud.Server{ID: hetznertest.ThisServer}, hcloud.ServerChangeAliasIPsOpts{
		Network: &hcloud.Network{ID: hetznertest.NetworkID}, AliasIPs: nil,
	})
	if !hcloud.IsError(err, hcloud.ErrorCodeLocked) {
		t.Errorf("a change while another runs: %v, want locked", err)
	}
	if got := f.AliasIPs(hetznertest.ThisServer, hetznertest.NetworkID); len(got) != 0 {
		t.Errorf("alias IPs before the running action ended: %v", got)
	}
}
