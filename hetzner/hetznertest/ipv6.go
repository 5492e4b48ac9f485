package hetznertest

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/hetznercloud/hcloud-go/v2/hcloud/schema"
)

// The IPv6 Floating IP of the default world, unassigned: a /64 as the API
// shows it, and the address of it hakgen configures.
const (
	FloatingIPv6ID      int64 = 4712
	FloatingIPv6Prefix        = "2001:db8:1::/64"
	FloatingIPv6Address       = "2001:db8:1::1"
)

// CreateFloatingIP is POST /v1/floating_ips, as `hcloud floating-ip
// create` sends it.
const CreateFloatingIP Endpoint = "create_floating_ip"

// AddFloatingIPv6 adds (or replaces) an IPv6 Floating IP, a /64 given as
// the API shows it ("2001:db8:1::/64"); server 0 leaves it unassigned. It
// is assigned and looked up as an IPv4 one is.
func (f *Fake) AddFloatingIPv6(id int64, prefix string, server int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fip := newFloatingIP(id, prefix)
	fip.Type = "ipv6"
	fip.DNSPtr = []schema.FloatingIPDNSPtr{} // per address of the /64, none set
	f.floatingIPs[id] = fip
	f.setOwnerLocked(id, server)
}

// createFloatingIP answers POST /v1/floating_ips: a new Floating IP of the
// type asked for (IPv4 from 203.0.113.0/24, IPv6 a /64 of 2001:db8::/32),
// assigned to the server named, if any, with the finished action saying so.
func (f *Fake) createFloatingIP(r *http.Request) (int, []byte) {
	var req schema.FloatingIPCreateRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		return apiError(http.StatusBadRequest, "json_error", "invalid JSON")
	}
	if req.Type != "ipv4" && req.Type != "ipv6" {
		return apiError(http.StatusBadRequest, "invalid_input", "invalid input in field 'type'")
	}
	if req.HomeLocation == nil && req.Server == nil {
		return apiError(http.StatusBadRequest, "invalid_input", "home_location or server is required")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if req.Server != nil {
		if _, ok := f.servers[*req.Server]; !ok {
			return apiError(http.StatusUnprocessableEntity, "invalid_input", "invalid input in field 'server'")
		}
	}
	id := int64(5000)
	for f.floatingIPs[id] != nil {
		id++
	}
	ip := fmt.Sprintf("203.0.113.%d", 100+id%100)
	if req.Type == "ipv6" {
		ip = fmt.Sprintf("2001:db8:%x::/64", id)
	}
	fip := newFloatingIP(id, ip)
	fip.Type = req.Type
	if req.Name != nil {
		fip.Name = *req.Name
	}
	if req.Type == "ipv6" {
		fip.DNSPtr = []schema.FloatingIPDNSPtr{}
	}
	f.floatingIPs[id] = fip
	var action *schema.Action
	if req.Server != nil {
		// The new Floating IP is assigned as it is created; the action
		// that says so has ended when the answer comes.
		f.setOwnerLocked(id, *req.Server)
		a := f.newActionLocked("assign_floating_ip", []schema.ActionResourceReference{
			{ID: id, Type: "floating_ip"}, {ID: *req.Server, Type: "server"},
		}, nil, ActionPlan{})
		a.finish()
		action = &a.Action
	}
	return jsonBody(http.StatusCreated, schema.FloatingIPCreateResponse{FloatingIP: *fip, Action: action})
}
