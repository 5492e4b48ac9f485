package failover_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/hakgen/hakgen/failover"
)

// stats is a stand-in for a stats frontend: /healthz answers 200, and
// /backendz answers backendz.
func stats(t *testing.T, backendz int) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case failover.HealthPath:
		case failover.BackendsPath:
			w.WriteHeader(backendz)
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// closedURL is an http:// URL nothing listens on.
func closedURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	return "http://" + ln.Addr().String()
}

// TestEligibility: a node is fit for MASTER while HAProxy answers and it
// sees a backend up, or while no peer sees one either (a cluster-wide
// outage moves nothing); it is not when HAProxy is gone, or when it sees no
// backend up and a peer does.
func TestEligibility(t *testing.T) {
	up, down := stats(t, http.StatusOK), stats(t, http.StatusServiceUnavailable)
	for _, c := range []struct {
		name     string
		self     string
		peers    []string
		eligible bool
	}{
		{"backends up here", up, []string{up}, true},
		{"HAProxy gone here", closedURL(t), []string{up}, false},
		{"none up here, some at the peer", down, []string{up}, false},
		{"none up anywhere", down, []string{down}, true},
		{"none up here, peer unreachable", down, []string{closedURL(t)}, true},
		{"none up here, no peer known", down, nil, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			err := failover.Eligibility{Health: c.self + failover.HealthPath, Peers: c.peers}.Check(ctx)
			if got := err == nil; got != c.eligible || (err != nil && !errors.Is(err, failover.ErrNotEligible)) {
				t.Errorf("eligible %v (%v), want %v", got, err, c.eligible)
			}
		})
	}
}

// TestAskPeer tells a healthy peer, one whose HAProxy is gone (the port
// refuses), and one that does not answer in time (unknown) apart.
func TestAskPeer(t *testing.T) {
	silent, err := net.Listen("tcp", "127.0.0.1:0") // accepts, never answers
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	for _, c := range []struct {
		name string
		url  string
		want failover.PeerState
	}{
		{"healthy", stats(t, http.StatusOK), failover.PeerHealthy},
		{"HAProxy gone", closedURL(t), failover.PeerUnhealthy},
		{"no answer", "http://" + silent.Addr().String(), failover.PeerUnknown},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		if got := failover.AskPeer(ctx, c.url); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
		cancel()
	}
}
