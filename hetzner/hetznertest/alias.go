package hetznertest

import (
	"encoding/json"
	"net/http"
	"net/netip"
	"slices"
	"strconv"

	"github.com/hetznercloud/hcloud-go/v2/hcloud/schema"
)

// ChangeAliasIPs is the request that sets a server's alias IPs on a
// network, the other way to lead a private address to one server:
//
//	POST /v1/servers/{id}/actions/change_alias_ips {"network": N, "alias_ips": [...]}
//
// It is an action like a route change, applied when it ends in success
// (ActionPlan), with the same faults (Inject, InjectOn with the server's
// ID). The list replaces the server's alias IPs on that network. As the
// real API does, it refuses a server that is not on the network, an
// address outside the network's range or already another server's (its IP
// or an alias IP), and a change while another runs on the server (423
// locked).
const ChangeAliasIPs Endpoint = "change_alias_ips"

// routeAliasIPs routes POST /v1/servers/{id}/actions/change_alias_ips.
func (f *Fake) routeAliasIPs(r *http.Request, parts []string) (Endpoint, handlerFunc, bool) {
	if len(parts) == 4 && parts[0] == "servers" && parts[2] == "actions" && parts[3] == "change_alias_ips" && r.Method == http.MethodPost {
		return ChangeAliasIPs, func(r *http.Request) (int, []byte) { return f.changeAliasIPs(r, parts[1]) }, true
	}
	return "", nil, false
}

// changeAliasIPs answers change_alias_ips.
func (f *Fake) changeAliasIPs(r *http.Request, idText string) (int, []byte) {
	var req schema.ServerActionChangeAliasIPsRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		return apiError(http.StatusBadRequest, "json_error", "invalid JSON")
	}
	id, _ := strconv.ParseInt(idText, 10, 64)
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.servers[id]
	if !ok {
		return notFound("server")
	}
	n, ok := f.networks[req.Network]
	if !ok {
		return apiError(http.StatusUnprocessableEntity, "invalid_input", "invalid input in field 'network'")
	}
	at := slices.IndexFunc(s.PrivateNet, func(pn schema.ServerPrivateNet) bool { return pn.Network == n.ID })
	if at < 0 {
		return apiError(http.StatusUnprocessableEntity, "server_not_attached_to_network", "server is not attached to the network")
	}
	if status, body, bad := f.checkAliasIPsLocked(n, id, req.AliasIPs); bad {
		return status, body
	}
	if f.aliasChanging == nil {
		f.aliasChanging = map[int64]*fakeAction{}
	}
	if a := f.aliasChanging[id]; a != nil && a.Status == "running" {
		return apiError(http.StatusLocked, "locked", "server is locked")
	}
	ips := slices.Clone(req.AliasIPs)
	apply := func() {
		for i := range s.PrivateNet {
			if s.PrivateNet[i].Network == n.ID {
				s.PrivateNet[i].AliasIPs = ips
			}
		}
	}
	a := f.newActionLocked("change_alias_ips", []schema.ActionResourceReference{{ID: id, Type: "server"}, {ID: n.ID, Type: "network"}}, apply, f.takePlanLocked())
	f.aliasChanging[id] = a
	return jsonBody(http.StatusCreated, schema.ServerActionChangeAliasIPsResponse{Action: a.Action})
}

// checkAliasIPsLocked refuses an alias IP that is no address, lies outside
// n's range, or is taken on n by a server other than id. The caller holds
// f.mu.
func (f *Fake) checkAliasIPsLocked(n *schema.Network, id int64, ips []string) (int, []byte, bool) {
	rng, err := netip.ParsePrefix(n.IPRange)
	if err != nil {
		status, body := apiError(http.StatusInternalServerError, "server_error", "network without a range")
		return status, body, true
	}
	for _, ip := range ips {
		a, err := netip.ParseAddr(ip)
		if err != nil || !rng.Contains(a) {
			status, body := apiError(http.StatusUnprocessableEntity, "invalid_input", "invalid input in field 'alias_ips': "+ip+" is not in the network's range")
			return status, body, true
		}
		if owner := f.aliasOwnerLocked(n.ID, ip); owner != 0 && owner != id {
			status, body := apiError(http.StatusConflict, "ip_not_available", "the IP "+ip+" is not available")
			return status, body, true
		}
	}
	return 0, nil, false
}

// aliasOwnerLocked is the server that has ip on network as its IP or an
// alias IP; 0 when none has. The caller holds f.mu.
func (f *Fake) aliasOwnerLocked(network int64, ip string) int64 {
	for sid, s := range f.servers {
		for _, pn := range s.PrivateNet {
			if pn.Network == network && (pn.IP == ip || slices.Contains(pn.AliasIPs, ip)) {
				return sid
			}
		}
	}
	return 0
}

// AliasIPs returns server's alias IPs on network as the API shows them
// now; nil when the server is not on it.
func (f *Fake) AliasIPs(server, network int64) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.servers[server]
	if !ok {
		return nil
	}
	for _, pn := range s.PrivateNet {
		if pn.Network == network {
			return slices.Clone(pn.AliasIPs)
		}
	}
	return nil
}
