package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hakgen/hakgen/agent"
	"github.com/hakgen/hakgen/haproxy/haproxytest"
	"github.com/hakgen/hakgen/internal/tooltest"
	"github.com/hakgen/hakgen/render"
	"github.com/hakgen/hakgen/state"
)

// daemonWait bounds every wait for the daemon (an upper bound only).
const daemonWait = 20 * time.Second

const daemonState = "controlPlanes:\n  - {name: cp1, address: 10.0.0.11}\nworkers:\n  - {name: w1, address: 10.0.0.21}\n"

// daemon is `hakgen-agent run --reload none` running in-process on files
// in a temporary directory, with the real `haproxy -c`.
type daemon struct {
	dir, state, config, status string
	stderr                     *haproxytest.SyncBuffer
	cancel                     context.CancelFunc
	exit                       chan int
}

func startDaemon(t *testing.T, stateYAML string, extra ...string) *daemon {
	t.Helper()
	bin := tooltest.Need(t, "haproxy")
	dir := t.TempDir()
	d := &daemon{dir: dir, state: filepath.Join(dir, "state.yaml"), config: filepath.Join(dir, "haproxy.cfg"),
		status: filepath.Join(dir, "run", "status.json"), stderr: &haproxytest.SyncBuffer{}, exit: make(chan int, 1)}
	if err := os.WriteFile(d.state, []byte(stateYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"run", "--state", d.state, "--haproxy-config", d.config, "--reload", "none",
		"--haproxy-bin", bin, "--last-good", filepath.Join(dir, "lib", "last-good"), "--status-file", d.status,
		"--server-state-file", filepath.Join(dir, "lib", "server-state"),
		"--min-quiescence", "20ms", "--min-reload-interval", "0",
		"--keepalived-config", filepath.Join(dir, "keepalived.conf"), "--keepalived-last-good", filepath.Join(dir, "lib", "ka-last-good"),
		"--state-dir", filepath.Join(dir, "run"), "--heal-interval", "0", "--metrics-listen", "127.0.0.1:0"}, extra...)
	ctx, cancel := context.WithCancel(context.Background())
	d.cancel = cancel
	go func() { d.exit <- run(ctx, args, &bytes.Buffer{}, d.stderr) }()
	t.Cleanup(func() {
		if code := d.stop(t); code != exitOK {
			t.Errorf("run exited %d after its context ended; stderr:\n%s", code, d.stderr)
		}
	})
	d.waitStatus(t, "the first reconcile", func(*agent.Status) bool { return true })
	return d
}

// stop ends the daemon as SIGTERM does (main cancels the context) and
// returns its exit code; later calls return exitOK.
func (d *daemon) stop(t *testing.T) int {
	t.Helper()
	d.cancel()
	select {
	case code, ok := <-d.exit:
		if ok {
			close(d.exit)
			return code
		}
		return exitOK
	case <-time.After(daemonWait):
		t.Fatalf("run did not return within %s of its context ending", daemonWait)
		return -1
	}
}

func (d *daemon) waitStatus(t *testing.T, what string, ok func(*agent.Status) bool) *agent.Status {
	t.Helper()
	var st *agent.Status
	for range int(daemonWait / (20 * time.Millisecond)) {
		var err error
		if st, err = agent.ReadStatus(d.status); err == nil && ok(st) {
			return st
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("status never showed %s; last %+v; stderr:\n%s", what, st, d.stderr)
	return nil
}

// renderedFor is what the daemon renders of yaml: its server-state file
// is the one startDaemon gives it.
func (d *daemon) renderedFor(t *testing.T, yaml string) []byte {
	t.Helper()
	s, _, err := state.Parse("state.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := render.HAProxyWith(s, render.HAProxyOptions{ServerStateFile: filepath.Join(d.dir, "lib", "server-state")})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestRunInstallsAndStatusReports runs the daemon: it installs the rendered
// haproxy.cfg, follows an edit, refuses an invalid one (status exits 1 and
// names the place), and exits 0 when stopped.
func TestRunInstallsAndStatusReports(t *testing.T) {
	d := startDaemon(t, daemonState)
	if got := mustRead(t, d.config); !bytes.Equal(got, d.renderedFor(t, daemonState)) {
		t.Fatalf("haproxy.cfg is not the rendered state:\n%s", got)
	}
	code, out, _ := runCLI(t, "status", "--status-file", d.status)
	if code != exitOK || !strings.Contains(out, "applied (last reconcile: applied)") || !strings.Contains(out, d.config) {
		t.Errorf("status: exit %d\n%s", code, out)
	}

	edited := strings.Replace(daemonState, "10.0.0.21", "10.0.0.22", 1)
	if err := os.WriteFile(d.state, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	editedState, _, err := state.Parse("state.yaml", []byte(edited))
	if err != nil {
		t.Fatal(err)
	}
	d.waitStatus(t, "the edit", func(s *agent.Status) bool { return s.Healthy && s.AppliedHash == editedState.Hash() })
	if got := mustRead(t, d.config); !bytes.Equal(got, d.renderedFor(t, edited)) {
		t.Errorf("haproxy.cfg does not follow the edit:\n%s", got)
	}

	if err := os.WriteFile(d.state, []byte(edited+"  - {name: W2, address: 10.0.0.23}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	d.waitStatus(t, "the invalid edit", func(s *agent.Status) bool { return !s.Healthy })
	code, out, stderr := runCLI(t, "status", "--status-file", d.status)
	if code != exitInvalid || !strings.Contains(out, d.state+":5:12: workers[1].name") || !strings.Contains(stderr, "the last reconcile failed") {
		t.Errorf("status after an invalid edit: exit %d\n%s%s", code, out, stderr)
	}
	code, out, _ = runCLI(t, "status", "--status-file", d.status, "--json")
	if code != exitInvalid || !strings.Contains(out, `"outcome": "invalid"`) {
		t.Errorf("status --json: exit %d\n%s", code, out)
	}
	if got := mustRead(t, d.config); !bytes.Equal(got, d.renderedFor(t, edited)) {
		t.Error("the invalid edit changed haproxy.cfg")
	}
	if code := d.stop(t); code != exitOK {
		t.Errorf("run exited %d when stopped", code)
	}
}

// TestStatusOfAGoneAgent: a status file whose writer no longer runs is
// reported as stale (exit 3).
func TestStatusOfAGoneAgent(t *testing.T) {
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Skipf("cannot run true: %v", err)
	}
	path := filepath.Join(t.TempDir(), "status.json")
	st := fmt.Sprintf(`{"pid": %d, "healthy": true, "appliedStateHash": "abc", "lastReconcile": {"outcome": "applied"}, "targets": []}`, gone.Process.Pid)
	if err := os.WriteFile(path, []byte(st), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, stderr := runCLI(t, "status", "--status-file", path)
	if code != exitEnvironment || !strings.Contains(stderr, "is not running") || !strings.Contains(out, "state abc applied") {
		t.Errorf("exit %d, stdout %q, stderr %q; want 3, the status and a warning", code, out, stderr)
	}
}

// TestRunReconcilesOnSIGHUP: a hand edit of haproxy.cfg is not watched;
// SIGHUP makes the daemon put the rendered file back at once.
func TestRunReconcilesOnSIGHUP(t *testing.T) {
	d := startDaemon(t, daemonState, "--resync", "1h")
	if err := os.WriteFile(d.config, []byte("# edited by hand\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	st := d.waitStatus(t, "a reconcile after SIGHUP", func(s *agent.Status) bool { return s.Last != nil && s.Last.Trigger == agent.TriggerSignal })
	if st.Last.Trigger != agent.TriggerSignal || !bytes.Equal(mustRead(t, d.config), d.renderedFor(t, daemonState)) {
		t.Errorf("after SIGHUP: trigger %q, haproxy.cfg %q; want the rendered file back", st.Last.Trigger, mustRead(t, d.config))
	}
}

// TestRunNotifiesSystemd: with NOTIFY_SOCKET set (Type=notify), READY=1
// follows the first reconcile even for an invalid state, after a STATUS=
// naming the error; JSON logs carry the component names.
func TestRunNotifiesSystemd(t *testing.T) {
	sockDir, err := os.MkdirTemp("", "hakgen-run-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(sockDir) })
	path := filepath.Join(sockDir, "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	t.Setenv("NOTIFY_SOCKET", path)
	t.Setenv("WATCHDOG_USEC", "")

	d := startDaemon(t, "controlPlanes: [\n", "--log-format", "json")
	first, second := nextDatagram(t, conn), nextDatagram(t, conn)
	if !strings.HasPrefix(first, "STATUS=invalid: "+d.state+":") || second != "READY=1" {
		t.Errorf("notifications %q, %q; want STATUS= with the error, then READY=1", first, second)
	}
	d.stop(t)
	if got := nextDatagram(t, conn); got != "STOPPING=1" {
		t.Errorf("on stop: %q, want STOPPING=1", got)
	}
	if !strings.Contains(d.stderr.String(), `"logger":"agent","msg":"state refused; keeping the running configuration"`) {
		t.Errorf("no JSON error line from the agent in:\n%s", d.stderr)
	}
}

func nextDatagram(t *testing.T, conn *net.UnixConn) string {
	t.Helper()
	if err := conn.SetReadDeadline(time.Now().Add(daemonWait)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatalf("reading a notification: %v", err)
	}
	return string(buf[:n])
}

func TestRunUsageErrors(t *testing.T) {
	good := writeState(t, daemonState)
	for _, c := range []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"--reload", "restart"}, exitUsage, `--reload "restart"`},
		{[]string{"--min-quiescence", "0s"}, exitUsage, "--min-quiescence must be positive"},
		{[]string{"--min-quiescence", "3s", "--max-quiescence", "1s"}, exitUsage, "must not be shorter"},
		{[]string{"--log-format", "xml"}, exitUsage, `--log-format "xml"`},
		{[]string{"--haproxy-bin", "/nonexistent/haproxy"}, exitEnvironment, "/nonexistent/haproxy"},
		{[]string{"--metrics-listen", ":9405"}, exitUsage, "listens on every address"},
		{[]string{"--metrics-listen", "[::]:9405"}, exitUsage, "--metrics-allow-wildcard"},
	} {
		args := append([]string{"run", "--state", good, "--status-file", filepath.Join(t.TempDir(), "s.json")}, c.args...)
		if code, _, stderr := runCLI(t, args...); code != c.code || !strings.Contains(stderr, c.stderr) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", c.args, code, stderr, c.code, c.stderr)
		}
	}
	if code, _, stderr := runCLI(t, "status", "--status-file", filepath.Join(t.TempDir(), "none.json")); code != exitEnvironment || !strings.Contains(stderr, "no status at") {
		t.Errorf("status without a file: exit %d, %q", code, stderr)
	}
}
