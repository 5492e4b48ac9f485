package hetzner_test

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"

	"github.com/hakgen/hakgen/hetzner"
	"github.com/hakgen/hakgen/hetzner/hetznertest"
)

// TestServersAllPages lists 120 labelled workers among others: three
// pages of 50, every worker once with its private address, and the usage
// counts the three requests and the budget they left.
func TestServersAllPages(t *testing.T) {
	f := hetznertest.New(t)
	f.AddNetwork(7, "k8s", "10.0.0.0/16")
	for i := range 130 {
		role := "worker"
		if i >= 120 {
			role = "control-plane"
		}
		f.PutServer(hetznertest.ServerSpec{ID: int64(5000 + i), Name: fmt.Sprintf("n%d", i),
			Labels:  map[string]string{"role": role},
			Private: map[int64]string{7: fmt.Sprintf("10.0.%d.%d", i/200+1, i%200+1)}})
	}
	c, logs := newClient(t, f)
	servers, use, err := c.Servers(t.Context(), "role=worker")
	noSecret(t, err, logs)
	if err != nil {
		t.Fatal(err)
	}
	if len(servers) != 120 {
		t.Fatalf("%d servers, want 120", len(servers))
	}
	seen := map[string]bool{}
	for _, s := range servers {
		seen[s.Name] = true
		if s.Labels["role"] != "worker" || s.Status != "running" || !s.Private[7].IsValid() {
			t.Errorf("server %+v", s)
		}
	}
	if len(seen) != 120 || servers[119].Private[7].String() != "10.0.1.120" {
		t.Errorf("%d distinct servers; last %+v", len(seen), servers[119])
	}
	wantEndpoints(t, f, repeat(3, hetznertest.ListServers)...)
	if use.Requests != 3 || use.RateLimit.Remaining != hetznertest.DefaultRateLimit-3 || use.RateLimit.Limit != hetznertest.DefaultRateLimit {
		t.Errorf("usage %+v, want 3 requests and %d left", use, hetznertest.DefaultRateLimit-3)
	}
}

// TestServersErrors: a refused selector, an exhausted rate limit and a
// server error (after hcloud-go's retries) are errors naming the selector.
func TestServersErrors(t *testing.T) {
	f := hetznertest.New(t)
	c, logs := newClient(t, f)
	_, _, err := c.Servers(t.Context(), "role in (a")
	if !hcloud.IsError(err, hcloud.ErrorCodeInvalidInput) {
		t.Errorf("bad selector: %v", err)
	}
	f.Inject(hetznertest.ListServers, 10, hetznertest.RateLimited())
	_, use, err := c.Servers(t.Context(), "role=worker")
	var rl *hetzner.RateLimitError
	if !errors.As(err, &rl) || use.RateLimit.Remaining != 0 || use.Requests < 2 {
		t.Errorf("rate limited: %v, usage %+v", err, use)
	}
	f.ResetLog()
	f.Inject(hetznertest.ListServers, 10, hetznertest.ServerError(http.StatusBadGateway))
	if _, _, err := c.Servers(t.Context(), "role=worker"); err == nil || !hcloud.IsError(err, hcloud.ErrorCodeBadGateway) {
		t.Errorf("bad gateway: %v", err)
	}
	noSecret(t, err, logs)
}

// TestNetworkID: a number is the ID without a request; a name costs one
// lookup; an unknown name is ErrNetworkNotFound.
func TestNetworkID(t *testing.T) {
	f := hetznertest.New(t)
	f.AddNetwork(7, "k8s", "10.0.0.0/16")
	c, _ := newClient(t, f)
	if id, use, err := c.NetworkID(t.Context(), "4242"); id != 4242 || use.Requests != 0 || err != nil {
		t.Errorf("NetworkID(4242) = %d, %+v, %v", id, use, err)
	}
	wantEndpoints(t, f)
	if id, use, err := c.NetworkID(t.Context(), "k8s"); id != 7 || use.Requests != 1 || err != nil {
		t.Errorf("NetworkID(k8s) = %d, %+v, %v", id, use, err)
	}
	if _, _, err := c.NetworkID(t.Context(), "nope"); !errors.Is(err, hetzner.ErrNetworkNotFound) {
		t.Errorf("NetworkID(nope) = %v", err)
	}
}
