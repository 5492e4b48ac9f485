package main

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hakgen/hakgen/agent"
	"github.com/hakgen/hakgen/discovery"
	"github.com/hakgen/hakgen/hetzner/hetznertest"
)

const cliToken = "cli-discovery-token"

// discoveryFake is a fake project with the network k8s and the labelled,
// running worker w4 at 10.0.0.24; HCLOUD_ENDPOINT points at it.
func discoveryFake(t *testing.T) *hetznertest.Fake {
	t.Helper()
	f := hetznertest.New(t)
	f.RequireToken(cliToken)
	f.AddNetwork(7, "k8s", "10.0.0.0/16")
	f.PutServer(hetznertest.ServerSpec{ID: 3004, Name: "w4", Labels: map[string]string{"role": "worker"}, Private: map[int64]string{7: "10.0.0.24"}})
	t.Setenv("HCLOUD_ENDPOINT", f.APIEndpoint())
	return f
}

// discoveryState is daemonState with workers discovered by role=worker,
// its token in dir.
func discoveryState(t *testing.T, dir string) string {
	t.Helper()
	token := filepath.Join(dir, "hcloud-token")
	if err := os.WriteFile(token, []byte(cliToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// maxconn 2000: HAProxy needs about 4000 descriptors, under this
	// machine's hard limit of 20000 that validate checks.
	return daemonState + "haproxy: {maxconn: 2000}\nhcloud: {tokenFile: " + token + "}\ndiscovery:\n  hcloud: {network: k8s, workers: role=worker}\n"
}

// TestRunDiscovers runs the daemon through its argument vector with a
// discovery section: the first poll adds w4 to haproxy.cfg (a reconcile
// triggered by discovery), keeps it in --discovered-file, and status (text
// and JSON) shows it with the last successful poll and what polling costs.
func TestRunDiscovers(t *testing.T) {
	discoveryFake(t)
	dir := t.TempDir()
	kept := filepath.Join(dir, "discovered.json")
	d := startDaemon(t, discoveryState(t, dir), "--discovered-file", kept)
	d.waitStatus(t, "the discovered worker applied", func(s *agent.Status) bool {
		return s.Healthy && s.Last != nil && s.Last.Trigger == agent.TriggerSource
	})
	if cfg := string(mustRead(t, d.config)); !strings.Contains(cfg, "server w4 10.0.0.24:80 ") || !strings.Contains(cfg, "server w1 10.0.0.21:80 ") {
		t.Errorf("haproxy.cfg does not route to w1 and w4:\n%s", cfg)
	}
	saved, err := discovery.Load(kept)
	if err != nil || len(saved.Workers) != 1 || saved.Workers[0].Name != "w4" {
		t.Errorf("kept set: %+v, %v", saved.Set, err)
	}
	code, out, stderr := runCLI(t, "status", "--status-file", d.status)
	if code != exitOK || !strings.Contains(out, "discovery:") || !strings.Contains(out, `workers "role=worker": 1 (w4 10.0.0.24)`) ||
		!strings.Contains(out, "last successful poll: ") || !strings.Contains(out, "1 requests a poll, about 120 an hour from this node (240 with both)") ||
		!strings.Contains(out, "rate limit: ") {
		t.Errorf("status: exit %d\n%s%s", code, out, stderr)
	}
	code, out, _ = runCLI(t, "status", "--status-file", d.status, "--json")
	var doc struct {
		Discovery discovery.Status `json:"discovery"`
	}
	if err := json.Unmarshal([]byte(out), &doc); code != exitOK || err != nil {
		t.Fatalf("status --json: exit %d, %v\n%s", code, err, out)
	}
	if ds := doc.Discovery; len(ds.Servers.Workers) != 1 || ds.LastSuccess.IsZero() || ds.RequestsPerHour != 120 || ds.RequestsPerPoll != 1 || ds.RateLimit == nil {
		t.Errorf("status --json's discovery: %+v", ds)
	}

	stale, err := os.ReadFile(discovery.StatusPath(d.status))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(discovery.StatusPath(d.status), []byte(strings.Replace(string(stale), `"pid": `, `"pid": 1`, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, out, _ := runCLI(t, "status", "--status-file", d.status); strings.Contains(out, "discovery:") {
		t.Errorf("status shows the discovery status of another process:\n%s", out)
	}
}

// TestRunStartsFromTheKeptSet: with the API refusing every request, a
// daemon started on a kept set routes to its servers from its first
// reconcile, and keeps them.
func TestRunStartsFromTheKeptSet(t *testing.T) {
	f := discoveryFake(t)
	f.Inject(hetznertest.ListNetworks, 1000, hetznertest.ServerError(http.StatusServiceUnavailable))
	dir := t.TempDir()
	kept := filepath.Join(dir, "discovered.json")
	if err := discovery.Save(kept, discovery.Saved{PolledAt: time.Now(), Network: "k8s",
		Set: discovery.Set{Workers: []discovery.Server{{Name: "w5", Address: "10.0.0.25", ID: 3005}}}}); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, discoveryState(t, dir), "--discovered-file", kept)
	if cfg := string(mustRead(t, d.config)); !strings.Contains(cfg, "server w5 10.0.0.25:80 ") {
		t.Errorf("the first haproxy.cfg does not route to the kept w5:\n%s", cfg)
	}
	var st *discovery.Status
	for range 500 {
		if s, err := discovery.ReadStatus(discovery.StatusPath(d.status)); err == nil && s.Failures > 0 {
			st = s
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if st == nil || st.Source != "persisted" || len(st.Servers.Workers) != 1 || st.LastPoll.Error == "" {
		t.Fatalf("discovery status after a failed poll: %+v", st)
	}
	_, out, _ := runCLI(t, "status", "--status-file", d.status)
	if !strings.Contains(out, "servers kept from before") || !strings.Contains(out, "last poll failed") || !strings.Contains(out, "last successful poll: none yet") {
		t.Errorf("status during the outage:\n%s", out)
	}
}

// TestValidateDiscovers: validate lists the servers one poll finds and
// checks haproxy.cfg with them; when the API fails it warns and uses the
// kept set; --offline uses the kept set without a request.
func TestValidateDiscovers(t *testing.T) {
	f := discoveryFake(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "state.yaml")
	if err := os.WriteFile(path, []byte(discoveryState(t, dir)), 0o644); err != nil {
		t.Fatal(err)
	}
	kept := filepath.Join(dir, "discovered.json")
	code, out, stderr := runCLI(t, "validate", "--state", path, "--discovered-file", kept, "--offline")
	if code != exitOK || !strings.Contains(stderr, "discovery: no servers kept at "+kept) || !strings.Contains(out, "1 control planes, 1 workers") {
		t.Errorf("validate --offline without a kept set: exit %d\n%s%s", code, out, stderr)
	}
	if n := len(f.Requests()); n != 0 {
		t.Errorf("validate --offline made %d API requests", n)
	}
	code, out, stderr = runCLI(t, "validate", "--state", path, "--discovered-file", kept)
	if code != exitOK || !strings.Contains(stderr, "worker w4 10.0.0.24 (server 3004)") || !strings.Contains(out, "1 control planes, 2 workers") {
		t.Errorf("validate: exit %d\n%s%s", code, out, stderr)
	}
	if err := discovery.Save(kept, discovery.Saved{Network: "k8s", Set: discovery.Set{Workers: []discovery.Server{{Name: "w5", Address: "10.0.0.25"}}}}); err != nil {
		t.Fatal(err)
	}
	f.Inject(hetznertest.ListNetworks, 1, hetznertest.ServerError(http.StatusServiceUnavailable))
	code, out, stderr = runCLI(t, "validate", "--state", path, "--discovered-file", kept)
	if code != exitOK || !strings.Contains(stderr, "discovery.hcloud: the Hetzner API could not be asked") ||
		!strings.Contains(stderr, "worker w5 10.0.0.25") || !strings.Contains(out, "1 control planes, 2 workers") {
		t.Errorf("validate with the API down: exit %d\n%s%s", code, out, stderr)
	}
}

// TestValidateAllControlPlanesDiscovered: a state whose control planes
// are all discovered fails on a node when none is found, and is checked
// with a warning offline.
func TestValidateAllControlPlanesDiscovered(t *testing.T) {
	discoveryFake(t)
	dir := t.TempDir()
	yaml := strings.Replace(discoveryState(t, dir), "controlPlanes:\n  - {name: cp1, address: 10.0.0.11}\n", "", 1)
	yaml = strings.Replace(yaml, "workers: role=worker}", "workers: role=worker, controlPlanes: role=control-plane}", 1)
	path := filepath.Join(dir, "state.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	kept := filepath.Join(dir, "discovered.json")
	code, _, stderr := runCLI(t, "validate", "--state", path, "--discovered-file", kept)
	if code != exitInvalid || !strings.Contains(stderr, "discovery.hcloud.controlPlanes: no control plane: the state lists none and discovery found none") {
		t.Errorf("validate: exit %d\n%s", code, stderr)
	}
	code, _, stderr = runCLI(t, "validate", "--state", path, "--discovered-file", kept, "--offline")
	if code != exitOK || !strings.Contains(stderr, "warning: ") || !strings.Contains(stderr, "haproxy.cfg is checked without control planes") {
		t.Errorf("validate --offline: exit %d\n%s", code, stderr)
	}
}
