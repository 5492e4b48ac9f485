package hetznertest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"

	"github.com/hakgen/hakgen/hetzner/hetznertest"
	"github.com/hakgen/hakgen/internal/tooltest"
)

// project puts a network and seven labelled servers into f: three control
// planes, three workers (w3 powered off), one server of another cluster.
func project(f *hetznertest.Fake) {
	f.AddNetwork(7, "k8s", "10.0.0.0/16")
	for i, s := range []struct {
		name, role, cluster, status string
	}{
		{"cp1", "control-plane", "prod", ""}, {"cp2", "control-plane", "prod", ""}, {"cp3", "control-plane", "prod", ""},
		{"w1", "worker", "prod", ""}, {"w2", "worker", "prod", ""}, {"w3", "worker", "prod", "off"},
		{"x1", "worker", "staging", ""},
	} {
		id := int64(2001 + i)
		f.PutServer(hetznertest.ServerSpec{ID: id, Name: s.name, Status: s.status,
			Labels:  map[string]string{"role": s.role, "cluster": s.cluster},
			Private: map[int64]string{7: fmt.Sprintf("10.0.1.%d", i+1)}})
	}
}

func names(servers []*hcloud.Server) []string {
	var out []string
	for _, s := range servers {
		out = append(out, s.Name)
	}
	return out
}

// TestServerListSelectsAndPages lists servers through hcloud-go with label
// selectors of each kind, two per page, so every list takes several pages.
func TestServerListSelectsAndPages(t *testing.T) {
	f := hetznertest.New(t)
	project(f)
	c := hcloud.NewClient(hcloud.WithEndpoint(f.APIEndpoint()), hcloud.WithToken("x"))
	for _, tc := range []struct {
		sel  string
		want []string
	}{
		{"cluster=prod,role=worker", []string{"w1", "w2", "w3"}},
		{"cluster==prod,role!=worker", []string{"cp1", "cp2", "cp3"}},
		{"role in (worker),cluster notin (prod)", []string{"x1"}},
		{"role", []string{"cp1", "cp2", "cp3", "w1", "w2", "w3", "x1"}},
		{"!role", []string{"lb1", "lb2", "intruder"}},
		{"role=nothing", nil},
	} {
		f.ResetLog()
		got, err := c.Server.AllWithOpts(t.Context(), hcloud.ServerListOpts{ListOpts: hcloud.ListOpts{LabelSelector: tc.sel, PerPage: 2}})
		if err != nil {
			t.Fatalf("%s: %v", tc.sel, err)
		}
		if !slices.Equal(names(got), tc.want) {
			t.Errorf("%s: %v, want %v", tc.sel, names(got), tc.want)
		}
		if pages, want := f.Count(hetznertest.ListServers), max(1, (len(tc.want)+1)/2); pages != want {
			t.Errorf("%s: %d requests, want %d (pages of 2)", tc.sel, pages, want)
		}
	}
	off, err := c.Server.AllWithOpts(t.Context(), hcloud.ServerListOpts{ListOpts: hcloud.ListOpts{LabelSelector: "role=worker"}, Status: []hcloud.ServerStatus{hcloud.ServerStatusOff}})
	if err != nil || !slices.Equal(names(off), []string{"w3"}) {
		t.Errorf("status=off: %v, %v", names(off), err)
	}
}

// TestServerListShapes reads a page as raw JSON: meta.pagination as the
// real API writes it (null for a page that does not exist), private_net
// entries with network, ip, alias_ips and mac_address, labels and status.
func TestServerListShapes(t *testing.T) {
	f := hetznertest.New(t)
	project(f)
	var page struct {
		Servers []struct {
			ID         int64             `json:"id"`
			Name       string            `json:"name"`
			Status     string            `json:"status"`
			Labels     map[string]string `json:"labels"`
			PrivateNet []map[string]any  `json:"private_net"`
		} `json:"servers"`
		Meta struct {
			Pagination map[string]*int `json:"pagination"`
		} `json:"meta"`
	}
	getJSON(t, f.APIEndpoint()+"/servers?label_selector=cluster%3Dprod&per_page=2&page=3", &page)
	if len(page.Servers) != 2 || page.Servers[0].Name != "w2" || page.Servers[1].Status != "off" || page.Servers[0].Labels["role"] != "worker" {
		t.Errorf("page 3 of 2 = %+v", page.Servers)
	}
	pn := page.Servers[0].PrivateNet
	if len(pn) != 1 || pn[0]["network"] != float64(7) || pn[0]["ip"] != "10.0.1.5" || pn[0]["mac_address"] == "" {
		t.Errorf("private_net = %v", pn)
	}
	if _, ok := pn[0]["alias_ips"].([]any); !ok {
		t.Errorf("alias_ips = %#v, want a list", pn[0]["alias_ips"])
	}
	p := page.Meta.Pagination
	if *p["page"] != 3 || *p["per_page"] != 2 || *p["previous_page"] != 2 || p["next_page"] != nil || *p["last_page"] != 3 || *p["total_entries"] != 6 {
		t.Errorf("pagination = %s", describe(p))
	}
	getJSON(t, f.APIEndpoint()+"/servers?label_selector=cluster%3Dprod&per_page=500", &page)
	if p := page.Meta.Pagination; *p["per_page"] != hetznertest.MaxPerPage || p["previous_page"] != nil || p["next_page"] != nil || len(page.Servers) != 6 {
		t.Errorf("per_page above the maximum: %s, %d servers", describe(p), len(page.Servers))
	}
}

func describe(p map[string]*int) string {
	var parts []string
	for k, v := range p {
		if v == nil {
			parts = append(parts, k+"=null")
		} else {
			parts = append(parts, fmt.Sprintf("%s=%d", k, *v))
		}
	}
	slices.Sort(parts)
	return strings.Join(parts, " ")
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer x")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("GET %s: %v\n%s", url, err, body)
	}
}

// TestServerChangesShowAtOnce: a server added, relabelled, powered off and
// deleted is listed accordingly by the next request.
func TestServerChangesShowAtOnce(t *testing.T) {
	f := hetznertest.New(t)
	project(f)
	c := hcloud.NewClient(hcloud.WithEndpoint(f.APIEndpoint()), hcloud.WithToken("x"))
	workers := func() []string {
		t.Helper()
		got, err := c.Server.AllWithOpts(t.Context(), hcloud.ServerListOpts{ListOpts: hcloud.ListOpts{LabelSelector: "cluster=prod,role=worker"}})
		if err != nil {
			t.Fatal(err)
		}
		return names(got)
	}
	f.PutServer(hetznertest.ServerSpec{ID: 3000, Name: "w4", Labels: map[string]string{"cluster": "prod", "role": "worker"}})
	if got := workers(); !slices.Equal(got, []string{"w1", "w2", "w3", "w4"}) {
		t.Errorf("after adding w4: %v", got)
	}
	if !f.SetLabels(2004, map[string]string{"cluster": "prod", "role": "retired"}) {
		t.Fatal("SetLabels: no server 2004")
	}
	if got := workers(); !slices.Equal(got, []string{"w2", "w3", "w4"}) {
		t.Errorf("after relabelling w1: %v", got)
	}
	if !f.SetStatus(2005, "off") {
		t.Fatal("SetStatus: no server 2005")
	}
	if s, _, err := c.Server.GetByID(t.Context(), 2005); err != nil || s.Status != hcloud.ServerStatusOff {
		t.Errorf("w2 after SetStatus off: %+v, %v", s, err)
	}
	if !f.DeleteServer(3000) || f.DeleteServer(3000) {
		t.Fatal("DeleteServer: want true once, then false")
	}
	if got := workers(); !slices.Equal(got, []string{"w2", "w3"}) {
		t.Errorf("after deleting w4: %v", got)
	}
	f.Grab(hetznertest.FloatingIPID, 2006)
	f.DeleteServer(2006)
	if owner := f.Owner(hetznertest.FloatingIPID); owner != 0 {
		t.Errorf("the Floating IP of a deleted server points to %d, want unassigned", owner)
	}
}

// TestNetworks looks the network up by name and by ID through hcloud-go,
// with the servers attached to it.
func TestNetworks(t *testing.T) {
	f := hetznertest.New(t)
	project(f)
	c := hcloud.NewClient(hcloud.WithEndpoint(f.APIEndpoint()), hcloud.WithToken("x"))
	n, _, err := c.Network.GetByName(t.Context(), "k8s")
	if err != nil || n == nil || n.ID != 7 || n.IPRange.String() != "10.0.0.0/16" || len(n.Servers) != 7 {
		t.Fatalf("GetByName(k8s) = %+v, %v", n, err)
	}
	if n, _, err := c.Network.Get(t.Context(), "7"); err != nil || n == nil || n.Name != "k8s" {
		t.Errorf("Get(7) = %+v, %v", n, err)
	}
	if n, _, err := c.Network.GetByName(t.Context(), "other"); n != nil || err != nil {
		t.Errorf("GetByName(other) = %+v, %v; want nil, nil", n, err)
	}
}

// TestBadSelectorRefused: the API answers invalid_input to a selector it
// cannot read.
func TestBadSelectorRefused(t *testing.T) {
	f := hetznertest.New(t)
	c := hcloud.NewClient(hcloud.WithEndpoint(f.APIEndpoint()), hcloud.WithToken("x"))
	_, err := c.Server.AllWithOpts(t.Context(), hcloud.ServerListOpts{ListOpts: hcloud.ListOpts{LabelSelector: "role in (a"}})
	if !hcloud.IsError(err, hcloud.ErrorCodeInvalidInput) {
		t.Errorf("a selector with an open parenthesis: %v, want invalid_input", err)
	}
}

// TestHcloudCLIServerList runs Debian's hcloud CLI's `server list -l`
// against the fake, as an operator checks the labels discovery selects.
func TestHcloudCLIServerList(t *testing.T) {
	bin := tooltest.Need(t, "hcloud")
	f := hetznertest.New(t)
	project(f)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "server", "list", "-l", "cluster=prod,role=worker", "-o", "noheader", "-o", "columns=name,status,private_net")
	cmd.Env = []string{"HCLOUD_ENDPOINT=" + f.APIEndpoint(), "HCLOUD_TOKEN=x", "HOME=" + t.TempDir(), "PATH=/usr/bin:/bin"}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("hcloud server list: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "w1") || !strings.Contains(lines[2], "off") || !strings.Contains(lines[0], "10.0.1.4") {
		t.Errorf("hcloud server list -l cluster=prod,role=worker:\n%s", out)
	}
	reqs := f.Requests()
	i := slices.IndexFunc(reqs, func(r hetznertest.Request) bool { return r.Endpoint == hetznertest.ListServers })
	if i < 0 || !strings.Contains(reqs[i].Query, "label_selector=cluster%3Dprod%2Crole%3Dworker") {
		t.Errorf("the CLI listed no servers by the selector: %v", reqs)
	}
}

// TestHcloudCLIAddLabel: Debian's hcloud CLI labels a server of the fake
// as an operator labels a node for discovery; other labels stay.
func TestHcloudCLIAddLabel(t *testing.T) {
	bin := tooltest.Need(t, "hcloud")
	f := hetznertest.New(t)
	project(f)
	f.PutServer(hetznertest.ServerSpec{ID: 3000, Name: "w4", Labels: map[string]string{"team": "a"}})
	for _, label := range []string{"cluster=prod", "role=worker"} {
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
		cmd := exec.CommandContext(ctx, bin, "server", "add-label", "w4", label)
		cmd.Env = []string{"HCLOUD_ENDPOINT=" + f.APIEndpoint(), "HCLOUD_TOKEN=x", "HOME=" + t.TempDir(), "PATH=/usr/bin:/bin"}
		out, err := cmd.CombinedOutput()
		cancel()
		if err != nil {
			t.Fatalf("hcloud server add-label w4 %s: %v\n%s", label, err, out)
		}
	}
	c := hcloud.NewClient(hcloud.WithEndpoint(f.APIEndpoint()), hcloud.WithToken("x"))
	s, _, err := c.Server.GetByID(t.Context(), 3000)
	if err != nil || s.Labels["cluster"] != "prod" || s.Labels["role"] != "worker" || s.Labels["team"] != "a" {
		t.Errorf("w4 after add-label: %+v, %v", s.Labels, err)
	}
	if f.Count(hetznertest.UpdateServer) != 2 {
		t.Errorf("%d updates, want 2: %v", f.Count(hetznertest.UpdateServer), f.Requests())
	}
}
