package hetznertest_test

import (
	"net/http"
	"strconv"
	"testing"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"

	"github.com/hakgen/hakgen/hetzner/hetznertest"
)

// TestFakeSpeaksHcloudGo reads the fake's objects through hcloud-go: the
// JSON shapes are the library's own.
func TestFakeSpeaksHcloudGo(t *testing.T) {
	f := hetznertest.New(t)
	f.PlanActions(hetznertest.ActionPlan{RunningPolls: 1})
	c := hcloud.NewClient(hcloud.WithEndpoint(f.APIEndpoint()), hcloud.WithToken("x"))
	ctx := t.Context()

	srv, _, err := c.Server.GetByID(ctx, hetznertest.ThisServer)
	if err != nil || srv == nil || srv.Name != "lb1" || srv.Location.Name != "fsn1" {
		t.Fatalf("Server.GetByID = %+v, %v", srv, err)
	}
	fip, resp, err := c.FloatingIP.Get(ctx, strconv.FormatInt(hetznertest.FloatingIPID, 10))
	if err != nil || fip == nil || fip.IP.String() != hetznertest.FloatingIPAddress || fip.Server.ID != hetznertest.OtherServer {
		t.Fatalf("FloatingIP.Get = %+v, %v", fip, err)
	}
	if rl := resp.Meta.Ratelimit; rl.Limit != hetznertest.DefaultRateLimit || rl.Remaining != hetznertest.DefaultRateLimit-2 || rl.Reset.IsZero() {
		t.Errorf("rate limit headers = %+v", rl)
	}
	action, resp, err := c.FloatingIP.Assign(ctx, fip, srv)
	if err != nil || resp.StatusCode != http.StatusCreated || action.Status != hcloud.ActionStatusRunning {
		t.Fatalf("Assign = %+v, %v", action, err)
	}
	for _, want := range []hcloud.ActionStatus{hcloud.ActionStatusRunning, hcloud.ActionStatusSuccess} {
		got, _, err := c.Action.GetByID(ctx, action.ID)
		if err != nil || got.Status != want {
			t.Fatalf("Action.GetByID = %+v, %v; want %s", got, err, want)
		}
	}
	if f.Owner(hetznertest.FloatingIPID) != hetznertest.ThisServer {
		t.Error("the Floating IP did not move when its action succeeded")
	}
	if srv, _, _ := c.Server.GetByID(ctx, hetznertest.ThisServer); len(srv.PublicNet.FloatingIPs) != 1 {
		t.Errorf("server's floating IPs = %v, want the assigned one", srv.PublicNet.FloatingIPs)
	}
}

func TestFakeErrorShapes(t *testing.T) {
	f := hetznertest.New(t)
	f.Inject(hetznertest.Assign, 1, hetznertest.Locked())
	c := hcloud.NewClient(hcloud.WithEndpoint(f.APIEndpoint()), hcloud.WithToken("x"))

	_, _, err := c.FloatingIP.Assign(t.Context(), &hcloud.FloatingIP{ID: hetznertest.FloatingIPID}, &hcloud.Server{ID: hetznertest.ThisServer})
	if !hcloud.IsError(err, hcloud.ErrorCodeLocked) {
		t.Errorf("locked assign = %v", err)
	}
	if fip, _, err := c.FloatingIP.GetByID(t.Context(), 1); fip != nil || err != nil {
		t.Errorf("unknown Floating IP = %+v, %v; want nil, nil (not_found)", fip, err)
	}
	f.RequireToken("right")
	if _, _, err := c.FloatingIP.GetByID(t.Context(), hetznertest.FloatingIPID); !hcloud.IsError(err, hcloud.ErrorCodeUnauthorized) {
		t.Errorf("wrong token = %v, want unauthorized", err)
	}
}
