package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hakgen/hakgen/agent"
	"github.com/hakgen/hakgen/render"
	"github.com/hakgen/hakgen/state"
)

const pairState = `controlPlanes:
  - {name: cp1, address: 10.0.0.11}
stats: {bind: "10.0.0.5:8404"}
loadBalancers:
  - {name: lb1, address: 10.0.0.5, serverID: 1001}
  - {name: lb2, address: 10.0.0.6, serverID: 1002}
floatingIP: {id: 4711, address: 203.0.113.10}
keepalived: {interface: enp7s0, virtualRouterID: 51}
`

// standInKeepalived answers `keepalived -t -f FILE` the way keepalived
// 2.2 does: exit 0 for a good file, exit 5 with a message for one it warns
// about (here: virtual_router_id 99 stands for a file it refuses). The
// real `keepalived -t` needs the configured interface, which only the
// namespaced tests of render and e2e have.
func standInKeepalived(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "keepalived")
	script := "#!/bin/sh\nif grep -q 'virtual_router_id 99' \"$3\"; then echo '(Line 30) Unknown interface!'; exit 5; fi\nexit 0\n"
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestRunKeepsKeepalivedConfPerNode runs the daemon for node lb2: it
// installs lb2's keepalived.conf next to haproxy.cfg (whose stats bind
// lb2's own address), and a keepalived.conf that keepalived refuses leaves
// the installed one in place.
func TestRunKeepsKeepalivedConfPerNode(t *testing.T) {
	d := startDaemon(t, pairState, "--node", "lb2", "--keepalived-bin", standInKeepalived(t))
	kaPath := filepath.Join(d.dir, "keepalived.conf")
	d.waitStatus(t, "keepalived.conf applied", func(st *agent.Status) bool { return st.Healthy && fileExists(kaPath) })
	s, _, err := state.Parse(d.state, []byte(pairState))
	if err != nil {
		t.Fatal(err)
	}
	want, err := render.Keepalived(s, render.KeepalivedOptions{Node: "lb2", StatePath: d.state, StateDir: filepath.Join(d.dir, "run")})
	if err != nil {
		t.Fatal(err)
	}
	if got := mustRead(t, kaPath); !bytes.Equal(got, want) {
		t.Errorf("keepalived.conf is not lb2's:\n%s", got)
	}
	// keepalived runs notify from /: it must get the daemon's absolute paths.
	if got := string(mustRead(t, kaPath)); !strings.Contains(got, " --state "+d.state+" --state-dir "+filepath.Join(d.dir, "run")) {
		t.Errorf("notify does not get the daemon's --state and --state-dir:\n%s", got)
	}
	if cfg := string(mustRead(t, d.config)); !strings.Contains(cfg, "    bind 10.0.0.6:8404\n") {
		t.Errorf("haproxy.cfg of lb2 does not bind stats on lb2's address:\n%s", cfg)
	}

	refused := strings.Replace(pairState, "virtualRouterID: 51", "virtualRouterID: 99", 1)
	if err := os.WriteFile(d.state, []byte(refused), 0o644); err != nil {
		t.Fatal(err)
	}
	st := d.waitStatus(t, "the refused keepalived.conf", func(st *agent.Status) bool { return !st.Healthy })
	if st.Last == nil || !strings.Contains(st.Last.Error, "Unknown interface!") {
		t.Errorf("status does not carry keepalived's message: %+v", st.Last)
	}
	if got := mustRead(t, kaPath); !bytes.Equal(got, want) {
		t.Error("a refused keepalived.conf replaced the installed one")
	}
}

// TestRunLeavesKeepalivedAloneWithoutSection: no keepalived section, no
// keepalived.conf written.
func TestRunLeavesKeepalivedAloneWithoutSection(t *testing.T) {
	d := startDaemon(t, daemonState)
	if fileExists(filepath.Join(d.dir, "keepalived.conf")) {
		t.Error("keepalived.conf written for a state without a keepalived section")
	}
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// TestRunWithoutKeepalivedInstalled: a state with a keepalived section on
// a node without keepalived (the package only recommends it) still gets
// its haproxy.cfg, with a warning that keepalived.conf is left alone; once
// keepalived is installed, keepalived.conf follows.
func TestRunWithoutKeepalivedInstalled(t *testing.T) {
	installed := defaultKeepalivedBin
	defaultKeepalivedBin = filepath.Join(t.TempDir(), "keepalived")
	t.Cleanup(func() { defaultKeepalivedBin = installed })
	d := startDaemon(t, pairState, "--node", "lb2")
	kaPath := filepath.Join(d.dir, "keepalived.conf")
	d.waitStatus(t, "haproxy.cfg applied", func(st *agent.Status) bool { return st.Healthy && fileExists(d.config) })
	if fileExists(kaPath) {
		t.Error("keepalived.conf written without keepalived installed")
	}
	if !strings.Contains(d.stderr.String(), "keepalived is not installed") {
		t.Errorf("no warning that keepalived is missing:\n%s", d.stderr)
	}

	if err := os.Symlink(standInKeepalived(t), defaultKeepalivedBin); err != nil {
		t.Fatal(err)
	}
	// Any write of the state makes the daemon look again.
	if err := os.WriteFile(d.state, []byte(pairState+"# keepalived installed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	d.waitStatus(t, "keepalived.conf applied", func(st *agent.Status) bool { return st.Healthy && fileExists(kaPath) })
}
