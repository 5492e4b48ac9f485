package hetznertest

import (
	"cmp"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud/schema"
)

func notFound(what string) (int, []byte) {
	return apiError(http.StatusNotFound, "not_found", what+" not found")
}

func (f *Fake) assign(r *http.Request, idText string) (int, []byte) {
	var req schema.FloatingIPActionAssignRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		return apiError(http.StatusBadRequest, "json_error", "invalid JSON")
	}
	id, _ := strconv.ParseInt(idText, 10, 64)
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.floatingIPs[id]; !ok {
		return notFound("floating_ip")
	}
	if _, ok := f.servers[req.Server]; !ok {
		return apiError(http.StatusUnprocessableEntity, "invalid_input", "invalid input in field 'server'")
	}
	f.nextAction++
	a := &fakeAction{
		Action: schema.Action{
			ID: f.nextAction, Status: "running", Command: "assign_floating_ip",
			Started: time.Now().UTC(),
			Resources: []schema.ActionResourceReference{
				{ID: id, Type: "floating_ip"}, {ID: req.Server, Type: "server"},
			},
		},
	}
	plan := f.takePlanLocked()
	a.pollsLeft, a.final = plan.RunningPolls, plan
	a.apply = func() {
		f.setOwnerLocked(id, req.Server)
		f.assignedLocked(id, req.Server)
	}
	f.actions[a.ID] = a
	return jsonBody(http.StatusCreated, schema.FloatingIPActionAssignResponse{Action: a.Action})
}

func (f *Fake) getAction(idText string) (int, []byte) {
	id, _ := strconv.ParseInt(idText, 10, 64)
	f.mu.Lock()
	defer f.mu.Unlock()
	a, ok := f.actions[id]
	if !ok {
		return notFound("action")
	}
	return jsonBody(http.StatusOK, schema.ActionGetResponse{Action: a.poll()})
}

func (f *Fake) listActions(r *http.Request) (int, []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := []schema.Action{}
	for _, idText := range r.URL.Query()["id"] {
		id, _ := strconv.ParseInt(idText, 10, 64)
		if a, ok := f.actions[id]; ok {
			out = append(out, a.poll())
		}
	}
	return jsonBody(http.StatusOK, struct {
		schema.ActionListResponse
		schema.MetaResponse
	}{schema.ActionListResponse{Actions: out}, onePage(len(out))})
}

func (f *Fake) getFloatingIP(idText string) (int, []byte) {
	id, _ := strconv.ParseInt(idText, 10, 64)
	f.mu.Lock()
	defer f.mu.Unlock()
	fip, ok := f.floatingIPs[id]
	if !ok {
		return notFound("floating_ip")
	}
	return jsonBody(http.StatusOK, schema.FloatingIPGetResponse{FloatingIP: *fip})
}

func (f *Fake) listFloatingIPs(r *http.Request) (int, []byte) {
	name := r.URL.Query().Get("name")
	f.mu.Lock()
	defer f.mu.Unlock()
	out := []schema.FloatingIP{}
	for _, fip := range f.floatingIPs {
		if name == "" || fip.Name == name {
			out = append(out, *fip)
		}
	}
	slices.SortFunc(out, func(a, b schema.FloatingIP) int { return cmp.Compare(a.ID, b.ID) })
	return jsonBody(http.StatusOK, struct {
		schema.FloatingIPListResponse
		schema.MetaResponse
	}{schema.FloatingIPListResponse{FloatingIPs: out}, onePage(len(out))})
}

func (f *Fake) getServer(idText string) (int, []byte) {
	id, _ := strconv.ParseInt(idText, 10, 64)
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.servers[id]
	if !ok {
		return notFound("server")
	}
	return jsonBody(http.StatusOK, schema.ServerGetResponse{Server: *s})
}

func (f *Fake) listServers(r *http.Request) (int, []byte) {
	return f.serverPage(r) // servers.go: label selectors and pages
}

// metadata answers the metadata service's plain-text endpoints, for the
// server at the caller's address.
func (f *Fake) metadata(r *http.Request, key string) (int, []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	id := f.instanceID
	if own, ok := f.instanceFor[remoteAddr(r)]; ok {
		id = own
	}
	switch key {
	case "instance-id":
		return http.StatusOK, []byte(strconv.FormatInt(id, 10))
	case "hostname":
		if s, ok := f.servers[id]; ok {
			return http.StatusOK, []byte(s.Name)
		}
		return http.StatusOK, []byte("unknown")
	}
	return http.StatusNotFound, []byte("not found")
}

func onePage(n int) schema.MetaResponse {
	return schema.MetaResponse{Meta: schema.Meta{Pagination: &schema.MetaPagination{
		Page: 1, PerPage: 25, LastPage: 1, TotalEntries: n,
	}}}
}
