package hetznertest

import (
	"cmp"
	"encoding/json"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud/schema"
)

// The quick start's network (AddQuickStartNetwork): NetworkName,
// 10.0.0.0/16 with the cloud subnet 10.0.0.0/24, ThisServer at
// ThisServerPrivateIP and OtherServer at OtherServerPrivateIP on it, and
// no routes.
const (
	NetworkID            int64 = 4242
	NetworkName                = "k8s"
	NetworkIPRange             = "10.0.0.0/16"
	NetworkSubnet              = "10.0.0.0/24"
	ThisServerPrivateIP        = "10.0.0.5"
	OtherServerPrivateIP       = "10.0.0.6"
)

// The route endpoints of the network API the fake serves (the networks
// themselves are servers.go's: GET /v1/networks, /v1/networks/{id}):
//
//	POST /v1/networks/{id}/actions/add_route, .../delete_route
//	GET  /v1/networks/{id}/actions/{action}
//
// A route change is an action like an assign: "running" until polled as
// ActionPlan says, applied when it ends in success. While one runs, another
// change of the same network is refused with 409 conflict, as the real API
// refuses it; a route whose destination overlaps a subnet or another route
// is refused with invalid_input.
const (
	AddRoute    Endpoint = "add_route"
	DeleteRoute Endpoint = "delete_route"
)

// networkWorld is what the fake keeps of route changes.
type networkWorld struct {
	changing map[int64]*fakeAction // the running action of each network
	changes  []RouteChange
	hooks    []*routeCalls // OnRouteChanged
}

// RouteChange is a network's routes right after one change.
type RouteChange struct {
	Network int64
	At      time.Time
	Routes  []schema.NetworkRoute
}

// AttachServer puts a server on a network at ip, as `hcloud server
// attach-to-network` does.
func (f *Fake) AttachServer(network, server int64, ip string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	srv, ok := f.servers[server]
	if _, known := f.networks[network]; !ok || !known {
		return
	}
	srv.PrivateNet = append(srv.PrivateNet, schema.ServerPrivateNet{
		Network: network, IP: ip, AliasIPs: []string{}, MACAddress: "86:00:00:00:00:" + strconv.FormatInt(server%90+10, 10),
	})
}

// AddQuickStartNetwork adds the network of the README's quick start
// (step 2), with both load balancers of the default world on it.
func (f *Fake) AddQuickStartNetwork() {
	f.AddNetwork(NetworkID, NetworkName, NetworkIPRange, NetworkSubnet)
	f.AttachServer(NetworkID, ThisServer, ThisServerPrivateIP)
	f.AttachServer(NetworkID, OtherServer, OtherServerPrivateIP)
}

// SetRoute points the route for destination to gateway at once, adding it
// when there is none, as an operator (or the other node) would.
func (f *Fake) SetRoute(network int64, destination, gateway string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, ok := f.networks[network]
	if !ok {
		return
	}
	n.Routes = slices.DeleteFunc(n.Routes, func(r schema.NetworkRoute) bool { return r.Destination == destination })
	n.Routes = append(n.Routes, schema.NetworkRoute{Destination: destination, Gateway: gateway})
	f.routeChangedLocked(n)
}

// RouteGateway is the gateway of the network's route for destination, ""
// when it has none.
func (f *Fake) RouteGateway(network int64, destination string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if n, ok := f.networks[network]; ok {
		for _, r := range n.Routes {
			if r.Destination == destination {
				return r.Gateway
			}
		}
	}
	return ""
}

// RouteChanges returns the network's routes after each change so far, in
// order: how a test sees every state the routes went through.
func (f *Fake) RouteChanges(network int64) []RouteChange {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []RouteChange
	for _, c := range f.nets.changes {
		if c.Network == network {
			out = append(out, c)
		}
	}
	return out
}

func (f *Fake) routeChangedLocked(n *schema.Network) {
	c := RouteChange{Network: n.ID, At: time.Now(), Routes: slices.Clone(n.Routes)}
	f.nets.changes = append(f.nets.changes, c)
	for _, h := range f.nets.hooks {
		h.add(c)
	}
}

// routeNetworks routes the network API's requests; ok is false for any
// other request.
func (f *Fake) routeNetworks(r *http.Request, parts []string) (Endpoint, handlerFunc, bool) {
	if len(parts) == 0 || parts[0] != "networks" {
		return "", nil, false
	}
	get, post := r.Method == http.MethodGet, r.Method == http.MethodPost
	switch {
	case len(parts) == 4 && parts[2] == "actions" && parts[3] == "add_route" && post:
		return AddRoute, func(r *http.Request) (int, []byte) { return f.changeRoute(r, parts[1], true) }, true
	case len(parts) == 4 && parts[2] == "actions" && parts[3] == "delete_route" && post:
		return DeleteRoute, func(r *http.Request) (int, []byte) { return f.changeRoute(r, parts[1], false) }, true
	case len(parts) == 4 && parts[2] == "actions" && get:
		return GetAction, func(*http.Request) (int, []byte) { return f.getAction(parts[3]) }, true
	}
	return "", nil, false
}

// changeRoute answers add_route (add) and delete_route (!add): an action
// that changes the routes when it ends in success.
func (f *Fake) changeRoute(r *http.Request, idText string, add bool) (int, []byte) {
	var req schema.NetworkActionAddRouteRequest // delete_route's request has the same fields
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		return apiError(http.StatusBadRequest, "json_error", "invalid JSON")
	}
	id, _ := strconv.ParseInt(idText, 10, 64)
	f.mu.Lock()
	defer f.mu.Unlock()
	n, ok := f.networks[id]
	if !ok {
		return notFound("network")
	}
	if f.nets.changing == nil {
		f.nets.changing = map[int64]*fakeAction{}
	}
	if a := f.nets.changing[id]; a != nil && a.Status == "running" {
		return apiError(http.StatusConflict, "conflict", "a change is currently being performed on this network")
	}
	route := schema.NetworkRoute{Destination: req.Destination, Gateway: req.Gateway}
	if status, body, bad := checkRoute(n, route, add); bad {
		return status, body
	}
	command, apply := "delete_route", func() {
		n.Routes = slices.DeleteFunc(n.Routes, func(x schema.NetworkRoute) bool { return x == route })
		f.routeChangedLocked(n)
	}
	if add {
		command, apply = "add_route", func() {
			n.Routes = append(n.Routes, route)
			f.routeChangedLocked(n)
		}
	}
	a := f.newActionLocked(command, []schema.ActionResourceReference{{ID: id, Type: "network"}}, apply, f.takePlanLocked())
	f.nets.changing[id] = a
	return jsonBody(http.StatusCreated, schema.NetworkActionAddRouteResponse{Action: a.Action})
}

// checkRoute refuses what the real API refuses: a destination or gateway
// that is no address, an added route that overlaps a subnet or another
// route, a deleted route that does not exist.
func checkRoute(n *schema.Network, route schema.NetworkRoute, add bool) (int, []byte, bool) {
	dest, err := netip.ParsePrefix(route.Destination)
	if _, gerr := netip.ParseAddr(route.Gateway); err != nil || gerr != nil {
		status, body := apiError(http.StatusBadRequest, "invalid_input", "invalid input in fields 'destination', 'gateway'")
		return status, body, true
	}
	if !add {
		if !slices.Contains(n.Routes, route) {
			status, body := apiError(http.StatusNotFound, "not_found", "network route not found")
			return status, body, true
		}
		return 0, nil, false
	}
	var taken []string
	for _, s := range n.Subnets {
		taken = append(taken, s.IPRange)
	}
	for _, r := range n.Routes {
		taken = append(taken, r.Destination)
	}
	for _, t := range taken {
		if p, err := netip.ParsePrefix(t); err == nil && p.Overlaps(dest) {
			status, body := apiError(http.StatusBadRequest, "invalid_input", "network route destination overlaps with another subnetwork or network route")
			return status, body, true
		}
	}
	return 0, nil, false
}

// newActionLocked creates a running action that proceeds as plan says
// (takePlanLocked's for a request a client made); apply runs when it ends
// in success. The caller holds f.mu.
func (f *Fake) newActionLocked(command string, resources []schema.ActionResourceReference, apply func(), plan ActionPlan) *fakeAction {
	f.nextAction++
	a := &fakeAction{
		Action: schema.Action{
			ID: f.nextAction, Status: "running", Command: command,
			Started: time.Now().UTC(), Resources: resources,
		},
		apply:     apply,
		pollsLeft: plan.RunningPolls,
		final:     plan,
	}
	f.actions[a.ID] = a
	return a
}

// Actions returns every action so far as a client would see it now
// (without polling it), ordered by ID: when each started and finished.
func (f *Fake) Actions() []schema.Action {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]schema.Action, 0, len(f.actions))
	for _, a := range f.actions {
		out = append(out, a.Action)
	}
	slices.SortFunc(out, func(a, b schema.Action) int { return cmp.Compare(a.ID, b.ID) })
	return out
}
