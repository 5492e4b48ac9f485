package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hakgen/hakgen/failover"
	"github.com/hakgen/hakgen/hetzner/hetznertest"
	"github.com/hakgen/hakgen/internal/tooltest"
	"github.com/hakgen/hakgen/state"
)

// testNetns is a network namespace made for one test, held by an OS thread
// that does nothing but run the functions given to do. Sockets opened and
// processes started in do live in the namespace. The thread ends with the
// test and the namespace with its last user.
type testNetns struct {
	work chan func()
	done chan struct{}
	tid  int // the holding thread, whose /proc/TID/ns/net names the namespace
}

func newTestNetns(t *testing.T) *testNetns {
	t.Helper()
	ns := &testNetns{work: make(chan func()), done: make(chan struct{})}
	ready := make(chan error, 1)
	go func() {
		// Never unlocked: the thread exits with this goroutine, so no other
		// goroutine ever runs in the namespace.
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			ready <- err
			return
		}
		ns.tid = unix.Gettid()
		ready <- nil
		for {
			select {
			case f := <-ns.work:
				f()
			case <-ns.done:
				return
			}
		}
	}()
	if err := <-ready; err != nil {
		t.Fatalf("creating a network namespace: %v", err)
	}
	t.Cleanup(func() { close(ns.done) })
	return ns
}

// do runs f in the namespace and waits for it.
func (ns *testNetns) do(f func()) {
	finished := make(chan struct{})
	ns.work <- func() { defer close(finished); f() }
	<-finished
}

// run runs a command in the namespace and fails the test when it fails.
func (ns *testNetns) run(t *testing.T, argv ...string) {
	t.Helper()
	var out []byte
	var err error
	ns.do(func() { out, err = exec.Command(argv[0], argv[1:]...).CombinedOutput() })
	if err != nil {
		t.Fatalf("%v: %v\n%s", argv, err, out)
	}
}

// TestKeepalivedRunsCheckAndNotify runs Debian's keepalived on the
// keepalived.conf that render --keepalived writes, with the real
// hakgen-agent as its check and notify scripts, in a network namespace
// with the configured interface, against the fake Hetzner API:
//   - the check finds HAProxy's /healthz answering, the node becomes MASTER
//     (its peer is silent) and notify moves the Floating IP here, with
//     the assign as the first request;
//   - /healthz stops answering: the check fails, the node goes to
//     FAULT, notify records it, and nothing more is asked of the API.
//
// keepalived runs in a mount namespace of its own with a tmpfs on /run,
// where the test's directory is mounted as /run/hakgen.
func TestKeepalivedRunsCheckAndNotify(t *testing.T) {
	tooltest.NeedRoot(t)
	keepalived := tooltest.Need(t, "keepalived")
	ip := tooltest.Need(t, "ip")
	unshare := tooltest.Need(t, "unshare")
	agent := buildNotifyAgent(t)

	ns := newTestNetns(t)
	ns.run(t, ip, "link", "set", "lo", "up")
	ns.run(t, ip, "link", "add", "enp7s0", "type", "veth", "peer", "name", "hakgen-peer")
	ns.run(t, ip, "addr", "add", "10.99.0.1/24", "dev", "enp7s0")
	ns.run(t, ip, "link", "set", "enp7s0", "up")
	ns.run(t, ip, "link", "set", "hakgen-peer", "up")
	var fake *hetznertest.Fake
	var frontend net.Listener // stands in for HAProxy's stats frontend
	var err error
	ns.do(func() {
		fake = hetznertest.New(t)
		frontend, err = net.Listen("tcp", "127.0.0.1:0")
	})
	if err != nil {
		t.Fatal(err)
	}
	defer frontend.Close()
	go func() {
		_ = http.Serve(frontend, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != state.HealthPath {
				w.WriteHeader(http.StatusNotFound)
			}
		}))
	}()
	fake.RequireToken(notifyToken)

	dir := t.TempDir()
	runDir := filepath.Join(dir, "run-hakgen")
	if err := os.Mkdir(runDir, 0o755); err != nil {
		t.Fatal(err)
	}
	writeNotifyFile(t, filepath.Join(dir, "hcloud-token"), notifyToken+"\n", 0o600)
	statePath := filepath.Join(dir, "state.yaml")
	writeNotifyFile(t, statePath, fmt.Sprintf(`controlPlanes: [{name: cp1, address: 10.0.0.11}]
stats: {bind: "127.0.0.1:%d"}
loadBalancers:
  - {name: lb1, address: 10.99.0.1, serverID: 1001}
  - {name: lb2, address: 10.99.0.2, serverID: 1002}
floatingIP: {id: 4711, address: 203.0.113.10, tokenFile: %s}
keepalived: {interface: enp7s0}
`, frontend.Addr().(*net.TCPAddr).Port, filepath.Join(dir, "hcloud-token")), 0o644)
	code, conf, stderr := runCLI(t, "render", "--keepalived", "--node", "lb1", "--state", statePath, "--agent-path", agent)
	if code != exitOK {
		t.Fatalf("render --keepalived: exit %d\n%s", code, stderr)
	}
	confPath := filepath.Join(dir, "keepalived.conf")
	writeNotifyFile(t, confPath, conf, 0o644)

	out := startKeepalived(t, ns, unshare, keepalived, confPath, runDir, fake)
	store := failover.NewStore(runDir)
	waitForKeepalived(t, "the Floating IP to move here", out, func() bool { return fake.Owner(fipID) == thisID })
	if eps := fake.Endpoints(); len(eps) < 3 || eps[0] != hetznertest.Assign {
		t.Errorf("requests = %v, want the assign first", eps)
	}
	if rec, err := store.Latest(); err != nil || rec.State != failover.Master || rec.Event != "INSTANCE hakgen-kubernetes MASTER 250" {
		t.Errorf("recorded %+v, %v; want keepalived's MASTER event", rec, err)
	}

	requests := len(fake.Requests())
	frontend.Close()
	waitForKeepalived(t, "FAULT to be recorded", out, func() bool {
		rec, err := store.Latest()
		return err == nil && rec.State == failover.Fault
	})
	if got := len(fake.Requests()); got != requests {
		t.Errorf("FAULT made %d requests, want none", got-requests)
	}
}

// startKeepalived runs keepalived in the foreground in ns, in a new mount
// namespace with a tmpfs on /run and runDir mounted at /run/hakgen, with
// the fake's endpoints in its environment (keepalived passes it on to its
// scripts). It returns keepalived's output; cleanup stops it by PID.
func startKeepalived(t *testing.T, ns *testNetns, unshare, keepalived, conf, runDir string, fake *hetznertest.Fake) *keepalivedOutput {
	t.Helper()
	script := `mount -t tmpfs tmpfs /run && mkdir /run/hakgen && mount --bind "$1" /run/hakgen &&
exec "$2" --dont-fork --log-console --log-detail -f "$3" -p /run/keepalived.pid -r /run/vrrp.pid -c /run/checkers.pid`
	cmd := exec.Command(unshare, "--mount", "--propagation", "private", "--", "/bin/sh", "-c", script, "sh", runDir, keepalived, conf)
	cmd.Env = []string{
		"HCLOUD_ENDPOINT=" + fake.APIEndpoint(),
		"HCLOUD_METADATA_ENDPOINT=" + fake.MetadataEndpoint(),
		"PATH=/usr/sbin:/usr/bin:/sbin:/bin",
	}
	out := &keepalivedOutput{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var err error
	ns.do(func() { err = cmd.Start() })
	if err != nil {
		t.Fatalf("starting keepalived: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
		if t.Failed() {
			t.Logf("keepalived output:\n%s", out.String())
		}
	})
	return out
}

// waitForKeepalived polls cond for up to 30 s; the bound only guards against a
// hang.
func waitForKeepalived(t *testing.T, what string, out *keepalivedOutput, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		if cond() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("gave up waiting for %s; keepalived output:\n%s", what, out.String())
}

// keepalivedOutput is a bytes.Buffer safe for a writing process and a reading
// test.
type keepalivedOutput struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *keepalivedOutput) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *keepalivedOutput) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
