//go:build linux

package sdbox

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// TestBootAppliesOptionsAndTearsDown boots a machine with every kind of
// added mount, checks each from inside and from the host, and checks after
// the subtest (whose cleanup has then run) that the machine's cgroup is
// gone.
func TestBootAppliesOptionsAndTearsDown(t *testing.T) {
	t.Parallel()
	hostDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(hostDir, "seed"), []byte("from host"), 0o644); err != nil {
		t.Fatal(err)
	}
	var cgroupDir string
	t.Run("machine", func(t *testing.T) {
		m := Boot(t, Options{
			Tmpfs:    []string{"/etc/hakgen"},
			Overlays: []string{"/usr/local"},
			Binds: []Bind{
				{Source: hostDir, Target: "/run/host-rw"},
				{Source: hostDir, Target: "/etc/hakgen/host-ro", ReadOnly: true},
			},
			Hostname: "lb1",
		})
		cgroupDir = m.cgroup.dir
		checkInside(t, m, "hostname", "lb1")
		checkInside(t, m, "cat /run/host-rw/seed", "from host")
		checkInside(t, m, "cat /etc/hakgen/host-ro/seed", "from host")
		checkInside(t, m, "echo inside >/run/host-rw/written && echo ok", "ok")
		checkInside(t, m, "touch /etc/hakgen/host-ro/x 2>/dev/null || echo refused", "refused")
		checkInside(t, m, "ls /etc/hakgen", "host-ro")
		checkInside(t, m, "touch /usr/local/hakgen-e2e-probe && echo ok", "ok")
	})
	if t.Failed() {
		return
	}
	if data, err := os.ReadFile(filepath.Join(hostDir, "written")); err != nil || string(data) != "inside\n" {
		t.Errorf("write through the writable bind: %q, %v", data, err)
	}
	if _, err := os.Stat("/usr/local/hakgen-e2e-probe"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a write to the /usr/local overlay reached the host: %v", err)
	}
	if _, err := os.Stat(cgroupDir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("machine cgroup %s left behind: %v", cgroupDir, err)
	}
}

// checkInside runs a shell script inside m and compares its trimmed output.
func checkInside(t *testing.T, m *Machine, script, want string) {
	t.Helper()
	out, err := m.Run(context.Background(), "/bin/sh", "-c", script)
	if got := strings.TrimSpace(out); err != nil || got != want {
		t.Errorf("%s: got %q, %v; want %q", script, got, err, want)
	}
}

// TestMachineOutlivesEndedThreads ends many OS threads, as namespace
// helpers do by returning while locked to theirs, and checks that the
// machine still runs: its PID 1 dies with the thread that forked it
// (Pdeathsig), so that thread must not be one of them.
func TestMachineOutlivesEndedThreads(t *testing.T) {
	t.Parallel()
	m := Boot(t, Options{})
	for range 20 {
		var wg sync.WaitGroup
		for range 10 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
			}()
		}
		wg.Wait()
	}
	checkInside(t, m, "echo up", "up")
	select {
	case <-m.exited:
		t.Fatalf("PID 1 died: %v", m.exitErr)
	default:
	}
}
