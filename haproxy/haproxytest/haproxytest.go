// Package haproxytest runs a real HAProxy in master-worker mode for tests,
// and tiny loopback TCP servers to put behind it.
//
// HAProxy runs as a child of the test, in the foreground, with its master CLI
// on a socket in a private temporary directory; t.Cleanup stops it by PID.
// It is the host's HAProxy, or Debian 13's 3.0 in a chroot of the tree
// `make test` builds (see Build). Configurations given to it must bind only
// loopback addresses and must not use chroot, user or daemon.
package haproxytest

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hakgen/hakgen/haproxy"
)

// Bounds of the waits in this package (upper bounds, not expectations).
const (
	startTimeout = 15 * time.Second
	stopTimeout  = 5 * time.Second
	pollInterval = 20 * time.Millisecond
)

// Instance is a running `haproxy -W -S Socket -f Config`.
type Instance struct {
	Config string // the configuration file given to Start
	Socket string // the master CLI socket
	PID    int    // the master's PID
	Master *haproxy.Master

	cmd  *exec.Cmd
	out  *SyncBuffer
	done chan struct{} // closed when the master has exited
}

// Start runs the host's HAProxy (found with tooltest.Need) in master-worker
// mode on cfgPath; see Build.Start.
func Start(t testing.TB, cfgPath string) *Instance {
	t.Helper()
	return Host(t).Start(t, cfgPath)
}

// Start runs this build of HAProxy in master-worker mode on cfgPath (a
// path on the host; for a chroot build, inside its tree: see TempDir) and
// returns once the master CLI answers and the worker serves its own CLI.
// The test fails when HAProxy exits or does not come up within 15 s;
// HAProxy's output is logged then, and whenever the test fails. HAProxy is
// stopped in t.Cleanup: SIGTERM to the master, SIGKILL to its process group
// if it has not exited within 5 s.
func (b Build) Start(t testing.TB, cfgPath string) *Instance {
	t.Helper()
	dir := b.TempDir(t) // short: socket paths are limited to 108 bytes
	in := &Instance{
		Config: cfgPath,
		Socket: filepath.Join(dir, "master.sock"),
		out:    &SyncBuffer{},
		done:   make(chan struct{}),
	}
	in.Master = haproxy.NewMaster(in.Socket)
	in.cmd = b.command("-W", "-S", b.Inside(in.Socket), "-f", b.Inside(cfgPath))
	in.cmd.Stdout, in.cmd.Stderr = in.out, in.out
	in.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	in.cmd.WaitDelay = stopTimeout // workers inherit the output pipes
	if err := in.cmd.Start(); err != nil {
		t.Fatalf("haproxytest: starting %s: %v", in.cmd.Path, err)
	}
	in.PID = in.cmd.Process.Pid
	go func() { _ = in.cmd.Wait(); close(in.done) }()
	t.Cleanup(func() { in.stop(t) })
	if err := in.waitReady(); err != nil {
		t.Fatalf("haproxytest: haproxy %s on %s not ready: %v\noutput:\n%s", b.Name, cfgPath, err, in.Output())
	}
	return in
}

// Output returns what the master and its workers printed so far (notices,
// warnings, alerts of every load and reload).
func (in *Instance) Output() string { return in.out.String() }

// Exited reports whether the master process has exited.
func (in *Instance) Exited() bool {
	select {
	case <-in.done:
		return true
	default:
		return false
	}
}

// waitReady polls until `show proc` lists a current worker and that worker
// answers `@1 show info`, bounded in time and count.
func (in *Instance) waitReady() error {
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	var last error
	for range int(startTimeout / pollInterval) {
		if in.Exited() {
			return errors.New("haproxy exited: " + in.cmd.ProcessState.String())
		}
		if last = in.ready(ctx); last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return errors.Join(ctx.Err(), last)
		case <-time.After(pollInterval):
		}
	}
	return last
}

func (in *Instance) ready(ctx context.Context) error {
	procs, err := in.Master.ShowProc(ctx)
	if err != nil {
		return err
	}
	if _, ok := procs.Current(); !ok {
		return errors.New("no current worker yet")
	}
	info, err := in.Master.Worker(ctx, "show info")
	if err != nil {
		return err
	}
	if !strings.HasPrefix(info, "Name: HAProxy") {
		return errors.New("worker not serving its CLI yet: " + info)
	}
	return nil
}

// stop ends HAProxy by the master's PID and, as a last resort, its process
// group (HAProxy and its workers only: Start gave it a group of its own).
func (in *Instance) stop(t testing.TB) {
	if !in.Exited() {
		_ = in.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-in.done:
		case <-time.After(stopTimeout):
			_ = syscall.Kill(-in.PID, syscall.SIGKILL)
			<-in.done
		}
	}
	if t.Failed() {
		t.Logf("haproxy output:\n%s", in.Output())
	}
}

// SyncBuffer is a bytes.Buffer safe for the concurrent writes of exec's
// copying goroutines and reads of the test.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
