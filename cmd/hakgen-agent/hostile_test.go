package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hakgen/hakgen/agent"
	"github.com/hakgen/hakgen/internal/tooltest"
)

// TestFIFOAtTheStatePathBlocksNothing: with a FIFO (no writer) where the
// state file should be, validate, check and notify each return at once
// with an error naming the file, and notify leaves no lock behind: the
// next MASTER run, with a real state, moves the Floating IP.
func TestFIFOAtTheStatePathBlocksNothing(t *testing.T) {
	bin := tooltest.Need(t, "haproxy")
	w := newNotifyWorld(t, "10.0.0.5", true)
	good := mustRead(t, w.statePath)
	os.Remove(w.statePath)
	if err := syscall.Mkfifo(w.statePath, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"validate", "--offline", "--state", w.statePath, "--haproxy-bin", bin},
		{"check", "--state", w.statePath},
	} {
		start := time.Now()
		code, _, stderr := runCLI(t, args...)
		if code == exitOK || !strings.Contains(stderr, w.statePath) || !strings.Contains(stderr, "not a regular file") {
			t.Errorf("%s: exit %d, stderr:\n%s", args[0], code, stderr)
		}
		t.Logf("%s returned after %s", args[0], time.Since(start))
	}
	if code, stderr := w.notify(t, "--node", "lb1", "MASTER"); code == exitOK || !strings.Contains(stderr, "not a regular file") {
		t.Errorf("notify on a FIFO: exit %d, stderr:\n%s", code, stderr)
	}
	os.Remove(w.statePath)
	writeNotifyFile(t, w.statePath, string(good), 0o644)
	if code, stderr := w.notify(t, "--node", "lb1", "--deadline", "10s", "MASTER"); code != exitOK || w.fake.Owner(fipID) != thisID {
		t.Errorf("the next MASTER run: exit %d, owner %d, stderr:\n%s", code, w.fake.Owner(fipID), stderr)
	}
}

// TestUnreadableSecretIsAnEnvironmentProblem: a stats password file the
// process may not read (permission denied) exits 3, as the README's table
// says, not 1: the state is right, the machine is not. The binary runs as
// nobody, for whom root's 0600 file is unreadable.
func TestUnreadableSecretIsAnEnvironmentProblem(t *testing.T) {
	tooltest.NeedRoot(t)
	agent := buildNotifyAgent(t)
	dir, err := os.MkdirTemp("/var/tmp", "hakgen-perm-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	data := mustRead(t, agent)
	agent = filepath.Join(dir, "hakgen-agent") // where nobody may run it
	if err := os.WriteFile(agent, data, 0o755); err != nil {
		t.Fatal(err)
	}
	writeNotifyFile(t, filepath.Join(dir, "password"), "s3cret\n", 0o600)
	statePath := filepath.Join(dir, "state.yaml")
	writeNotifyFile(t, statePath, "controlPlanes: [{name: cp1, address: 10.0.0.11}]\nstats: {bind: \"127.0.0.1:8404\", user: admin, passwordFile: password}\n", 0o644)
	cmd := exec.Command(agent, "render", "--state", statePath)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if code := cmd.ProcessState.ExitCode(); code != exitEnvironment || !strings.Contains(string(out), "permission denied") {
		t.Errorf("exit %d (%v), output:\n%s\nwant exit 3 and permission denied", code, err, out)
	}
}

// TestSecondRunIsRefused: a second `run` on the files of a running agent
// exits at once with an error naming the lock instead of fighting it.
func TestSecondRunIsRefused(t *testing.T) {
	d := startDaemon(t, daemonState)
	code, _, stderr := runCLI(t, "run", "--state", d.state, "--haproxy-config", d.config, "--reload", "none",
		"--last-good", filepath.Join(d.dir, "lib", "last-good"), "--status-file", filepath.Join(d.dir, "other-status.json"),
		"--server-state-file", filepath.Join(d.dir, "lib", "server-state"),
		"--keepalived-config", filepath.Join(d.dir, "keepalived.conf"), "--keepalived-last-good", filepath.Join(d.dir, "lib", "ka-last-good"),
		"--state-dir", filepath.Join(d.dir, "run"), "--heal-interval", "0", "--metrics-listen", "127.0.0.1:0")
	if code != exitEnvironment || !strings.Contains(stderr, "another hakgen-agent run manages these files") {
		t.Errorf("second run: exit %d, stderr:\n%s", code, stderr)
	}
}

// TestRenderOutputWithPasswordHashIsPrivate: render -o over a
// world-readable file makes it 0640 when it holds the stats password's
// hash.
func TestRenderOutputWithPasswordHashIsPrivate(t *testing.T) {
	dir := t.TempDir()
	writeNotifyFile(t, filepath.Join(dir, "password"), "s3cret\n", 0o600)
	statePath := filepath.Join(dir, "state.yaml")
	writeNotifyFile(t, statePath, "controlPlanes: [{name: cp1, address: 10.0.0.11}]\nstats: {bind: \"127.0.0.1:8404\", user: admin, passwordFile: password}\n", 0o644)
	out := filepath.Join(dir, "haproxy.cfg")
	writeNotifyFile(t, out, "# public\n", 0o644)
	if code, _, stderr := runCLI(t, "render", "--state", statePath, "-o", out); code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	info, err := os.Stat(out)
	if err != nil || info.Mode().Perm() != 0o640 || !strings.Contains(string(mustRead(t, out)), "userlist stats-users") {
		t.Errorf("render -o: %v, mode %v; want 0640 with the userlist", err, info.Mode())
	}
}

// TestRunSurvivesAFIFOAtTheStatePath: the daemon whose state.yaml is
// replaced by a FIFO refuses it by its kind (status says so, the running
// haproxy.cfg stays), takes the next real file, and still ends on SIGTERM.
func TestRunSurvivesAFIFOAtTheStatePath(t *testing.T) {
	d := startDaemon(t, daemonState)
	d.waitStatus(t, "the state applied", func(st *agent.Status) bool { return st.Healthy && st.Last != nil })
	cfg := mustRead(t, d.config)
	fifo := d.state + ".fifo"
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(fifo, d.state); err != nil {
		t.Fatal(err)
	}
	st := d.waitStatus(t, "the FIFO refused", func(st *agent.Status) bool {
		return !st.Healthy && st.LastError != nil && strings.Contains(st.LastError.Error, "not a regular file")
	})
	if !strings.Contains(st.LastError.Error, d.state) {
		t.Errorf("the refusal does not name %s: %q", d.state, st.LastError.Error)
	}
	if !bytes.Equal(mustRead(t, d.config), cfg) {
		t.Error("a FIFO at the state path changed haproxy.cfg")
	}
	edited := strings.Replace(daemonState, "10.0.0.21", "10.0.0.31", 1)
	if edited == daemonState {
		t.Fatal("daemonState has no worker at 10.0.0.21 to edit")
	}
	if err := os.Remove(d.state); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(d.state, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	d.waitStatus(t, "the next real state applied", func(st *agent.Status) bool {
		return st.Healthy && strings.Contains(string(mustRead(t, d.config)), " 10.0.0.31:")
	})
	if code := d.stop(t); code != exitOK {
		t.Errorf("SIGTERM after the FIFO: exit %d", code)
	}
}

// TestValidateGivesUpOnAHangingCheck: a haproxy -c that never returns is
// ended at --timeout, reported as an environment problem (exit 3) that
// says so, not as a verdict on the state.
func TestValidateGivesUpOnAHangingCheck(t *testing.T) {
	hang := filepath.Join(t.TempDir(), "haproxy")
	if err := os.WriteFile(hang, []byte("#!/bin/sh\nexec sleep 600\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	statePath := writeState(t, daemonState)
	code, _, stderr := runCLI(t, "validate", "--offline", "--state", statePath, "--haproxy-bin", hang, "--timeout", "1s")
	if code != exitEnvironment || !strings.Contains(stderr, "stopped (killed) before its verdict: context deadline exceeded") {
		t.Errorf("a hanging haproxy -c: exit %d, want %d and the deadline named; stderr:\n%s", code, exitEnvironment, stderr)
	}
}
