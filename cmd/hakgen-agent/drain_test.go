package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/hakgen/hakgen/haproxy"
	"github.com/hakgen/hakgen/haproxy/haproxytest"
	"github.com/hakgen/hakgen/render"
	"github.com/hakgen/hakgen/state"
)

// drainRig is a real HAProxy running the production haproxy.cfg of a
// state with one control plane and two workers; w1 is a server that keeps
// every connection open (a watch), w2 answers nothing (it is DOWN).
type drainRig struct {
	in                             *haproxytest.Instance
	cfg, serverState, httpFrontend string
	flags                          []string // drain's and undrain's flags for this HAProxy
}

func startDrainRig(t *testing.T) *drainRig {
	t.Helper()
	hold := haproxytest.HoldServer(t)
	_, port, _ := net.SplitHostPort(hold)
	api, http, https, stats := haproxytest.FreePort(t), haproxytest.FreePort(t), haproxytest.FreePort(t), haproxytest.FreePort(t)
	yaml := fmt.Sprintf("controlPlanes: [{name: cp1, address: 127.0.0.1}]\n"+
		"workers: [{name: w1, address: 127.0.0.1}, {name: w2, address: 127.0.0.9}]\n"+
		"apiServer: {port: %d, backendPort: %s, healthCheck: tcp}\n"+
		"ingress: {http: {port: %d, backendPort: %s}, https: {port: %d, backendPort: %s}}\n"+
		"stats: {bind: \"127.0.0.1:%d\"}\nhaproxy: {maxconn: 100}\n", api, port, http, port, https, port, stats)
	s, _, err := state.Parse("state.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	rendered, err := render.HAProxy(s)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	local, err := haproxytest.Localize(rendered, filepath.Join(dir, "admin.sock"))
	if err != nil {
		t.Fatal(err)
	}
	r := &drainRig{cfg: filepath.Join(dir, "haproxy.cfg"), serverState: filepath.Join(dir, "server-state"),
		httpFrontend: fmt.Sprintf("127.0.0.1:%d", http)}
	if err := os.WriteFile(r.cfg, local, 0o644); err != nil {
		t.Fatal(err)
	}
	r.in = haproxytest.Start(t, r.cfg)
	r.flags = []string{"--master-socket", r.in.Socket, "--server-state-file", r.serverState, "--haproxy-config", r.cfg}
	return r
}

// admin is w1's administrative state in each ingress backend.
func (r *drainRig) admin(t *testing.T) map[string]haproxy.AdminState {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), daemonWait)
	defer cancel()
	w, err := haproxy.CurrentWorker(ctx, r.in.Master)
	if err != nil {
		t.Fatal(err)
	}
	states, err := w.ServersState(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]haproxy.AdminState{}
	for _, s := range states {
		if s.Name == "w1" {
			out[s.Backend] = s.Admin
		}
	}
	return out
}

// TestDrainAndUndrain runs drain and undrain as an operator does, against
// a real HAProxy: drain sends w1 no new connection in both ingress
// backends, waits for its sessions (exit 4 while a watch stays open, 0
// once it closed), the drain survives a reload that nobody saved the state
// for, and undrain takes it back.
func TestDrainAndUndrain(t *testing.T) {
	r := startDrainRig(t)
	watch, err := net.DialTimeout("tcp", r.httpFrontend, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer watch.Close()
	if _, err := watch.Write([]byte("GET /watch HTTP/1.1\r\n")); err != nil { // ingress HTTP wants bytes first
		t.Fatal(err)
	}

	var out, stderr string
	code := -1
	for range 50 { // until HAProxy has routed the watch to w1
		code, out, stderr = runCLI(t, append([]string{"drain", "w1", "--wait", "1s"}, r.flags...)...)
		if strings.Contains(out, "w1: 1 session (ingress-http 1)") {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if code != exitSessionsRemain || !strings.Contains(out, "w1: drained in ingress-http, ingress-https") ||
		!strings.Contains(out, "w1: 1 session (ingress-http 1)") || !strings.Contains(stderr, "w1 still has 1 session after 1s") {
		t.Fatalf("drain with a watch open: exit %d\nstdout:\n%s\nstderr:\n%s\nwant exit 4, the backends and the session", code, out, stderr)
	}
	for backend, a := range r.admin(t) {
		if a != haproxy.AdminForcedDrain {
			t.Errorf("%s/w1 after drain: %s, want drain", backend, a)
		}
	}

	// A reload that saves nothing first (as `systemctl reload haproxy`):
	// the file drain saved carries the drain.
	ctx, cancel := context.WithTimeout(context.Background(), daemonWait)
	defer cancel()
	if err := haproxy.NewMasterReloader(r.in.Master, zaptest.NewLogger(t)).Reload(ctx); err != nil {
		t.Fatal(err)
	}
	for backend, a := range r.admin(t) {
		if a != haproxy.AdminForcedDrain {
			t.Errorf("%s/w1 after a reload: %s, want still drained", backend, a)
		}
	}

	watch.Close()
	code, out, stderr = runCLI(t, append([]string{"drain", "w1", "--wait", "10s"}, r.flags...)...)
	if code != exitOK || !strings.Contains(out, "w1: no session left") {
		t.Errorf("drain once the watch closed: exit %d\nstdout:\n%s\nstderr:\n%s\nwant 0, no session left", code, out, stderr)
	}

	code, out, stderr = runCLI(t, append([]string{"undrain", "w1"}, r.flags...)...)
	if code != exitOK || !strings.Contains(out, "w1: undrained in ingress-http, ingress-https") {
		t.Fatalf("undrain: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, stderr)
	}
	for backend, a := range r.admin(t) {
		if !a.Ready() {
			t.Errorf("%s/w1 after undrain: %s, want ready", backend, a)
		}
	}
	if code, out, _ := runCLI(t, append([]string{"undrain", "w1"}, r.flags...)...); code != exitOK || !strings.Contains(out, "w1: not drained by hakgen-agent drain") {
		t.Errorf("undrain again: exit %d, %q", code, out)
	}
}

// TestDrainRefusals: an unknown server is invalid input (exit 1), no
// running HAProxy an environment problem (3), no name or a negative wait
// a usage error (2); nothing is drained by any of them.
func TestDrainRefusals(t *testing.T) {
	r := startDrainRig(t)
	if code, _, stderr := runCLI(t, append([]string{"drain", "w9"}, r.flags...)...); code != exitInvalid || !strings.Contains(stderr, "server w9: no backend of the running haproxy has this server") {
		t.Errorf("drain w9: exit %d, %q; want 1 naming the server", code, stderr)
	}
	gone := []string{"--master-socket", filepath.Join(t.TempDir(), "none.sock")}
	for _, cmd := range []string{"drain", "undrain"} {
		if code, _, stderr := runCLI(t, append([]string{cmd, "w1"}, gone...)...); code != exitEnvironment || !strings.Contains(stderr, "HAProxy is not running here") {
			t.Errorf("%s without HAProxy: exit %d, %q; want 3", cmd, code, stderr)
		}
	}
	for _, args := range [][]string{{"drain"}, {"drain", "w1", "w2"}, {"drain", "w1", "--wait", "-1s"}, {"undrain"}} {
		if code, _, _ := runCLI(t, append(args, r.flags...)...); code != exitUsage {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
	for backend, a := range r.admin(t) {
		if !a.Ready() {
			t.Errorf("%s/w1: %s, want ready: a refused command drained it", backend, a)
		}
	}
}

// TestDrainOptions: drain's flags reach its options through the parser.
func TestDrainOptions(t *testing.T) {
	o := parseOptions[*drainOptions](t, "drain", "w1", "--wait", "30s", "--master-socket", "/run/m.sock")
	if o.wait != 30*time.Second || o.socket != "/run/m.sock" || o.serverState != render.ServerStateFile || o.config != DefaultHAProxyConfig {
		t.Errorf("options %+v", *o)
	}
	if d := parseOptions[*drainOptions](t, "drain", "w1"); d.wait != 5*time.Minute || d.socket != haproxy.DefaultMasterSocket {
		t.Errorf("defaults %+v", *d)
	}
}
