package main

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/hakgen/hakgen/failover"
	"github.com/hakgen/hakgen/hetzner/hetznertest"
)

// buildNotifyAgent builds hakgen-agent into a private directory, for tests
// that run notify as keepalived does: as a process of its own.
func buildNotifyAgent(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	bin := filepath.Join(t.TempDir(), "hakgen-agent")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, goBin, "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("building hakgen-agent: %v\n%s", err, out)
	}
	return bin
}

// agentProcess is notify running as a process.
type agentProcess struct {
	cmd    *exec.Cmd
	stderr bytes.Buffer
	done   chan struct{}
}

// startNotify starts `bin notify ...` for w with w's environment; the
// test's cleanup kills it by PID if it is still running.
func startNotify(t *testing.T, bin string, w *notifyWorld, rest ...string) *agentProcess {
	t.Helper()
	p := &agentProcess{cmd: exec.Command(bin, w.args(append([]string{"--journal=false"}, rest...)...)...), done: make(chan struct{})}
	p.cmd.Env = []string{
		"HCLOUD_ENDPOINT=" + w.fake.APIEndpoint(),
		"HCLOUD_METADATA_ENDPOINT=" + w.fake.MetadataEndpoint(),
		"PATH=/usr/bin:/bin",
	}
	p.cmd.Stderr = &p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// exitCode waits (at most 40 s: past any deadline notify has) for the
// process and returns its exit code.
func (p *agentProcess) exitCode(t *testing.T) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(40 * time.Second):
		t.Fatalf("notify did not exit; stderr:\n%s", p.stderr.String())
	}
	return p.cmd.ProcessState.ExitCode()
}

// TestNotifyProcessBothForms runs the built binary the way keepalived
// does, in both argument forms, and checks the exit code and requests.
func TestNotifyProcessBothForms(t *testing.T) {
	bin := buildNotifyAgent(t)
	for _, args := range [][]string{{"--node", "lb1", "MASTER"}, {"--node", "lb1", "INSTANCE", "hakgen-prod", "MASTER", "200"}} {
		w := newNotifyWorld(t, "10.0.0.5", true)
		p := startNotify(t, bin, w, args...)
		if code := p.exitCode(t); code != 0 {
			t.Fatalf("%v: exit %d, stderr:\n%s", args, code, p.stderr.String())
		}
		w.wantRequests(t, assignPollVerify...)
		if w.fake.Owner(fipID) != thisID {
			t.Errorf("%v: Floating IP points to %d", args, w.fake.Owner(fipID))
		}
	}
}

// TestNotifyProcessStaleMasterGivesUp: a MASTER run whose assign is still
// on its way when keepalived reports BACKUP gives up with exit 3, and the
// Floating IP stays where it was.
func TestNotifyProcessStaleMasterGivesUp(t *testing.T) {
	bin := buildNotifyAgent(t)
	w := newNotifyWorld(t, "10.0.0.5", true)
	w.fake.Inject(hetznertest.Assign, 1, hetznertest.Slow(20*time.Second))
	master := startNotify(t, bin, w, "--node", "lb1", "INSTANCE", "hakgen-prod", "MASTER", "200")
	waitForAssign(t, w.fake, master)

	backup := startNotify(t, bin, w, "--node", "lb1", "INSTANCE", "hakgen-prod", "BACKUP", "200")
	if code := backup.exitCode(t); code != 0 {
		t.Fatalf("BACKUP run: exit %d, stderr:\n%s", code, backup.stderr.String())
	}
	code := master.exitCode(t)
	if want := "MASTER run 1 superseded by BACKUP (run 2)"; code != failover.ExitSuperseded || !strings.Contains(master.stderr.String(), want) {
		t.Errorf("MASTER run: exit %d, stderr:\n%s\nwant exit %d and %q", code, master.stderr.String(), failover.ExitSuperseded, want)
	}
	if w.fake.Owner(fipID) != peerID {
		t.Errorf("Floating IP points to %d, want it left with %d", w.fake.Owner(fipID), peerID)
	}
	if rec := w.latest(t); rec.State != failover.Backup || rec.Seq != 2 {
		t.Errorf("recorded %+v, want BACKUP as run 2", rec)
	}
	if got := w.fake.Count(hetznertest.Assign); got != 1 {
		t.Errorf("%d assigns, want the one that was cut off", got)
	}
}

// waitForAssign waits (bounded) until the fake has received an assign.
func waitForAssign(t *testing.T, f *hetznertest.Fake, p *agentProcess) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if f.Count(hetznertest.Assign) > 0 {
			return
		}
		select {
		case <-p.done:
			t.Fatalf("notify exited before its assign arrived; stderr:\n%s", p.stderr.String())
		default:
		}
	}
	t.Fatal("the assign did not arrive within 20 s")
}
