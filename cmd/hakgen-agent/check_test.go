package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hakgen/hakgen/haproxy/haproxytest"
	"github.com/hakgen/hakgen/render"
	"github.com/hakgen/hakgen/state"
)

// startRenderedHAProxy runs a real HAProxy on the haproxy.cfg rendered from
// a state whose stats listen on a free loopback port; it returns the state.
func startRenderedHAProxy(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	yaml := fmt.Sprintf("controlPlanes: [{name: cp1, address: 127.0.0.1}]\napiServer: {port: %d, backendPort: 1, healthCheck: tcp}\n"+
		"stats: {bind: \"127.0.0.1:%d\", user: admin, passwordFile: pw}\nhaproxy: {maxconn: 100}\n",
		haproxytest.FreePort(t), haproxytest.FreePort(t))
	statePath := filepath.Join(dir, "state.yaml")
	for name, data := range map[string]string{"state.yaml": yaml, "pw": "secret\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s, _, err := state.Load(statePath)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := render.HAProxy(s)
	if err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "haproxy.cfg")
	local, err := haproxytest.Localize(cfg, filepath.Join(dir, "admin.sock"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfgPath, local, 0o600); err != nil {
		t.Fatal(err)
	}
	haproxytest.Start(t, cfgPath)
	return statePath
}

func TestCheckPassesWhileHAProxyRuns(t *testing.T) {
	statePath := startRenderedHAProxy(t)
	if code, _, stderr := runCLI(t, "check", "--state", statePath); code != exitOK {
		t.Errorf("check --state: exit %d, stderr:\n%s", code, stderr)
	}
	s, _, err := state.Load(statePath)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := s.HealthURL("")
	if code, _, stderr := runCLI(t, "check", "--url", u); code != exitOK {
		t.Errorf("check --url %s: exit %d, stderr:\n%s", u, code, stderr)
	}
	// Authentication guards the page, not the liveness URL.
	if code, _, _ := runCLI(t, "check", "--url", strings.TrimSuffix(u, "/healthz")+"/"); code != exitInvalid {
		t.Errorf("the stats page without credentials passed the check (exit %d)", code)
	}
}

func TestCheckFailsWhenHAProxyIsDown(t *testing.T) {
	u := fmt.Sprintf("http://127.0.0.1:%d/healthz", haproxytest.FreePort(t))
	code, _, stderr := runCLI(t, "check", "--url", u, "--timeout", "500ms")
	if code != exitInvalid || !strings.Contains(stderr, "HAProxy does not answer "+u) {
		t.Errorf("exit %d, stderr:\n%s\nwant exit 1 naming %s", code, stderr, u)
	}
}

func TestCheckUsage(t *testing.T) {
	for _, args := range [][]string{{"check", "--url", "127.0.0.1:6443"}, {"check", "--timeout", "0s", "--url", "http://127.0.0.1:1/healthz"}, {"check", "extra"}} {
		if code, _, stderr := runCLI(t, args...); code != exitUsage {
			t.Errorf("%v: exit %d, stderr:\n%s; want %d", args, code, stderr, exitUsage)
		}
	}
	path := filepath.Join(t.TempDir(), "missing.yaml")
	if code, _, _ := runCLI(t, "check", "--state", path); code != exitEnvironment {
		t.Errorf("check with a missing state: exit %d, want %d", code, exitEnvironment)
	}
}

// TestCheckHonoursTheMaintenanceFile: while the maintenance file under
// --state-dir says 1 (drill's flag), the check fails with HAProxy
// running; "0" or no file leaves the judgment to HAProxy.
func TestCheckHonoursTheMaintenanceFile(t *testing.T) {
	statePath := startRenderedHAProxy(t)
	dir := t.TempDir()
	flag := filepath.Join(dir, render.MaintenanceFileName)
	if code, _, stderr := runCLI(t, "check", "--state", statePath, "--state-dir", dir); code != exitOK {
		t.Errorf("no maintenance file: exit %d, stderr:\n%s", code, stderr)
	}
	writeNotifyFile(t, flag, "1\n", 0o644)
	if code, _, stderr := runCLI(t, "check", "--state", statePath, "--state-dir", dir); code == exitOK || !strings.Contains(stderr, "this node is held out of MASTER: "+flag+" says 1") {
		t.Errorf("maintenance file says 1: exit %d, stderr:\n%s", code, stderr)
	}
	writeNotifyFile(t, flag, "0\n", 0o644)
	if code, _, stderr := runCLI(t, "check", "--state", statePath, "--state-dir", dir); code != exitOK {
		t.Errorf("maintenance file says 0: exit %d, stderr:\n%s", code, stderr)
	}
}
