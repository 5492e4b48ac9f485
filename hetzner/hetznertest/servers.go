package hetznertest

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud/schema"

	"github.com/hakgen/hakgen/hetzner/selector"
)

// The endpoints of discovery's requests, and of `hcloud server
// add-label` (UpdateServer) and `attach-to-network`.
const (
	ListNetworks    Endpoint = "list_networks"
	GetNetwork      Endpoint = "get_network"
	UpdateServer    Endpoint = "update_server"
	AttachToNetwork Endpoint = "attach_to_network"
)

// Pages of list answers, as the real API pages them.
const (
	DefaultPerPage = 25
	MaxPerPage     = 50
)

// ServerSpec is a server of the project, as a test puts it into the fake
// (PutServer): what `hcloud server create` and `add-label` would make.
type ServerSpec struct {
	ID   int64
	Name string
	// Status is the server's status: running (when empty), off,
	// starting, stopping, initializing, migrating, rebuilding, deleting
	// or unknown.
	Status string
	Labels map[string]string
	// Private maps network IDs to the server's IP in that network
	// (attach-to-network).
	Private map[int64]string
}

// AddNetwork adds (or replaces) a private network with the given IP range
// and cloud subnets, e.g. AddNetwork(7, "k8s", "10.0.0.0/16",
// "10.0.0.0/24"); without subnets, one covers the whole range.
func (f *Fake) AddNetwork(id int64, name, ipRange string, subnets ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.networks == nil {
		f.networks = map[int64]*schema.Network{}
	}
	if len(subnets) == 0 {
		subnets = []string{ipRange}
	}
	n := &schema.Network{
		ID: id, Name: name, Created: created, IPRange: ipRange,
		Routes: []schema.NetworkRoute{}, Servers: []int64{}, LoadBalancers: []int64{},
		Labels: map[string]string{},
	}
	for _, sub := range subnets {
		n.Subnets = append(n.Subnets, schema.NetworkSubnet{
			Type: "cloud", IPRange: sub, NetworkZone: "eu-central", Gateway: gateway(ipRange),
		})
	}
	f.networks[id] = n
}

// gateway is the first address of a range, as Hetzner's subnets have it.
func gateway(ipRange string) string {
	p, err := netip.ParsePrefix(ipRange)
	if err != nil {
		return ""
	}
	return p.Masked().Addr().Next().String()
}

// PutServer adds a server, or replaces the one with its ID: a new name,
// status, labels or private IPs take effect at once, for every later
// request. The Floating IPs assigned to it stay assigned.
func (f *Fake) PutServer(spec ServerSpec) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := newServer(spec.ID, spec.Name)
	if old, ok := f.servers[spec.ID]; ok {
		s.PublicNet.FloatingIPs = old.PublicNet.FloatingIPs
	}
	s.Status = cmp.Or(spec.Status, "running")
	for k, v := range spec.Labels {
		s.Labels[k] = v
	}
	for _, network := range slices.Sorted(maps.Keys(spec.Private)) {
		s.PrivateNet = append(s.PrivateNet, schema.ServerPrivateNet{
			Network: network, IP: spec.Private[network], AliasIPs: []string{},
			MACAddress: fmt.Sprintf("86:00:00:%02x:%02x:%02x", byte(spec.ID>>16), byte(spec.ID>>8), byte(spec.ID)),
		})
	}
	f.servers[spec.ID] = s
}

// SetLabels replaces the labels of server id (`hcloud server add-label`
// and `remove-label`); false when there is no such server.
func (f *Fake) SetLabels(id int64, labels map[string]string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.servers[id]
	if !ok {
		return false
	}
	s.Labels = map[string]string{}
	for k, v := range labels {
		s.Labels[k] = v
	}
	return true
}

// SetStatus sets the status of server id (e.g. "off" after `hcloud
// server poweroff`); false when there is no such server.
func (f *Fake) SetStatus(id int64, status string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.servers[id]
	if ok {
		s.Status = status
	}
	return ok
}

// DeleteServer removes server id, as `hcloud server delete` does (a
// Floating IP assigned to it becomes unassigned); false when there was no
// such server.
func (f *Fake) DeleteServer(id int64) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.servers[id]; !ok {
		return false
	}
	for fid, fip := range f.floatingIPs {
		if fip.Server != nil && *fip.Server == id {
			f.setOwnerLocked(fid, 0)
		}
	}
	delete(f.servers, id)
	return true
}

// updateServer answers PUT /v1/servers/{id}: a new name and/or labels
// (the labels replace the old ones, as the API does).
func (f *Fake) updateServer(r *http.Request, idText string) (int, []byte) {
	var req schema.ServerUpdateRequest
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
	if req.Name != "" {
		s.Name = req.Name
	}
	if req.Labels != nil {
		s.Labels = map[string]string{}
		for k, v := range *req.Labels {
			s.Labels[k] = v
		}
	}
	return jsonBody(http.StatusOK, schema.ServerUpdateResponse{Server: *s})
}

// attachToNetwork answers POST /v1/servers/{id}/actions/attach_to_network
// with an action that succeeds on its first poll: the server then has the
// requested IP in the network, or the first free one of its range.
func (f *Fake) attachToNetwork(r *http.Request, idText string) (int, []byte) {
	var req schema.ServerActionAttachToNetworkRequest
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
	ip := ""
	if req.IP != nil {
		ip = *req.IP
	} else if ip = f.freeIPLocked(n); ip == "" {
		return apiError(http.StatusConflict, "no_subnet_available", "no free IP in the network")
	}
	f.nextAction++
	a := &fakeAction{
		Action: schema.Action{ID: f.nextAction, Status: "running", Command: "attach_to_network", Started: time.Now().UTC(),
			Resources: []schema.ActionResourceReference{{ID: id, Type: "server"}, {ID: n.ID, Type: "network"}}},
		apply: func() {
			s.PrivateNet = append(s.PrivateNet, schema.ServerPrivateNet{Network: n.ID, IP: ip, AliasIPs: []string{},
				MACAddress: fmt.Sprintf("86:00:00:%02x:%02x:%02x", byte(id>>16), byte(id>>8), byte(id))})
		},
	}
	f.actions[a.ID] = a
	return jsonBody(http.StatusCreated, schema.ServerActionAttachToNetworkResponse{Action: a.Action})
}

// freeIPLocked is the first address of n's range after its gateway that
// no server has; "" when there is none. The caller holds f.mu.
func (f *Fake) freeIPLocked(n *schema.Network) string {
	p, err := netip.ParsePrefix(n.IPRange)
	if err != nil {
		return ""
	}
	used := map[string]bool{}
	for _, s := range f.servers {
		for _, pn := range s.PrivateNet {
			used[pn.IP] = true
		}
	}
	for a, i := p.Masked().Addr().Next().Next(), 0; p.Contains(a) && i < 1<<16; a, i = a.Next(), i+1 {
		if !used[a.String()] {
			return a.String()
		}
	}
	return ""
}

// serverPage answers GET /v1/servers: filtered by name, status and
// label_selector, sorted by ID, one page of page and per_page.
func (f *Fake) serverPage(r *http.Request) (int, []byte) {
	q := r.URL.Query()
	var sel selector.Selector
	if text := q.Get("label_selector"); text != "" {
		var err error
		if sel, err = selector.Parse(text); err != nil {
			return apiError(http.StatusBadRequest, "invalid_input", "label_selector: "+err.Error())
		}
	}
	pg, status, body := pageOf(q.Get("page"), q.Get("per_page"))
	if status != 0 {
		return status, body
	}
	name, statuses := q.Get("name"), q["status"]
	f.mu.Lock()
	var all []schema.Server
	for _, s := range f.servers {
		if (name == "" || s.Name == name) && (len(statuses) == 0 || slices.Contains(statuses, s.Status)) && sel.Matches(s.Labels) {
			all = append(all, *s)
		}
	}
	f.mu.Unlock()
	slices.SortFunc(all, func(a, b schema.Server) int { return cmp.Compare(a.ID, b.ID) })
	out, meta := pg.cut(len(all))
	return jsonBody(http.StatusOK, struct {
		Servers []schema.Server `json:"servers"`
		Meta    pageMeta        `json:"meta"`
	}{append([]schema.Server{}, all[out.from:out.to]...), meta})
}

// networkList answers GET /v1/networks, filtered by name and
// label_selector.
func (f *Fake) networkList(r *http.Request) (int, []byte) {
	q := r.URL.Query()
	var sel selector.Selector
	if text := q.Get("label_selector"); text != "" {
		var err error
		if sel, err = selector.Parse(text); err != nil {
			return apiError(http.StatusBadRequest, "invalid_input", "label_selector: "+err.Error())
		}
	}
	pg, status, body := pageOf(q.Get("page"), q.Get("per_page"))
	if status != 0 {
		return status, body
	}
	name := q.Get("name")
	f.mu.Lock()
	var all []schema.Network
	for _, n := range f.networks {
		if (name == "" || n.Name == name) && sel.Matches(n.Labels) {
			all = append(all, f.networkLocked(n))
		}
	}
	f.mu.Unlock()
	slices.SortFunc(all, func(a, b schema.Network) int { return cmp.Compare(a.ID, b.ID) })
	out, meta := pg.cut(len(all))
	return jsonBody(http.StatusOK, struct {
		Networks []schema.Network `json:"networks"`
		Meta     pageMeta         `json:"meta"`
	}{append([]schema.Network{}, all[out.from:out.to]...), meta})
}

// getNetwork answers GET /v1/networks/{id}.
func (f *Fake) getNetwork(idText string) (int, []byte) {
	id, _ := strconv.ParseInt(idText, 10, 64)
	f.mu.Lock()
	defer f.mu.Unlock()
	n, ok := f.networks[id]
	if !ok {
		return notFound("network")
	}
	return jsonBody(http.StatusOK, schema.NetworkGetResponse{Network: f.networkLocked(n)})
}

// networkLocked is n with the servers attached to it now. The caller
// holds f.mu.
func (f *Fake) networkLocked(n *schema.Network) schema.Network {
	out := *n
	out.Servers = []int64{}
	for id, s := range f.servers {
		for _, pn := range s.PrivateNet {
			if pn.Network == n.ID {
				out.Servers = append(out.Servers, id)
			}
		}
	}
	slices.Sort(out.Servers)
	return out
}

// page is the page a list request asks for.
type page struct{ number, perPage int }

// pageOf reads the page and per_page parameters; a status other than 0 is
// the API's answer to invalid ones.
func pageOf(pageText, perPageText string) (page, int, []byte) {
	p := page{number: 1, perPage: DefaultPerPage}
	for _, v := range []struct {
		text string
		dst  *int
		max  int
	}{{pageText, &p.number, 0}, {perPageText, &p.perPage, MaxPerPage}} {
		if v.text == "" {
			continue
		}
		n, err := strconv.Atoi(v.text)
		if err != nil || n < 1 {
			status, body := apiError(http.StatusBadRequest, "invalid_input", "invalid page or per_page")
			return page{}, status, body
		}
		if v.max > 0 {
			n = min(n, v.max)
		}
		*v.dst = n
	}
	return p, 0, nil
}

type span struct{ from, to int }

// cut returns the items of this page among total and the pagination
// meta of the answer.
func (p page) cut(total int) (span, pageMeta) {
	last := max(1, (total+p.perPage-1)/p.perPage)
	from := min(total, (p.number-1)*p.perPage)
	to := min(total, from+p.perPage)
	meta := pageMeta{Pagination: pagination{Page: p.number, PerPage: p.perPage, LastPage: last, TotalEntries: total}}
	if p.number > 1 {
		prev := min(p.number-1, last)
		meta.Pagination.PreviousPage = &prev
	}
	if p.number < last {
		next := p.number + 1
		meta.Pagination.NextPage = &next
	}
	return span{from, to}, meta
}

// pageMeta is the meta object of a list answer. The real API writes null
// for a previous or next page that does not exist (hcloud-go's schema
// reads null and 0 alike).
type pageMeta struct {
	Pagination pagination `json:"pagination"`
}

type pagination struct {
	Page         int  `json:"page"`
	PerPage      int  `json:"per_page"`
	PreviousPage *int `json:"previous_page"`
	NextPage     *int `json:"next_page"`
	LastPage     int  `json:"last_page"`
	TotalEntries int  `json:"total_entries"`
}
