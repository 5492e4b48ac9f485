package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/hakgen/hakgen/discovery"
	"github.com/hakgen/hakgen/hetzner/hetznertest"
	"github.com/hakgen/hakgen/internal/tooltest"
	"github.com/hakgen/hakgen/state"
)

// indentedBlock returns the code of the README block between the name
// markers, indented by three spaces as in a numbered list.
func indentedBlock(t *testing.T, name string) string {
	t.Helper()
	re := regexp.MustCompile("(?s)<!-- " + name + ":start -->\n   ```[a-z]*\n(.*?)   ```\n   <!-- " + name + ":end -->")
	m := re.FindStringSubmatch(readme(t))
	if m == nil {
		t.Fatalf("README.md has no %s block", name)
	}
	return regexp.MustCompile("(?m)^   ").ReplaceAllString(m[1], "")
}

// discoveryProject is the fake project of the README's discovery section:
// the network k8s (10.0.0.0/16), the load balancers, and w4, not yet
// attached or labelled.
func discoveryProject(t *testing.T) *hetznertest.Fake {
	f := hetznertest.New(t)
	f.AddNetwork(7, "k8s", "10.0.0.0/16")
	f.PutServer(hetznertest.ServerSpec{ID: 3004, Name: "w4"})
	return f
}

// words splits a shell command line of the README: words separated by
// spaces, single quotes around a word with spaces, a # comment at the end.
func words(line string) []string {
	var out []string
	for line = strings.TrimSpace(line); line != ""; line = strings.TrimSpace(line) {
		switch {
		case strings.HasPrefix(line, "#"):
			return out
		case strings.HasPrefix(line, "'"):
			end := strings.Index(line[1:], "'") + 1
			out = append(out, line[1:end])
			line = line[end+1:]
		default:
			word, rest, _ := strings.Cut(line, " ")
			out = append(out, word)
			line = rest
		}
	}
	return out
}

// TestREADMEDiscoveryLabels runs the README's labelling commands with
// Debian's hcloud CLI against the fake project: afterwards discovery's
// selector finds w4 at its address in the network, and the list command
// shows it.
func TestREADMEDiscoveryLabels(t *testing.T) {
	bin := tooltest.Need(t, "hcloud")
	f := discoveryProject(t)
	var listed string
	for _, line := range strings.Split(strings.TrimSpace(indentedBlock(t, "discovery-labels")), "\n") {
		args := words(line)
		if len(args) == 0 || args[0] != "hcloud" {
			t.Fatalf("README line %q is not an hcloud command", line)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
		cmd := exec.CommandContext(ctx, bin, args[1:]...)
		cmd.Env = []string{"HCLOUD_ENDPOINT=" + f.APIEndpoint(), "HCLOUD_TOKEN=x", "HOME=" + t.TempDir(), "PATH=/usr/bin:/bin"}
		out, err := cmd.CombinedOutput()
		cancel()
		if err != nil {
			t.Fatalf("%s: %v\n%s", line, err, out)
		}
		listed = string(out)
	}
	if !strings.Contains(listed, "w4") {
		t.Errorf("the list command shows:\n%s", listed)
	}
	s, _, err := state.Parse("state.yaml", []byte("controlPlanes: [{name: cp1, address: 10.0.0.11}]\n"+
		"discovery: {hcloud: {network: k8s, workers: \"cluster=prod,role=worker\"}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("HCLOUD_TOKEN", "x")
	res, err := discovery.Once(t.Context(), s, discovery.HCloud(f.APIEndpoint(), "test", zap.NewNop()))
	if err != nil || len(res.Set.Workers) != 1 || res.Set.Workers[0].Name != "w4" || !strings.HasPrefix(res.Set.Workers[0].Address, "10.0.") {
		t.Errorf("discovered after the README's commands: %+v, %v", res.Set, err)
	}
}

// TestREADMEDiscoveryState adds the README's discovery section to the
// quick start's state and renders it, as an operator checks it: the
// labelled servers of the fake project are rendered after the state's
// own and listed on standard error; --offline renders the kept set.
func TestREADMEDiscoveryState(t *testing.T) {
	f := discoveryProject(t)
	f.RequireToken("readme-token")
	f.PutServer(hetznertest.ServerSpec{ID: 3004, Name: "w4", Labels: map[string]string{"cluster": "prod", "role": "worker"},
		Private: map[int64]string{7: "10.0.0.24"}})
	f.PutServer(hetznertest.ServerSpec{ID: 3014, Name: "cp4", Labels: map[string]string{"cluster": "prod", "role": "control-plane"},
		Private: map[int64]string{7: "10.0.0.14"}})
	dir := t.TempDir()
	token := filepath.Join(dir, "hcloud-token")
	if err := os.WriteFile(token, []byte("readme-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	quick, err := os.ReadFile("../../testdata/quickstart.yaml")
	if err != nil {
		t.Fatal(err)
	}
	yaml := strings.ReplaceAll(string(quick)+indentedBlock(t, "discovery-state"), "/etc/hakgen/hcloud-token", token)
	path := filepath.Join(dir, "state.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HCLOUD_ENDPOINT", f.APIEndpoint())
	code, out, stderr := runCLI(t, "render", "--state", path)
	if code != exitOK {
		t.Fatalf("render: exit %d\n%s", code, stderr)
	}
	for _, want := range []string{"server w3 10.0.0.23:80 ", "server w4 10.0.0.24:80 ", "server cp4 10.0.0.14:6443 "} {
		if !strings.Contains(out, want) {
			t.Errorf("rendered haproxy.cfg has no %q", want)
		}
	}
	if !strings.Contains(stderr, "worker w4 10.0.0.24 (server 3004)") || !strings.Contains(stderr, "control plane cp4 10.0.0.14 (server 3014)") {
		t.Errorf("render's standard error does not list the discovered servers:\n%s", stderr)
	}
	kept := filepath.Join(dir, "discovered.json")
	code, out, stderr = runCLI(t, "render", "--state", path, "--offline", "--discovered-file", kept)
	if code != exitOK || strings.Contains(out, "server w4 ") || !strings.Contains(stderr, "no servers kept at "+kept) {
		t.Errorf("render --offline without a kept set: exit %d, w4 rendered %v\n%s", code, strings.Contains(out, "server w4 "), stderr)
	}
}

// TestREADMEDiscoveryCost checks the README's table of what polling costs
// against discovery's own arithmetic, for both load balancers together.
func TestREADMEDiscoveryCost(t *testing.T) {
	block := regexp.MustCompile("(?s)<!-- discovery-cost:start -->\n(.*?)<!-- discovery-cost:end -->").FindStringSubmatch(readme(t))
	if block == nil {
		t.Fatal("README.md has no discovery-cost block")
	}
	row := regexp.MustCompile("(?m)^\\| `(\\d+)s` \\| (\\d+) an hour \\| (\\d+) an hour \\|$")
	rows := row.FindAllStringSubmatch(block[1], -1)
	if len(rows) != 3 {
		t.Fatalf("%d rows in the cost table, want 3", len(rows))
	}
	for _, r := range rows {
		secs, _ := strconv.Atoi(r[1])
		interval := time.Duration(secs) * time.Second
		one, two := discovery.RequestsPerHour(1, interval), discovery.RequestsPerHour(2, interval)
		if r[2] != strconv.Itoa(2*one) || r[3] != strconv.Itoa(2*two) {
			t.Errorf("interval %s: README says %s and %s, discovery costs %d and %d with both load balancers", interval, r[2], r[3], 2*one, 2*two)
		}
	}
}
