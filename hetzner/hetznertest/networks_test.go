package hetznertest_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"

	"github.com/hakgen/hakgen/hetzner/hetznertest"
	"github.com/hakgen/hakgen/internal/tooltest"
)

// client is hcloud-go's own client of the fake: the fake must answer what
// it parses. Retries are fast and few.
func client(f *hetznertest.Fake) *hcloud.Client {
	return hcloud.NewClient(hcloud.WithEndpoint(f.APIEndpoint()), hcloud.WithToken("x"),
		hcloud.WithPollOpts(hcloud.PollOpts{BackoffFunc: hcloud.ConstantBackoff(5 * time.Millisecond)}),
		hcloud.WithRetryOpts(hcloud.RetryOpts{BackoffFunc: hcloud.ConstantBackoff(5 * time.Millisecond), MaxRetries: 2}))
}

func route(dest, gw string) hcloud.NetworkRoute {
	_, d, _ := net.ParseCIDR(dest)
	return hcloud.NetworkRoute{Destination: d, Gateway: net.ParseIP(gw)}
}

// TestFakeNetworkShape: the default network reads back through hcloud-go
// by name and by ID with its range, subnet, servers and (no) routes, and
// each server lists its address on it.
func TestFakeNetworkShape(t *testing.T) {
	f := hetznertest.New(t)
	f.AddQuickStartNetwork()
	c := client(f)
	n, _, err := c.Network.Get(t.Context(), hetznertest.NetworkName)
	if err != nil || n == nil {
		t.Fatalf("Network.Get(%s) = %v, %v", hetznertest.NetworkName, n, err)
	}
	if n.ID != hetznertest.NetworkID || n.IPRange.String() != hetznertest.NetworkIPRange || len(n.Subnets) != 1 ||
		n.Subnets[0].IPRange.String() != hetznertest.NetworkSubnet || n.Subnets[0].Gateway.String() != "10.0.0.1" || len(n.Routes) != 0 || len(n.Servers) != 2 {
		t.Errorf("network = %+v", n)
	}
	byID, _, err := c.Network.GetByID(t.Context(), hetznertest.NetworkID)
	if err != nil || byID == nil || byID.Name != hetznertest.NetworkName {
		t.Errorf("Network.GetByID = %+v, %v", byID, err)
	}
	if missing, _, err := c.Network.Get(t.Context(), "nope"); err != nil || missing != nil {
		t.Errorf("an unknown network = %+v, %v; want nil, nil", missing, err)
	}
	srv, _, err := c.Server.GetByID(t.Context(), hetznertest.ThisServer)
	if err != nil || len(srv.PrivateNet) != 1 || srv.PrivateNet[0].IP.String() != hetznertest.ThisServerPrivateIP || srv.PrivateNet[0].Network.ID != hetznertest.NetworkID {
		t.Errorf("this server's private networks = %+v, %v", srv.PrivateNet, err)
	}
}

// TestFakeRouteActions: a route change is an action, applied when it ends
// in success; while it runs a second change gets 409 conflict; a route
// that overlaps another is refused; every state of the routes is recorded.
func TestFakeRouteActions(t *testing.T) {
	f := hetznertest.New(t)
	f.AddQuickStartNetwork()
	f.PlanActions(hetznertest.ActionPlan{RunningPolls: 1})
	c := client(f)
	ctx := t.Context()
	netw := &hcloud.Network{ID: hetznertest.NetworkID}
	add, _, err := c.Network.AddRoute(ctx, netw, hcloud.NetworkAddRouteOpts{Route: route("10.0.255.1/32", "10.0.0.6")})
	if err != nil || add.Command != "add_route" || add.Status != hcloud.ActionStatusRunning {
		t.Fatalf("AddRoute = %+v, %v", add, err)
	}
	if gw := f.RouteGateway(hetznertest.NetworkID, "10.0.255.1/32"); gw != "" {
		t.Errorf("the route exists (gateway %s) before its action ended", gw)
	}
	_, _, err = c.Network.DeleteRoute(ctx, netw, hcloud.NetworkDeleteRouteOpts{Route: route("10.0.255.1/32", "10.0.0.6")})
	if !hcloud.IsError(err, hcloud.ErrorCodeConflict) {
		t.Errorf("a second change while the first runs: %v, want conflict", err)
	}
	if err := c.Action.WaitFor(ctx, add); err != nil {
		t.Fatal(err)
	}
	if gw := f.RouteGateway(hetznertest.NetworkID, "10.0.255.1/32"); gw != "10.0.0.6" {
		t.Errorf("gateway after the action = %q, want 10.0.0.6", gw)
	}
	for _, r := range []hcloud.NetworkRoute{route("10.0.255.1/32", "10.0.0.5"), route("10.0.0.0/28", "10.0.0.5")} {
		if _, _, err := c.Network.AddRoute(ctx, netw, hcloud.NetworkAddRouteOpts{Route: r}); !hcloud.IsError(err, hcloud.ErrorCodeInvalidInput) {
			t.Errorf("AddRoute(%s) overlapping a route or subnet: %v, want invalid_input", r.Destination, err)
		}
	}
	del, _, err := c.Network.DeleteRoute(ctx, netw, hcloud.NetworkDeleteRouteOpts{Route: route("10.0.255.1/32", "10.0.0.6")})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Action.WaitFor(ctx, del); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Network.DeleteRoute(ctx, netw, hcloud.NetworkDeleteRouteOpts{Route: route("10.0.255.1/32", "10.0.0.6")}); !hcloud.IsError(err, hcloud.ErrorCodeNotFound) {
		t.Errorf("deleting a route that is gone: %v, want not_found", err)
	}
	changes := f.RouteChanges(hetznertest.NetworkID)
	if len(changes) != 2 || len(changes[0].Routes) != 1 || len(changes[1].Routes) != 0 {
		t.Errorf("route changes = %+v, want one route, then none", changes)
	}
	acts := f.Actions()
	if len(acts) != 2 || acts[0].Finished == nil || acts[1].Finished == nil || acts[1].Started.Before(*acts[0].Finished) {
		t.Errorf("actions = %+v, want two, the second started after the first finished", acts)
	}
}

// TestFakeRouteFaults: the network endpoints take faults as the Floating
// IP endpoints do: a locked answer, an error action that leaves the routes
// as they were.
func TestFakeRouteFaults(t *testing.T) {
	f := hetznertest.New(t)
	f.AddQuickStartNetwork()
	c := client(f)
	netw := &hcloud.Network{ID: hetznertest.NetworkID}
	f.Inject(hetznertest.AddRoute, 1, hetznertest.Locked())
	if _, _, err := c.Network.AddRoute(t.Context(), netw, hcloud.NetworkAddRouteOpts{Route: route("10.0.255.1/32", "10.0.0.5")}); !hcloud.IsError(err, hcloud.ErrorCodeLocked) {
		t.Errorf("AddRoute with a locked fault: %v", err)
	}
	f.Inject(hetznertest.GetNetwork, 1, hetznertest.ServerError(http.StatusServiceUnavailable))
	if _, _, err := c.Network.GetByID(t.Context(), hetznertest.NetworkID); err == nil {
		t.Error("GetByID with a 503 fault succeeded")
	}
	f.PlanActions(hetznertest.ActionPlan{ErrorCode: "action_failed"})
	a, _, err := c.Network.AddRoute(t.Context(), netw, hcloud.NetworkAddRouteOpts{Route: route("10.0.255.1/32", "10.0.0.5")})
	if err != nil {
		t.Fatal(err)
	}
	var actionErr hcloud.ActionError
	if err := c.Action.WaitFor(t.Context(), a); err == nil || !errors.As(err, &actionErr) {
		t.Errorf("WaitFor = %v, want the action's error", err)
	}
	if gw := f.RouteGateway(hetznertest.NetworkID, "10.0.255.1/32"); gw != "" {
		t.Errorf("a failed action added the route (gateway %s)", gw)
	}
}

// TestFakeInjectOn: a fault for one Floating IP's assign leaves another's
// alone, whatever order the two arrive in.
func TestFakeInjectOn(t *testing.T) {
	f := hetznertest.New(t)
	f.InjectOn(hetznertest.Assign, hetznertest.FloatingIPv6ID, 1, hetznertest.Fault{Status: http.StatusForbidden, Code: "forbidden", Message: "insufficient permissions"})
	c := client(f)
	if _, _, err := c.FloatingIP.Assign(t.Context(), &hcloud.FloatingIP{ID: hetznertest.FloatingIPID}, &hcloud.Server{ID: hetznertest.ThisServer}); err != nil {
		t.Errorf("assign of the other Floating IP: %v", err)
	}
	if _, _, err := c.FloatingIP.Assign(t.Context(), &hcloud.FloatingIP{ID: hetznertest.FloatingIPv6ID}, &hcloud.Server{ID: hetznertest.ThisServer}); !hcloud.IsError(err, hcloud.ErrorCodeForbidden) {
		t.Errorf("assign of the IPv6 Floating IP: %v, want forbidden", err)
	}
	fip, _, err := c.FloatingIP.GetByID(t.Context(), hetznertest.FloatingIPv6ID)
	if err != nil || fip.Type != hcloud.FloatingIPTypeIPv6 || fip.Network == nil || fip.Network.String() != hetznertest.FloatingIPv6Prefix {
		t.Errorf("the IPv6 Floating IP = %+v, %v", fip, err)
	}
}

// TestHcloudCLIDayTwo runs Debian's hcloud CLI against the fake for the
// commands of README.md's day-two setup: an IPv6 Floating IP created on a
// server, a network route added and removed.
func TestHcloudCLIDayTwo(t *testing.T) {
	bin := tooltest.Need(t, "hcloud")
	f := hetznertest.New(t)
	f.AddQuickStartNetwork()
	run := func(args ...string) string {
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Env = []string{"HCLOUD_ENDPOINT=" + f.APIEndpoint(), "HCLOUD_TOKEN=x", "HOME=" + t.TempDir(), "PATH=/usr/bin:/bin"}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("hcloud %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	run("floating-ip", "create", "--type", "ipv6", "--home-location", "fsn1", "--name", "k8s-api-v6", "--server", "lb1")
	if out := run("floating-ip", "list", "-o", "noheader", "-o", "columns=type,name,server"); !strings.Contains(out, "ipv6   k8s-api-v6   lb1") {
		t.Errorf("floating-ip list after create:\n%s", out)
	}
	run("network", "add-route", "k8s", "--destination", "10.0.255.1/32", "--gateway", "10.0.0.5")
	if gw := f.RouteGateway(hetznertest.NetworkID, "10.0.255.1/32"); gw != "10.0.0.5" {
		t.Errorf("gateway after add-route = %q, want 10.0.0.5", gw)
	}
	run("network", "remove-route", "k8s", "--destination", "10.0.255.1/32", "--gateway", "10.0.0.5")
	if gw := f.RouteGateway(hetznertest.NetworkID, "10.0.255.1/32"); gw != "" {
		t.Errorf("gateway after remove-route = %q, want none", gw)
	}
}

// TestFakeOnRouteChanged: a hook sees each state of the routes, in order,
// after a route moved by deletion and addition.
func TestFakeOnRouteChanged(t *testing.T) {
	f := hetznertest.New(t)
	f.AddQuickStartNetwork()
	seen := make(chan hetznertest.RouteChange, 10)
	f.OnRouteChanged(10*time.Millisecond, func(c hetznertest.RouteChange) { seen <- c })
	f.SetRoute(hetznertest.NetworkID, "10.0.255.1/32", "10.0.0.6")
	c := client(f)
	netw := &hcloud.Network{ID: hetznertest.NetworkID}
	for _, step := range []func() (*hcloud.Action, *hcloud.Response, error){
		func() (*hcloud.Action, *hcloud.Response, error) {
			return c.Network.DeleteRoute(t.Context(), netw, hcloud.NetworkDeleteRouteOpts{Route: route("10.0.255.1/32", "10.0.0.6")})
		},
		func() (*hcloud.Action, *hcloud.Response, error) {
			return c.Network.AddRoute(t.Context(), netw, hcloud.NetworkAddRouteOpts{Route: route("10.0.255.1/32", "10.0.0.5")})
		},
	} {
		a, _, err := step()
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Action.WaitFor(t.Context(), a); err != nil {
			t.Fatal(err)
		}
	}
	for i, want := range []string{"10.0.0.6", "", "10.0.0.5"} {
		select {
		case got := <-seen:
			gw := ""
			if len(got.Routes) == 1 {
				gw = got.Routes[0].Gateway
			}
			if gw != want || len(got.Routes) > 1 {
				t.Errorf("change %d: routes %+v, want the gateway %q", i, got.Routes, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("change %d never reached the hook", i)
		}
	}
}
