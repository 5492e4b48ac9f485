package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hakgen/hakgen/agent"
	"github.com/hakgen/hakgen/hetzner/hetznertest"
	"github.com/hakgen/hakgen/internal/tooltest"
)

// quickStartUptime is how long each node's agent must stay up and healthy.
const quickStartUptime = 10 * time.Second

// TestQuickStartStateRuns takes the quick start's state.yaml from README.md
// and runs the built hakgen-agent on it as lb1 and as lb2 would: each in a
// network namespace holding that node's private address on enp7s0 and a
// public eth0, with the healer on at its defaults and the fake Hetzner API
// behind HCLOUD_ENDPOINT. Only the paths differ from an installation: the
// files the agent writes live in a temporary directory (--reload none), and
// the state's tokenFile points there. Each agent must stay up for 10 s,
// report healthy through `status`, and exit 0 on SIGTERM.
func TestQuickStartStateRuns(t *testing.T) {
	tooltest.NeedRoot(t)
	tooltest.Need(t, "haproxy")
	tooltest.Need(t, "keepalived")
	ip := tooltest.Need(t, "ip")
	bin := buildNotifyAgent(t)
	quick := quickStartState(t)
	if !strings.Contains(quick, "tokenFile: /etc/hakgen/hcloud-token") {
		t.Fatal("the quick start's state no longer names /etc/hakgen/hcloud-token; update this test")
	}
	for _, node := range []struct{ name, addr string }{{"lb1", "10.0.0.5"}, {"lb2", "10.0.0.6"}} {
		t.Run(node.name, func(t *testing.T) {
			t.Parallel()
			runQuickStartNode(t, bin, ip, quick, node.name, node.addr)
		})
	}
}

func runQuickStartNode(t *testing.T, bin, ip, quick, name, addr string) {
	ns := newTestNetns(t)
	ns.run(t, ip, "link", "set", "lo", "up")
	for _, link := range []struct{ name, addr string }{{"enp7s0", addr + "/24"}, {"eth0", "192.0.2.5/24"}} {
		ns.run(t, ip, "link", "add", link.name, "type", "veth", "peer", "name", link.name+"-peer")
		ns.run(t, ip, "addr", "add", link.addr, "dev", link.name)
		ns.run(t, ip, "link", "set", link.name, "up")
		ns.run(t, ip, "link", "set", link.name+"-peer", "up")
	}
	var fake *hetznertest.Fake
	ns.do(func() { fake = hetznertest.New(t) })
	fake.RequireToken(notifyToken)

	dir := t.TempDir()
	token := filepath.Join(dir, "hcloud-token")
	writeNotifyFile(t, token, notifyToken+"\n", 0o600)
	statePath := filepath.Join(dir, "state.yaml")
	writeNotifyFile(t, statePath, strings.Replace(quick, "/etc/hakgen/hcloud-token", token, 1), 0o644)
	status := filepath.Join(dir, "run", "status.json")
	cmd := exec.Command(bin, "run", "--state", statePath, "--reload", "none",
		"--haproxy-config", filepath.Join(dir, "haproxy.cfg"), "--last-good", filepath.Join(dir, "lib", "haproxy.cfg.last-good"),
		"--server-state-file", filepath.Join(dir, "lib", "server-state"),
		"--keepalived-config", filepath.Join(dir, "keepalived.conf"), "--keepalived-last-good", filepath.Join(dir, "lib", "keepalived.conf.last-good"),
		"--status-file", status, "--state-dir", filepath.Join(dir, "run"), "--keepalived-pid-file", filepath.Join(dir, "run", "keepalived.pid"),
		"--agent-path", bin, "--metrics-listen", "127.0.0.1:0")
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HCLOUD_ENDPOINT=" + fake.APIEndpoint(), "HCLOUD_METADATA_ENDPOINT=" + fake.MetadataEndpoint()}
	out := &keepalivedOutput{}
	cmd.Stdout, cmd.Stderr = out, out
	var err error
	ns.do(func() { err = cmd.Start() })
	if err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		select {
		case <-exited:
		default:
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("hakgen-agent run (%s):\n%s", name, out)
		}
	})

	started := time.Now()
	var st *agent.Status
	for range int(quickStartUptime / (50 * time.Millisecond)) {
		if st, err = agent.ReadStatus(status); err == nil && st.Last != nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if st == nil || !st.Healthy || st.Last.Outcome != agent.OutcomeApplied {
		t.Fatalf("first reconcile: %+v (%v)", st, err)
	}
	for _, want := range []string{"haproxy.cfg", "keepalived.conf"} {
		if _, err := os.Stat(filepath.Join(dir, want)); err != nil {
			t.Errorf("%s was not written: %v", want, err)
		}
	}
	if conf := string(mustRead(t, filepath.Join(dir, "keepalived.conf"))); !strings.Contains(conf, `"`+bin+" check --url") || !strings.Contains(conf, `"`+bin+" notify") {
		t.Errorf("keepalived.conf does not run --agent-path %s:\n%s", bin, conf)
	}
	time.Sleep(quickStartUptime - time.Since(started))
	select {
	case <-exited:
		t.Fatalf("run exited within %s: %v", quickStartUptime, cmd.ProcessState)
	default:
	}
	if code, stdout, stderr := runCLI(t, "status", "--status-file", status); code != exitOK || !strings.Contains(stdout, "applied") {
		t.Errorf("status after %s: exit %d\n%s%s", quickStartUptime, code, stdout, stderr)
	}
	if !strings.Contains(out.String(), "Floating IP self-healing on") {
		t.Errorf("the healer did not start")
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
	case <-time.After(daemonWait):
		t.Fatal("run did not exit after SIGTERM")
	}
	if code := cmd.ProcessState.ExitCode(); code != exitOK {
		t.Errorf("run exited %d after SIGTERM, want 0", code)
	}
	if strings.Contains(out.String(), "panic") || strings.Contains(out.String(), notifyToken) {
		t.Errorf("run's output shows a panic or the token")
	}
}
