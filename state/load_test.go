package state_test

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hakgen/hakgen/internal/tooltest"
	"github.com/hakgen/hakgen/state"
)

const minimal = "controlPlanes:\n  - {name: cp1, address: 10.0.0.11}\n"

func TestExampleIsValidWithoutWarnings(t *testing.T) {
	s, warnings, err := state.Parse(state.ExampleName, state.Example)
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 0 {
		t.Errorf("warnings: %v", warnings)
	}
	if len(s.ControlPlanes) != 3 || len(s.Workers) != 3 {
		t.Errorf("example has %d control planes and %d workers, want 3 and 3", len(s.ControlPlanes), len(s.Workers))
	}
}

func TestDefaults(t *testing.T) {
	s, _, err := state.Parse("state.yaml", []byte(minimal+"extraPorts:\n  - {name: rke2, port: 9345}\nkeepalived: {interface: eth1}\n"))
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"cluster", s.Cluster, "kubernetes"},
		{"apiServer", s.APIServer, state.APIServer{Port: 6443, BackendPort: 6443, HealthCheck: "readyz"}},
		{"ingress.https", s.Ingress.HTTPS, state.Listener{Port: 443, BackendPort: 443}},
		{"stats.bind", s.Stats.Bind, "127.0.0.1:8404"},
		{"haproxy.maxconn", s.HAProxy.MaxConn, 50000},
		{"haproxy.hardStopAfter", time.Duration(s.HAProxy.HardStopAfter), 15 * time.Minute},
		{"haproxy.timeouts.tunnel", time.Duration(s.HAProxy.Timeouts.Tunnel), time.Hour},
		{"haproxy.checks", s.HAProxy.Checks, state.Checks{Interval: state.Duration(500 * time.Millisecond), Fall: 2, Rise: 2}},
		{"haproxy.shares", s.HAProxy.Shares, state.Shares{APIServer: 20, HTTP: 20, HTTPS: 50, ExtraPorts: 10}},
		{"haproxy.maxConnPerSource", s.HAProxy.MaxConnPerSource, 0},
		{"haproxy.timeouts.firstBytes", time.Duration(s.HAProxy.Timeouts.FirstBytes), 5 * time.Second},
		{"extraPorts[0].backendPort", s.ExtraPorts[0].BackendPort, 9345},
		{"extraPorts[0].backends", s.ExtraPorts[0].Backends, "controlPlanes"},
		{"keepalived.virtualRouterID", s.Keepalived.VirtualRouterID, 51},
		{"keepalived.advertInterval", time.Duration(s.Keepalived.AdvertInterval), time.Second},
		{"floatingIP", s.FloatingIP == nil, true},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestWarnings(t *testing.T) {
	data := "controlPlanes:\n  - {name: cp1, address: 10.0.0.11}\n  - {name: cp2, address: 10.0.0.12}\n" +
		"loadBalancers:\n  - {name: lb1, address: 10.0.0.5}\n"
	s, warnings, err := state.Parse("state.yaml", []byte(data))
	if err != nil || s == nil {
		t.Fatalf("warnings must not make the state unusable: %v", err)
	}
	want := []string{
		"warning: state.yaml:2:3: controlPlanes: 2 control planes: etcd tolerates no more failures than with 1 (expected an odd count such as 1, 3 or 5)",
		"warning: state.yaml:5:3: loadBalancers: only one load balancer: keepalived has no peer to fail over to (expected two)",
	}
	var got []string
	for _, w := range warnings {
		got = append(got, w.Error())
	}
	if !equal(got, want) {
		t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestTooLargeRefused(t *testing.T) {
	data := []byte(minimal + "# " + strings.Repeat("x", state.MaxFileSize) + "\n")
	_, _, err := state.Parse("state.yaml", data)
	want := "state.yaml: the file is 1048630 bytes, more than the 1048576 allowed"
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v, want %s", err, want)
	}
	path := filepath.Join(t.TempDir(), "state.yaml")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := state.Load(path); err == nil || !strings.Contains(err.Error(), "larger than 1048576 bytes") {
		t.Fatalf("Load of a too large file: err = %v", err)
	}
}

// TestAliasBombRefused feeds the classic "billion laughs" document: nine
// levels of nine aliases each. It must be refused, not expanded.
func TestAliasBombRefused(t *testing.T) {
	var b strings.Builder
	b.WriteString(minimal + "workers: &l0 [{name: w1, address: 10.0.0.21}]\nextraPorts:\n")
	for i := 1; i <= 9; i++ {
		b.WriteString("  - &l" + string(rune('0'+i)) + " [")
		for j := range 9 {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString("*l" + string(rune('0'+i-1)))
		}
		b.WriteString("]\n")
	}
	_, _, err := state.Parse("state.yaml", []byte(b.String()))
	if err == nil || !strings.Contains(err.Error(), "state.yaml:3:10: workers: YAML anchors and aliases are not allowed") {
		t.Fatalf("err = %v", err)
	}
}

func TestHashIgnoresFormatting(t *testing.T) {
	a, _, errA := state.Parse("a.yaml", []byte(minimal))
	b, _, errB := state.Parse("b.yaml", []byte("# a comment\ncontrolPlanes:\n- name: cp1\n  address: \"10.0.0.11\"\napiServer: {port: 6443}\n"))
	c, _, errC := state.Parse("c.yaml", []byte(strings.Replace(minimal, "10.0.0.11", "10.0.0.12", 1)))
	if err := errors.Join(errA, errB, errC); err != nil {
		t.Fatal(err)
	}
	if a.Hash() != b.Hash() {
		t.Error("the same state written differently hashes differently")
	}
	if a.Hash() == c.Hash() {
		t.Error("a changed address does not change the hash")
	}
	if len(a.Hash()) != 64 {
		t.Errorf("hash %q is not hex SHA-256", a.Hash())
	}
}

func TestDuration(t *testing.T) {
	for text, want := range map[string]time.Duration{
		"500ms": 500 * time.Millisecond, "5s": 5 * time.Second, "15m": 15 * time.Minute,
		"1h": time.Hour, "2d": 48 * time.Hour, "250us": 250 * time.Microsecond, "90s": 90 * time.Second,
	} {
		d, err := state.ParseDuration(text)
		if err != nil || time.Duration(d) != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", text, time.Duration(d), err, want)
		}
		if d.String() != text {
			t.Errorf("Duration(%v).String() = %q, want %q", want, d.String(), text)
		}
	}
	for _, bad := range []string{"", "5", "s", "-5s", "1.5s", "5 s", "1h30m", "5x", "99999999999s"} {
		if _, err := state.ParseDuration(bad); err == nil {
			t.Errorf("ParseDuration(%q) accepted", bad)
		}
	}
}

func writeFile(t *testing.T, path, data string, mode fs.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // umask may have narrowed it
		t.Fatal(err)
	}
}

const withAuth = minimal + "stats: {bind: \"*:8404\", user: admin, passwordFile: stats-password}\n"

func TestLoadReadsSecretRelativeToStateFile(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "state.yaml"), withAuth, 0o644)
	writeFile(t, filepath.Join(dir, "stats-password"), "s3cret\n", 0o600)
	s, _, err := state.Load(filepath.Join(dir, "state.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if s.Stats.Password != "s3cret" {
		t.Errorf("password = %q, want the file's content without the newline", s.Stats.Password)
	}
	if strings.Contains(s.Hash(), "s3cret") {
		t.Error("hash input must not include secrets")
	}
}

func TestLoadRefusesExposedSecret(t *testing.T) {
	dir := t.TempDir()
	statePath, pwPath := filepath.Join(dir, "state.yaml"), filepath.Join(dir, "stats-password")
	writeFile(t, statePath, withAuth, 0o644)
	writeFile(t, pwPath, "s3cret\n", 0o644)
	_, _, err := state.Load(statePath)
	want := statePath + ":3:52: stats.passwordFile: secret file " + pwPath + " has mode 0644: group or others can access it (run: chmod 600 " + pwPath + ")"
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v\nwant  %s", err, want)
	}
	if strings.Contains(err.Error(), "s3cret") {
		t.Error("the error reveals the secret")
	}
}

func TestLoadRefusesSecretOfAnotherUser(t *testing.T) {
	tooltest.NeedRoot(t) // only root can give a file to another user
	dir := t.TempDir()
	pwPath := filepath.Join(dir, "stats-password")
	writeFile(t, filepath.Join(dir, "state.yaml"), withAuth, 0o644)
	writeFile(t, pwPath, "s3cret\n", 0o600)
	if err := os.Chown(pwPath, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	_, _, err := state.Load(filepath.Join(dir, "state.yaml"))
	if err == nil || !strings.Contains(err.Error(), "is owned by uid 65534, not by root (run: chown root:root") {
		t.Fatalf("err = %v", err)
	}
}

// TestLoadFollowsSymlinkSwap loads a state published the way Kubernetes
// mounts a ConfigMap: state.yaml -> ..data/state.yaml, ..data -> a dated dir.
func TestLoadFollowsSymlinkSwap(t *testing.T) {
	dir := t.TempDir()
	v1 := filepath.Join(dir, "..2026_11_25_v1")
	if err := os.Mkdir(v1, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(v1, "state.yaml"), minimal, 0o644)
	for _, l := range [][2]string{{"..2026_11_25_v1", "..data"}, {"..data/state.yaml", "state.yaml"}} {
		if err := os.Symlink(l[0], filepath.Join(dir, l[1])); err != nil {
			t.Fatal(err)
		}
	}
	s, _, err := state.Load(filepath.Join(dir, "state.yaml"))
	if err != nil || s.ControlPlanes[0].Address != "10.0.0.11" {
		t.Fatalf("loading through symlinks: %v", err)
	}
}

func TestLoadReportsUnreadableFiles(t *testing.T) {
	dir := t.TempDir()
	if _, _, err := state.Load(filepath.Join(dir, "missing.yaml")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: err = %v, want not-exist", err)
	}
	if _, _, err := state.Load(dir); err == nil || !strings.Contains(err.Error(), "is not a regular file") {
		t.Errorf("directory: err = %v", err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	// Opening a FIFO for reading would block without a writer; Load must
	// refuse it by type. Open it for writing too so a bug hangs no test.
	go func() {
		if f, err := os.OpenFile(fifo, os.O_WRONLY, 0); err == nil {
			f.Close()
		}
	}()
	if _, _, err := state.Load(fifo); err == nil || !strings.Contains(err.Error(), "is not a regular file but a named pipe (FIFO)") {
		t.Errorf("fifo: err = %v", err)
	}
}

// TestLoadFIFOWithoutWriterReturns: a FIFO at the state path with nobody
// writing to it blocks a plain open(2) for ever. Load, LoadContext and
// LoadForFailover refuse it at once, naming the file.
func TestLoadFIFOWithoutWriterReturns(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "state.yaml")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Unblocks a reader stuck in open(2), should there be one.
		if f, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			f.Close()
		}
	})
	want := "reading state: " + fifo + " is not a regular file but a named pipe (FIFO)"
	for name, load := range map[string]func() error{
		"Load":            func() error { _, _, err := state.Load(fifo); return err },
		"LoadContext":     func() error { _, _, err := state.LoadContext(context.Background(), fifo); return err },
		"LoadForFailover": func() error { _, err := state.LoadForFailover(fifo); return err },
	} {
		done := make(chan error, 1)
		go func() { done <- load() }()
		select {
		case err := <-done:
			if err == nil || err.Error() != want {
				t.Errorf("%s: err = %v\nwant  %s", name, err, want)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("%s of a FIFO without a writer did not return within 30 s", name)
		}
	}
}

func TestStatsBindPerNode(t *testing.T) {
	s, _, err := state.Parse("state.yaml", []byte(minimal+"stats: {bind: 10.0.0.5:8404}\nloadBalancers:\n  - {name: lb1, address: 10.0.0.5}\n  - {name: lb2, address: 10.0.0.6}\n"))
	if err != nil {
		t.Fatal(err)
	}
	for node, want := range map[string]string{"": "http://10.0.0.5:8404/healthz", "lb1": "http://10.0.0.5:8404/healthz", "lb2": "http://10.0.0.6:8404/healthz"} {
		if got, err := s.HealthURL(node); err != nil || got != want {
			t.Errorf("HealthURL(%q) = %q, %v; want %q", node, got, err, want)
		}
	}
	other, _, err := state.Parse("state.yaml", []byte(minimal+"stats: {bind: \"*:9000\", user: a, passwordFile: p}\nloadBalancers:\n  - {name: lb1, address: 10.0.0.5}\n  - {name: lb2, address: 10.0.0.6}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := other.HealthURL("lb2"); got != "http://127.0.0.1:9000/healthz" {
		t.Errorf("wildcard bind: HealthURL = %q, want loopback", got)
	}
	// A load balancer's address written in another form is still its own.
	mapped, _, err := state.Parse("state.yaml", []byte(minimal+"stats: {bind: \"[::ffff:10.0.0.5]:8404\"}\nloadBalancers:\n  - {name: lb1, address: 10.0.0.5}\n  - {name: lb2, address: 10.0.0.6}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := mapped.HealthURL("lb2"); got != "http://10.0.0.6:8404/healthz" {
		t.Errorf("IPv4-mapped bind of lb1: HealthURL(lb2) = %q, want lb2's own address", got)
	}
}

// TestLoadForFailoverIgnoresUnrelatedMistakes: a typo in a worker does not
// stop a failover; a mistake in the failover sections does.
func TestLoadForFailoverIgnoresUnrelatedMistakes(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.yaml")
	failover := "loadBalancers:\n  - {name: lb1, address: 10.0.0.5, serverID: 1001}\n  - {name: lb2, address: 10.0.0.6}\nfloatingIP: {id: 4711, address: 203.0.113.10}\n"
	writeFile(t, path, minimal+"workers:\n  - {name: w1, address: 10.0.0.300}\nstats: {bind: \"*:8404\", user: a, passwordFile: missing}\n"+failover, 0o644)
	if _, _, err := state.Load(path); err == nil {
		t.Fatal("the full load accepted a bad worker address")
	}
	s, err := state.LoadForFailover(path)
	if err != nil {
		t.Fatalf("LoadForFailover refused a state whose failover sections are fine: %v", err)
	}
	if s.FloatingIP.ID != 4711 || s.LoadBalancers[0].ServerID != 1001 {
		t.Errorf("failover sections not loaded: %+v %+v", s.FloatingIP, s.LoadBalancers)
	}
	writeFile(t, path, minimal+strings.Replace(failover, "id: 4711", "id: -1", 1), 0o644)
	if _, err := state.LoadForFailover(path); err == nil || !strings.Contains(err.Error(), "floatingIP.id") {
		t.Errorf("a bad floatingIP.id: err = %v", err)
	}
	writeFile(t, path, "controlPlanes: [\n", 0o644)
	if _, err := state.LoadForFailover(path); err == nil || !strings.Contains(err.Error(), "invalid YAML") {
		t.Errorf("broken YAML: err = %v", err)
	}
}

func TestPublicStatsWithoutAuthWarns(t *testing.T) {
	_, warnings, err := state.Parse("state.yaml", []byte(minimal+"stats: {bind: \"198.51.100.7:8404\"}\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := `warning: state.yaml:3:15: stats.bind: "198.51.100.7:8404" is not a private address and stats has no authentication: anyone who reaches it sees the stats page and metrics (expected a private address, or stats.user and stats.passwordFile)`
	if len(warnings) != 1 || warnings[0].Error() != want {
		t.Errorf("warnings %v, want:\n%s", warnings, want)
	}
}

// TestServerWeightAndDrain: a weight left out is 1 (for a server built in
// code too), written as 1 it hashes as left out, and a server at its
// defaults hashes as its name and address alone; another weight or a
// drain change the hash.
func TestServerWeightAndDrain(t *testing.T) {
	parse := func(servers string) *state.State {
		t.Helper()
		s, _, err := state.Parse("state.yaml", []byte("controlPlanes:\n"+servers))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	plain := parse("  - {name: cp1, address: 10.0.0.11}\n")
	if w := plain.ControlPlanes[0].EffectiveWeight(); w != state.DefaultWeight {
		t.Errorf("weight left out: %d, want %d", w, state.DefaultWeight)
	}
	if parse("  - {name: cp1, address: 10.0.0.11, weight: 1, drain: false}\n").Hash() != plain.Hash() {
		t.Error("weight 1 and drain false written out change the hash")
	}
	data, err := json.Marshal(plain.ControlPlanes[0])
	if err != nil || string(data) != `{"name":"cp1","address":"10.0.0.11"}` {
		t.Errorf("a server at its defaults hashes as %s (%v), want its name and address alone", data, err)
	}
	for _, other := range []string{"weight: 2", "weight: 0", "drain: true"} {
		s := parse("  - {name: cp1, address: 10.0.0.11, " + other + "}\n")
		if s.Hash() == plain.Hash() {
			t.Errorf("%s does not change the hash", other)
		}
	}
	built, _, err := state.FromServers("flags", []state.Server{{Name: "cp1", Address: "10.0.0.11"}}, nil)
	if err != nil || built.ControlPlanes[0].EffectiveWeight() != state.DefaultWeight {
		t.Errorf("a server built in code: %+v, %v; want weight %d", built.ControlPlanes, err, state.DefaultWeight)
	}
}

// TestEveryServerDrainedWarns: a list whose servers all take no new
// connection is accepted, with a warning at the list.
func TestEveryServerDrainedWarns(t *testing.T) {
	_, warnings, err := state.Parse("state.yaml", []byte("controlPlanes:\n  - {name: cp1, address: 10.0.0.11}\n"+
		"workers:\n  - {name: w1, address: 10.0.0.21, drain: true}\n  - {name: w2, address: 10.0.0.22, weight: 0}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0].Error(), "state.yaml:4:3: workers: every one of the workers is drained or has weight 0") {
		t.Errorf("warnings %v, want one at workers", warnings)
	}
}
