package failover

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"syscall"
	"time"
)

// The paths HAProxy's stats frontend answers for keepalived's check
// (haproxy.cfg's monitor-uri and its /backendz rule).
const (
	HealthPath   = "/healthz"  // HAProxy itself runs: 200
	BackendsPath = "/backendz" // some public backend has a server up: 200, else 503
)

// Eligibility is what keepalived's check asks of this node: is it fit to
// be (or stay) MASTER?
type Eligibility struct {
	// Health is this node's HAProxy liveness URL (…/healthz).
	Health string
	// Peers are the other load balancers' stats frontends (their base
	// URL, e.g. http://10.0.0.6:8404), asked only when this node sees no
	// backend up. None: the node stays eligible while HAProxy runs.
	Peers []string
	// PeerTimeout bounds each question to a peer.
	PeerTimeout time.Duration
}

// ErrNotEligible wraps the reason a node must leave MASTER.
var ErrNotEligible = errors.New("not fit to be MASTER")

// Check decides eligibility:
//   - HAProxy does not answer its /healthz: not eligible;
//   - it answers, and /backendz says some public backend has a server up:
//     eligible;
//   - no backend is up from here: not eligible if a peer sees one (its
//     /backendz answers 200), since it would serve where this node cannot;
//     eligible otherwise. When no backend is up from any node (a cluster-wide
//     outage) or no peer answers, the Floating IP stays where it is rather
//     than move for nothing.
//
// ctx bounds the whole check. No proxy is ever used.
func (e Eligibility) Check(ctx context.Context) error {
	client := noProxyClient()
	if code, err := get(ctx, client, e.Health); err != nil {
		return fmt.Errorf("%w: HAProxy does not answer %s: %w", ErrNotEligible, e.Health, err)
	} else if code != http.StatusOK {
		return fmt.Errorf("%w: HAProxy answers %s with %d (expected 200 from its monitor-uri)", ErrNotEligible, e.Health, code)
	}
	if !e.backendsDown(ctx, client) {
		// 200, or a HAProxy that does not know /backendz yet: HAProxy
		// runs, and that is what counted before.
		return nil
	}
	if peer, ok := e.peerSeesBackends(ctx, client); ok {
		return fmt.Errorf("%w: no public backend has a server up from here, but %s sees one", ErrNotEligible, peer)
	}
	return nil
}

// backendsDown reports whether this node's HAProxy answers /backendz with
// 503: no public backend has a server up here. Any other answer, or none,
// is not: HAProxy's own death is judged by /healthz and the process watch.
func (e Eligibility) backendsDown(ctx context.Context, client *http.Client) bool {
	own := strings.TrimSuffix(e.Health, HealthPath) + BackendsPath
	code, err := get(ctx, client, own)
	return err == nil && code == http.StatusServiceUnavailable
}

// peerSeesBackends returns the first peer whose /backendz answers 200.
func (e Eligibility) peerSeesBackends(ctx context.Context, client *http.Client) (string, bool) {
	for _, peer := range e.Peers {
		pctx, cancel := context.WithTimeout(ctx, e.peerTimeout())
		code, err := get(pctx, client, strings.TrimRight(peer, "/")+BackendsPath)
		cancel()
		if err == nil && code == http.StatusOK {
			return peer, true
		}
	}
	return "", false
}

func (e Eligibility) peerTimeout() time.Duration {
	if e.PeerTimeout > 0 {
		return e.PeerTimeout
	}
	return 300 * time.Millisecond
}

// PeerState is what a peer's HAProxy answers about itself.
type PeerState int

// The answers a peer can give.
const (
	PeerUnknown   PeerState = iota // no answer in time: it may be down, or only unreachable
	PeerHealthy                    // its HAProxy answers its /healthz with 200
	PeerUnhealthy                  // its machine answers, its HAProxy does not (refused, or not 200)
)

// AskPeer asks a peer's HAProxy its /healthz (stats is its base URL). A
// peer that cannot be reached in time is PeerUnknown, not unhealthy: in a
// partition the peer may well be serving.
func AskPeer(ctx context.Context, stats string) PeerState {
	code, err := get(ctx, noProxyClient(), strings.TrimRight(stats, "/")+HealthPath)
	switch {
	case err == nil && code == http.StatusOK:
		return PeerHealthy
	case err == nil, errors.Is(err, syscall.ECONNREFUSED):
		return PeerUnhealthy
	}
	return PeerUnknown
}

// noProxyClient never uses a proxy: a proxy variable in keepalived's
// environment must not answer for a dead HAProxy.
func noProxyClient() *http.Client {
	return &http.Client{
		Transport:     &http.Transport{Proxy: nil, DisableKeepAlives: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// get asks url and returns the status code.
func get(ctx context.Context, client *http.Client, url string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	return resp.StatusCode, nil
}
