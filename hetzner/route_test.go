package hetzner_test

import (
	"errors"
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"

	"github.com/hakgen/hakgen/hetzner"
	"github.com/hakgen/hakgen/hetzner/hetznertest"
)

var (
	vip     = netip.MustParsePrefix("10.0.255.1/32")
	mine    = netip.MustParseAddr(hetznertest.ThisServerPrivateIP)
	theirs  = netip.MustParseAddr(hetznertest.OtherServerPrivateIP)
	network = hetznertest.NetworkName
)

const vipRoute = "10.0.255.1/32"

// TestMoveRouteDeletesThenAdds: a route to the peer is deleted, and only
// after that action ended is the route here added; the routes never hold
// two entries for the VIP, and a GET verifies the result.
func TestMoveRouteDeletesThenAdds(t *testing.T) {
	f := hetznertest.New(t)
	f.AddQuickStartNetwork()
	f.SetRoute(hetznertest.NetworkID, vipRoute, hetznertest.OtherServerPrivateIP)
	f.PlanActions(hetznertest.ActionPlan{RunningPolls: 2})
	c, logs := newClient(t, f)

	res, err := c.MoveRoute(t.Context(), network, vip, mine)
	if err != nil {
		t.Fatalf("MoveRoute: %v", err)
	}
	wantEndpoints(t, f, seq([]hetznertest.Endpoint{hetznertest.ListNetworks, hetznertest.DeleteRoute}, repeat(3, epPoll),
		[]hetznertest.Endpoint{hetznertest.AddRoute}, repeat(3, epPoll), []hetznertest.Endpoint{hetznertest.ListNetworks})...)
	if gw := f.RouteGateway(hetznertest.NetworkID, vipRoute); gw != hetznertest.ThisServerPrivateIP {
		t.Errorf("gateway = %q, want %s", gw, hetznertest.ThisServerPrivateIP)
	}
	changes := f.RouteChanges(hetznertest.NetworkID)
	if len(changes) != 3 || len(changes[1].Routes) != 0 || len(changes[2].Routes) != 1 {
		t.Errorf("route changes = %+v, want: the peer's route, none, this node's", changes)
	}
	for _, c := range changes {
		if len(c.Routes) > 1 {
			t.Errorf("two routes at once: %+v", c.Routes)
		}
	}
	acts := f.Actions()
	if len(acts) != 2 || acts[0].Command != "delete_route" || acts[1].Command != "add_route" || acts[1].Started.Before(*acts[0].Finished) {
		t.Errorf("actions = %+v, want the deletion to end before the addition starts", acts)
	}
	if res.Requests != 10 || res.ActionID != acts[1].ID || res.Total < res.Accepted {
		t.Errorf("result = %+v, want 10 requests and the addition's action", res)
	}
	noSecret(t, nil, logs)
}

// TestMoveRouteAddsAMissingRoute and leaves one that leads here alone.
func TestMoveRouteAddsAMissingRoute(t *testing.T) {
	f := hetznertest.New(t)
	f.AddQuickStartNetwork()
	c, _ := newClient(t, f)
	if _, err := c.MoveRoute(t.Context(), network, vip, mine); err != nil {
		t.Fatalf("MoveRoute: %v", err)
	}
	wantEndpoints(t, f, hetznertest.ListNetworks, hetznertest.AddRoute, epPoll, hetznertest.ListNetworks)
	f.ResetLog()
	res, err := c.MoveRoute(t.Context(), network, vip, mine)
	if err != nil || res.Requests != 1 {
		t.Fatalf("MoveRoute of a route already here: %+v, %v; want one request", res, err)
	}
	wantEndpoints(t, f, hetznertest.ListNetworks)
	if gw, err := c.RouteGateway(t.Context(), network, vip); err != nil || gw != mine {
		t.Errorf("RouteGateway = %v, %v; want %v", gw, err, mine)
	}
}

// TestMoveRouteRetriesLockedAndStartsOverAfterARace: a locked answer is
// retried; a route another node deleted before this one could makes the
// move start over with a new GET instead of failing.
func TestMoveRouteRetriesLockedAndStartsOverAfterARace(t *testing.T) {
	f := hetznertest.New(t)
	f.AddQuickStartNetwork()
	f.SetRoute(hetznertest.NetworkID, vipRoute, hetznertest.OtherServerPrivateIP)
	f.Inject(hetznertest.AddRoute, 2, hetznertest.Locked())
	// Just before the deletion arrives, the route moves to a third gateway.
	f.Inject(hetznertest.DeleteRoute, 1, hetznertest.Fault{Do: func(f *hetznertest.Fake) {
		f.SetRoute(hetznertest.NetworkID, vipRoute, "10.0.0.7")
	}})
	c, _ := newClient(t, f)
	res, err := c.MoveRoute(t.Context(), network, vip, mine)
	if err != nil {
		t.Fatalf("MoveRoute: %v", err)
	}
	if gw := f.RouteGateway(hetznertest.NetworkID, vipRoute); gw != hetznertest.ThisServerPrivateIP {
		t.Errorf("gateway = %q, want %s", gw, hetznertest.ThisServerPrivateIP)
	}
	if f.Count(hetznertest.DeleteRoute) != 2 || f.Count(hetznertest.AddRoute) != 3 || res.Retries != 2 {
		t.Errorf("%d deletions, %d additions, %d retries; want 2 (one raced), 3 (two locked), 2:\n%v",
			f.Count(hetznertest.DeleteRoute), f.Count(hetznertest.AddRoute), res.Retries, f.Endpoints())
	}
}

// TestMoveRouteErrors: an unknown network, an action that ends in error,
// a refused token.
func TestMoveRouteErrors(t *testing.T) {
	f := hetznertest.New(t)
	f.AddQuickStartNetwork()
	c, logs := newClient(t, f)
	if _, err := c.MoveRoute(t.Context(), "nope", vip, mine); !errors.Is(err, hetzner.ErrNetworkNotFound) {
		t.Errorf("unknown network: %v", err)
	}
	f.PlanActions(hetznertest.ActionPlan{ErrorCode: "action_failed", ErrorMessage: "route could not be added"})
	var actionErr hcloud.ActionError
	if _, err := c.MoveRoute(t.Context(), network, vip, mine); !errors.As(err, &actionErr) {
		t.Errorf("failed action: %v", err)
	}
	f.Inject(hetznertest.ListNetworks, 1, hetznertest.Fault{Status: http.StatusUnauthorized, Code: "unauthorized", Message: "unable to authenticate"})
	_, err := c.MoveRoute(t.Context(), network, vip, theirs)
	if !hcloud.IsError(err, hcloud.ErrorCodeUnauthorized) {
		t.Errorf("refused token: %v", err)
	}
	noSecret(t, err, logs)
}

// TestMoveRouteAddsAgainAfterAFailedAddition: the old route deleted, the
// addition's action fails: the address must not stay without a route, so
// the next round adds it again.
func TestMoveRouteAddsAgainAfterAFailedAddition(t *testing.T) {
	f := hetznertest.New(t)
	f.AddQuickStartNetwork()
	f.SetRoute(hetznertest.NetworkID, vipRoute, hetznertest.OtherServerPrivateIP)
	f.PlanNextActions(1, hetznertest.ActionPlan{})
	f.PlanNextActions(1, hetznertest.ActionPlan{ErrorCode: "action_failed", ErrorMessage: "route could not be added"})
	c, _ := newClient(t, f)
	if _, err := c.MoveRoute(t.Context(), network, vip, mine); err != nil {
		t.Fatalf("MoveRoute: %v", err)
	}
	if gw := f.RouteGateway(hetznertest.NetworkID, vipRoute); gw != hetznertest.ThisServerPrivateIP {
		t.Errorf("gateway = %q, want %s", gw, hetznertest.ThisServerPrivateIP)
	}
	if f.Count(hetznertest.DeleteRoute) != 1 || f.Count(hetznertest.AddRoute) != 2 {
		t.Errorf("%d deletions, %d additions; want 1, 2 (one failed):\n%v", f.Count(hetznertest.DeleteRoute), f.Count(hetznertest.AddRoute), f.Endpoints())
	}
}

// TestMoveRouteSaysTheAddressHasNoRoute: when every addition fails after
// the deletion, the error says the address has no route now.
func TestMoveRouteSaysTheAddressHasNoRoute(t *testing.T) {
	f := hetznertest.New(t)
	f.AddQuickStartNetwork()
	f.SetRoute(hetznertest.NetworkID, vipRoute, hetznertest.OtherServerPrivateIP)
	f.PlanNextActions(1, hetznertest.ActionPlan{})
	f.PlanNextActions(10, hetznertest.ActionPlan{ErrorCode: "action_failed", ErrorMessage: "route could not be added"})
	c, _ := newClient(t, f)
	_, err := c.MoveRoute(t.Context(), network, vip, mine)
	if err == nil || !strings.Contains(err.Error(), "has no route now") {
		t.Fatalf("MoveRoute: %v, want an error saying the address has no route", err)
	}
	if gw := f.RouteGateway(hetznertest.NetworkID, vipRoute); gw != "" {
		t.Errorf("gateway = %q after failed additions, want none", gw)
	}
}
