package agent

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hakgen/hakgen/haproxy"
	"github.com/hakgen/hakgen/keepalived"
	"github.com/hakgen/hakgen/render"
	"github.com/hakgen/hakgen/state"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
)

// twoTargets adds a second target (keepalived.conf) to the fixture, with
// its own checker and reloader.
func (f *fixture) twoTargets(second *fakeChecker) (Config, string, *fakeReloader) {
	cfg := f.config()
	path := filepath.Join(f.dir, "haproxy", "keepalived.conf")
	r := &fakeReloader{target: path}
	cfg.Targets = append(cfg.Targets, Target{
		Name: "keepalived", Path: path, LastGood: filepath.Join(f.dir, "lib", "keepalived.conf.last-good"),
		Render: render.HAProxy, Checker: second, Reloader: r,
	})
	return cfg, path, r
}

// TestReconcileChecksEveryFileBeforeInstallingAny: when the second file of
// a state is refused, the first is not installed either (no reload), and
// each file's status says what runs and why.
func TestReconcileChecksEveryFileBeforeInstallingAny(t *testing.T) {
	f := newFixture(t)
	s, _ := states()
	writeFile(t, f.statePath, s.YAML())
	old := []byte("# the previous haproxy.cfg\n")
	writeFile(t, f.target, old)
	refusing := &fakeChecker{err: &keepalived.CheckError{File: "x", ExitCode: 4, Output: "unknown interface enp7s0"}}
	cfg, second, _ := f.twoTargets(refusing)
	a, err := New(cfg, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	r := reconcile(t, a)
	if r.Outcome != OutcomeInvalid || f.reloader.calls() != 0 || !bytes.Equal(readFile(t, f.target), old) || fileExists(second) {
		t.Fatalf("outcome %s, %d reloads, haproxy.cfg replaced: %v, keepalived.conf written: %v; want invalid and nothing touched",
			r.Outcome, f.reloader.calls(), !bytes.Equal(readFile(t, f.target), old), fileExists(second))
	}
	if r.Targets[0].Outcome != OutcomeHeld || !strings.Contains(r.Targets[0].Err.Error(), "applied whole or not at all") {
		t.Errorf("haproxy.cfg: %s, %v; want held back by keepalived.conf", r.Targets[0].Outcome, r.Targets[0].Err)
	}
	st := a.status.record(TriggerStart, r, a.targets)
	if got := st.Targets[0].Describe(); !strings.Contains(got, "held, the previous file stays") || !strings.Contains(got, "keepalived.conf") {
		t.Errorf("haproxy.cfg described as %q", got)
	}
	if got := st.Targets[1].Describe(); !strings.Contains(got, "invalid") || !strings.Contains(got, "keepalived -t rejected") {
		t.Errorf("keepalived.conf described as %q", got)
	}
	assertNoLeftovers(t, f.target)
	assertNoLeftovers(t, second)

	refusing.err = nil // fixed: both go in, both reload
	if r := reconcile(t, a); r.Outcome != OutcomeApplied || f.reloader.calls() != 1 {
		t.Errorf("after the fix: %s, %d reloads; want applied with one", r.Outcome, f.reloader.calls())
	}
}

// TestStatusSaysWhatRunsAfterAPartialFailure: a reload of the second file
// that fails after the first one loaded leaves the first running the new
// state; the status says so per file instead of "nothing applied".
func TestStatusSaysWhatRunsAfterAPartialFailure(t *testing.T) {
	f := newFixture(t)
	s, _ := states()
	writeFile(t, f.statePath, s.YAML())
	cfg, second, r2 := f.twoTargets(&fakeChecker{})
	r2.errs = []error{fmt.Errorf("address in use"), fmt.Errorf("still in use")}
	a, err := New(cfg, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	r := reconcile(t, a)
	st := a.status.record(TriggerStart, r, a.targets)
	if st.Healthy || r.Targets[0].Outcome != OutcomeApplied {
		t.Fatalf("healthy %v, haproxy %s; want unhealthy with haproxy applied", st.Healthy, r.Targets[0].Outcome)
	}
	if got := st.Targets[0].Describe(); !strings.Contains(got, "applied: runs state "+short(r.Hash)) {
		t.Errorf("haproxy.cfg described as %q, want it to run the new state", got)
	}
	if sum := st.Summary(); !strings.Contains(sum, "haproxy runs state "+short(r.Hash)) || strings.Contains(sum, "nothing applied") {
		t.Errorf("summary %q", sum)
	}
	_ = second
}

// TestRunRetriesTheFirstReconcile: an agent started before its service
// (the README's order) retries at once after RetryInterval, without any
// edit, and reports applied once the service runs.
func TestRunRetriesTheFirstReconcile(t *testing.T) {
	f := newFixture(t)
	s, _ := states()
	writeFile(t, f.statePath, s.YAML())
	f.reloader.errs = []error{fmt.Errorf("sending reload: %w", haproxy.ErrMasterUnavailable)}
	cfg := f.config()
	cfg.RetryInterval = 50 * time.Millisecond
	cfg.Resync = time.Hour
	a, err := New(cfg, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	defer func() { cancel(); <-done }()
	var last *Status
	for range 500 {
		if st, err := ReadStatus(f.statusPath); err == nil {
			last = st
			if st.Last.Trigger == TriggerRetry && st.Last.Outcome == OutcomeApplied {
				if f.reloader.calls() != 2 {
					t.Errorf("%d reloads, want the failed one and the retry", f.reloader.calls())
				}
				return
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no retry applied the state; last status %+v", last)
}

func testLog(t *testing.T) *zap.Logger { return zaptest.NewLogger(t) }

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// TestSecretFileIsInstalledPrivate: a file that holds a secret for this
// state is installed 0640 and given to the secret group (haproxy, as
// Debian keeps it), even over a world-readable file.
func TestSecretFileIsInstalledPrivate(t *testing.T) {
	f := newFixture(t)
	s, _ := states()
	writeFile(t, f.statePath, s.YAML())
	writeFile(t, f.target, []byte("# the previous, public haproxy.cfg\n"))
	if err := os.Chmod(f.target, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := f.config()
	cfg.Targets[0].Secret = func(*state.State) bool { return true }
	cfg.Targets[0].SecretGroup = "haproxy"
	a, err := New(cfg, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	if r := reconcile(t, a); r.Outcome != OutcomeApplied {
		t.Fatalf("outcome %s, %v", r.Outcome, r.Err)
	}
	info, err := os.Stat(f.target)
	if err != nil {
		t.Fatal(err)
	}
	if perm := info.Mode().Perm(); perm != 0o640 {
		t.Errorf("mode %04o, want 0640", perm)
	}
	if g, err := user.LookupGroup("haproxy"); err == nil && os.Geteuid() == 0 {
		if gid := fmt.Sprint(info.Sys().(*syscall.Stat_t).Gid); gid != g.Gid {
			t.Errorf("group %s, want haproxy (%s)", gid, g.Gid)
		}
	}
}

// TestFIFOAtTheTargetIsRefused: a FIFO where haproxy.cfg should be makes
// the agent refuse to start at once (it is not a regular file), instead of
// blocking, and is left as it is.
func TestFIFOAtTheTargetIsRefused(t *testing.T) {
	f := newFixture(t)
	s, _ := states()
	writeFile(t, f.statePath, s.YAML())
	if err := syscall.Mkfifo(f.target, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := New(f.config(), testLog(t))
	if err == nil || !strings.Contains(err.Error(), "not a regular file but a named pipe") {
		t.Errorf("New: %v; want an error naming the FIFO", err)
	}
	if info, err := os.Lstat(f.target); err != nil || info.Mode()&os.ModeNamedPipe == 0 {
		t.Errorf("the FIFO was replaced: %v %v", info, err)
	}
}
