package hetznertest_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"

	"github.com/hakgen/hakgen/hetzner/hetznertest"
)

// TestFakeServeOnListener serves the fake on a listener the test made.
func TestFakeServeOnListener(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := hetznertest.Serve(t, ln)
	if want := "http://" + ln.Addr().String() + "/v1"; f.APIEndpoint() != want {
		t.Errorf("APIEndpoint = %q, want %q", f.APIEndpoint(), want)
	}
	c := hcloud.NewClient(hcloud.WithEndpoint(f.APIEndpoint()), hcloud.WithToken("x"))
	if srv, _, err := c.Server.GetByID(t.Context(), hetznertest.ThisServer); err != nil || srv == nil {
		t.Fatalf("Server.GetByID through the listener = %+v, %v", srv, err)
	}
	if got := f.Requests(); len(got) != 1 || got[0].Remote != netip.MustParseAddr("127.0.0.1") {
		t.Errorf("requests = %+v, want one from 127.0.0.1", got)
	}
}

// TestFakeOnAssigned follows moves: a hook runs, in order and no earlier
// than its delay, for each assign action that succeeds, and not for one
// that ends in error.
func TestFakeOnAssigned(t *testing.T) {
	f := hetznertest.New(t)
	const delay = 200 * time.Millisecond
	type call struct {
		server int64
		at     time.Time
	}
	calls := make(chan call, 10)
	f.OnAssigned(delay, func(fip, server int64) {
		if fip == hetznertest.FloatingIPID {
			calls <- call{server, time.Now()}
		}
	})
	f.PlanNextActions(1, hetznertest.ActionPlan{ErrorCode: "floating_ip_assign_failed"})
	c := hcloud.NewClient(hcloud.WithEndpoint(f.APIEndpoint()), hcloud.WithToken("x"),
		hcloud.WithPollOpts(hcloud.PollOpts{BackoffFunc: hcloud.ConstantBackoff(10 * time.Millisecond)}))
	assign := func(server int64) error {
		a, _, err := c.FloatingIP.Assign(t.Context(), &hcloud.FloatingIP{ID: hetznertest.FloatingIPID}, &hcloud.Server{ID: server})
		if err != nil {
			return err
		}
		return c.Action.WaitFor(t.Context(), a)
	}
	if err := assign(hetznertest.ThisServer); err == nil {
		t.Fatal("the planned error did not happen")
	}
	// An action ends after it was created, so its hook may run no
	// earlier than delay after the assign was sent.
	var sent []time.Time
	for _, s := range []int64{hetznertest.ThisServer, hetznertest.OtherServer} {
		sent = append(sent, time.Now())
		if err := assign(s); err != nil {
			t.Fatalf("assign to %d: %v", s, err)
		}
	}
	for i, want := range []int64{hetznertest.ThisServer, hetznertest.OtherServer} {
		select {
		case got := <-calls:
			if got.server != want {
				t.Errorf("call %d for server %d, want %d (the failed action must not count)", i, got.server, want)
			}
			if earliest := sent[i].Add(delay); got.at.Before(earliest) {
				t.Errorf("call %d came %s before its delay was up", i, earliest.Sub(got.at))
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("hook call %d never came", i)
		}
	}
	select {
	case extra := <-calls:
		t.Errorf("an extra call: %+v", extra)
	default:
	}
}

// TestFakeMetadataByCaller tells each caller its own server ID.
func TestFakeMetadataByCaller(t *testing.T) {
	f := hetznertest.New(t)
	f.SetInstanceIDFor(netip.MustParseAddr("127.0.0.2"), hetznertest.OtherServer)
	for from, want := range map[string]string{"127.0.0.2": "1002", "127.0.0.1": "1001"} {
		tr := &http.Transport{DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}).DialContext}
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, f.MetadataEndpoint()+"/instance-id", nil)
		resp, err := (&http.Client{Transport: tr}).Do(req)
		if err != nil {
			cancel()
			t.Fatalf("from %s: %v", from, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		cancel()
		if got := strings.TrimSpace(string(body)); got != want {
			t.Errorf("instance-id asked from %s = %q, want %q", from, got, want)
		}
	}
}
