// Package hetznertest is a fake Hetzner Cloud API and metadata service for
// tests: one httptest server that speaks the JSON shapes of hcloud-go's
// schema package, records every request and injects faults.
//
// It serves the requests a Floating IP failover makes (and those of the
// `hcloud floating-ip assign` and `create` CLI, IPv4 and IPv6), and those
// of the private VIP's route (see networks.go):
//
//	POST /v1/floating_ips/{id}/actions/assign, POST /v1/floating_ips
//	GET  /v1/floating_ips/{id}, GET /v1/floating_ips?name=...
//	GET  /v1/servers/{id},      GET /v1/servers?label_selector=...&page=...
//	PUT  /v1/servers/{id} (labels, name), POST /v1/servers/{id}/actions/attach_to_network
//	POST /v1/servers/{id}/actions/change_alias_ips (alias.go)
//	GET  /v1/networks/{id},     GET /v1/networks?name=...
//	POST /v1/networks/{id}/actions/add_route, .../delete_route
//	GET  /v1/actions/{id},      GET /v1/actions?id=...,
//	GET  /v1/floating_ips/{id}/actions/{action}
//	GET  /hetzner/v1/metadata/instance-id, /hetzner/v1/metadata/hostname
//
// Every response carries RateLimit-Limit, RateLimit-Remaining and
// RateLimit-Reset headers. An assign creates an action that is "running"
// until it has been polled (see ActionPlan); when it ends in success the
// Floating IP moves, as on the real API, and the hooks of OnAssigned
// follow the move. New serves on loopback, Serve on a listener the test
// made; the metadata service can tell each caller its own server ID.
package hetznertest

import (
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud/schema"
)

// The world every Fake starts with: Floating IP FloatingIPID is assigned to
// OtherServer, the IPv6 Floating IP FloatingIPv6ID to none (see ipv6.go),
// and the metadata service answers ThisServer. No network exists until a
// test adds one (AddNetwork, AddQuickStartNetwork).
const (
	FloatingIPID      int64 = 4711
	FloatingIPAddress       = "203.0.113.10"
	ThisServer        int64 = 1001
	OtherServer       int64 = 1002
	ThirdServer       int64 = 1003
)

// DefaultRateLimit is the request budget per hour of a Hetzner Cloud project.
const DefaultRateLimit = 3600

// Fake is a running fake API. All methods are safe for concurrent use.
type Fake struct {
	srv *httptest.Server

	mu            sync.Mutex
	token         string // required bearer token; "" accepts any
	floatingIPs   map[int64]*schema.FloatingIP
	servers       map[int64]*schema.Server
	actions       map[int64]*fakeAction
	nextAction    int64
	instanceID    int64
	instanceFor   map[netip.Addr]int64 // metadata answers by the caller's address
	plan          ActionPlan
	nextPlans     []ActionPlan // taken before plan, one per assign
	assigned      []*delayedCalls
	done          chan struct{} // closed when the test ends
	faults        map[Endpoint][]Fault
	latency       map[Endpoint]time.Duration
	remaining     int
	requests      []Request
	seq           uint64
	networks      map[int64]*schema.Network // servers.go; nil until AddNetwork
	nets          networkWorld              // networks.go
	aliasChanging map[int64]*fakeAction     // alias.go: the running change_alias_ips of each server
	onResource    resourceFaults            // faults_on.go
}

// New starts a fake with the default world on a loopback address and
// closes it when the test ends.
func New(tb testing.TB) *Fake {
	tb.Helper()
	f := newFake()
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	tb.Cleanup(f.close)
	return f
}

// Serve starts a fake with the default world on ln, a listener the test
// made (for example on an address of a network namespace), and closes
// both when the test ends. URL and the endpoints name ln's address.
func Serve(tb testing.TB, ln net.Listener) *Fake {
	tb.Helper()
	f := newFake()
	f.srv = &httptest.Server{Listener: ln, Config: &http.Server{
		Handler:           http.HandlerFunc(f.serve),
		ReadHeaderTimeout: 10 * time.Second,
	}}
	f.srv.Start()
	tb.Cleanup(f.close)
	return f
}

func newFake() *Fake {
	f := &Fake{
		floatingIPs: map[int64]*schema.FloatingIP{},
		servers:     map[int64]*schema.Server{},
		actions:     map[int64]*fakeAction{},
		nextAction:  9000,
		instanceID:  ThisServer,
		instanceFor: map[netip.Addr]int64{},
		faults:      map[Endpoint][]Fault{},
		latency:     map[Endpoint]time.Duration{},
		remaining:   DefaultRateLimit,
		done:        make(chan struct{}),
	}
	f.AddServer(ThisServer, "lb1")
	f.AddServer(OtherServer, "lb2")
	f.AddServer(ThirdServer, "intruder")
	f.AddFloatingIP(FloatingIPID, FloatingIPAddress, OtherServer)
	f.AddFloatingIPv6(FloatingIPv6ID, FloatingIPv6Prefix, 0)
	return f
}

// close stops the server, then the delayed hooks.
func (f *Fake) close() {
	f.srv.Close()
	close(f.done)
}

// URL is the base URL of the fake server.
func (f *Fake) URL() string { return f.srv.URL }

// APIEndpoint is the API base URL, the value for HCLOUD_ENDPOINT.
func (f *Fake) APIEndpoint() string { return f.srv.URL + "/v1" }

// MetadataEndpoint is the metadata base URL, the value for
// HCLOUD_METADATA_ENDPOINT.
func (f *Fake) MetadataEndpoint() string { return f.srv.URL + "/hetzner/v1/metadata" }

// RequireToken makes the API answer 401 unauthorized unless requests carry
// "Authorization: Bearer token".
func (f *Fake) RequireToken(token string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.token = token
}

// SetInstanceID sets the server ID the metadata service reports to
// callers without one of their own (see SetInstanceIDFor).
func (f *Fake) SetInstanceID(id int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.instanceID = id
}

// SetInstanceIDFor makes the metadata service report id to requests from
// addr, as Hetzner's tells each server its own ID: one fake can then
// serve several servers.
func (f *Fake) SetInstanceIDFor(addr netip.Addr, id int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.instanceFor[addr.Unmap()] = id
}

// AddServer adds (or replaces) a server.
func (f *Fake) AddServer(id int64, name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.servers[id] = newServer(id, name)
}

// AddFloatingIP adds (or replaces) an IPv4 Floating IP; server 0 leaves it
// unassigned.
func (f *Fake) AddFloatingIP(id int64, ip string, server int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.floatingIPs[id] = newFloatingIP(id, ip)
	f.setOwnerLocked(id, server)
}

// Owner is the server a Floating IP is assigned to (0: unassigned or
// unknown).
func (f *Fake) Owner(floatingIPID int64) int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	if fip, ok := f.floatingIPs[floatingIPID]; ok && fip.Server != nil {
		return *fip.Server
	}
	return 0
}

// Grab assigns a Floating IP to a server at once, as another node or an
// operator would.
func (f *Fake) Grab(floatingIPID, server int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.setOwnerLocked(floatingIPID, server)
}

// GrabAfter makes server grab the Floating IP once d has passed.
func (f *Fake) GrabAfter(d time.Duration, floatingIPID, server int64) {
	time.AfterFunc(d, func() { f.Grab(floatingIPID, server) })
}

// SetRateLimitRemaining sets the RateLimit-Remaining budget; every request
// after this lowers it by one.
func (f *Fake) SetRateLimitRemaining(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.remaining = n
}

func (f *Fake) setOwnerLocked(floatingIPID, server int64) {
	fip, ok := f.floatingIPs[floatingIPID]
	if !ok {
		return
	}
	if fip.Server != nil {
		if old, ok := f.servers[*fip.Server]; ok {
			old.PublicNet.FloatingIPs = removeID(old.PublicNet.FloatingIPs, floatingIPID)
		}
	}
	fip.Server = nil
	if server == 0 {
		return
	}
	s := server
	fip.Server = &s
	if srv, ok := f.servers[server]; ok {
		srv.PublicNet.FloatingIPs = append(removeID(srv.PublicNet.FloatingIPs, floatingIPID), floatingIPID)
	}
}

func removeID(ids []int64, id int64) []int64 {
	out := ids[:0:0]
	for _, x := range ids {
		if x != id {
			out = append(out, x)
		}
	}
	return out
}
