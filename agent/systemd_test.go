package agent_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/hakgen/hakgen/agent"
	"github.com/hakgen/hakgen/haproxy"
	"github.com/hakgen/hakgen/haproxy/haproxytest"
	"github.com/hakgen/hakgen/systemd"
	"github.com/hakgen/hakgen/systemd/systemdtest"
)

const reloadCall = "ReloadUnit haproxy.service replace"

// tcpConfig is a minimal master-worker configuration routing port to server.
func tcpConfig(port int, server, extra string) string {
	return fmt.Sprintf("global\n    maxconn 50\n%sdefaults\n    mode tcp\n    timeout connect 2s\n    timeout client 5s\n    timeout server 5s\n"+
		"listen l\n    bind 127.0.0.1:%d\n    server s %s\n", extra, port, server)
}

// systemdWorld is a fake systemd on a private bus whose reload job of
// haproxy.service does what Debian's ExecReload does to a real HAProxy:
// SIGUSR2 to the master. The fake finishes the job at once, so the signal
// is sent when the call shows up, as a real reload races the job's end.
type systemdWorld struct {
	fake *systemdtest.Manager
	bus  *systemdtest.Bus
	in   *haproxytest.Instance
}

func newSystemdWorld(t *testing.T, cfg string) *systemdWorld {
	t.Helper()
	w := &systemdWorld{bus: systemdtest.StartBus(t), fake: systemdtest.NewManager()}
	w.fake.SetUnit(systemd.DefaultUnit, systemdtest.Running())
	w.fake.Serve(t, w.bus.Address)
	w.in = haproxytest.Start(t, cfg)
	return w
}

func (w *systemdWorld) reloader(t *testing.T, socket string) *agent.SystemdReloader {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	opts := systemd.Options{Dial: systemd.AddressDialer(w.bus.Address), PollInterval: 10 * time.Millisecond}
	r, err := agent.NewSystemdReloader(ctx, opts, socket, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r
}

// reload runs r.Reload and plays ExecReload for the one reload job.
func (w *systemdWorld) reload(t *testing.T, r agent.Reloader) error {
	t.Helper()
	w.fake.ResetCalls()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	go func() {
		for range 1000 {
			if slices.Contains(w.fake.Calls(), reloadCall) {
				_ = syscall.Kill(w.in.PID, syscall.SIGUSR2)
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	return r.Reload(ctx)
}

// TestSystemdReloaderCatchesAFailedReload: systemd reports the reload job
// done and the unit active with "Ready." either way; only the master's
// show proc tells the failed reload from the good one.
func TestSystemdReloaderCatchesAFailedReload(t *testing.T) {
	a, b := haproxytest.NameServer(t, "a"), haproxytest.NameServer(t, "b")
	port := haproxytest.FreePort(t)
	cfg := filepath.Join(t.TempDir(), "haproxy.cfg")
	writeFile(t, cfg, []byte(tcpConfig(port, a, "")))
	w := newSystemdWorld(t, cfg)
	r := w.reloader(t, w.in.Socket)

	writeFile(t, cfg, []byte(tcpConfig(port, b, "    no_such_keyword here\n")))
	err := w.reload(t, r)
	var re *haproxy.ReloadError
	if !errors.As(err, &re) || !strings.Contains(err.Error(), "master socket") {
		t.Fatalf("reload of a bad file: %v; want a ReloadError from the master socket check", err)
	}
	if st := w.fake.Unit(systemd.DefaultUnit); st.ActiveState != "active" || st.StatusText != "Ready." {
		t.Fatalf("the fake unit shows %+v: the test needs systemd to see nothing wrong", st)
	}

	writeFile(t, cfg, []byte(tcpConfig(port, b, "")))
	if err := w.reload(t, r); err != nil {
		t.Fatalf("reload of a good file: %v", err)
	}
	for i := range 100 {
		got, err := haproxytest.Ask(loopback(port))
		if err == nil && strings.TrimSpace(got) == "b" {
			break
		}
		if i == 99 {
			t.Fatalf("haproxy routes to %q (%v), want b", got, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Without a master socket the reload is judged by systemd alone.
func TestSystemdReloaderWithoutMasterSocket(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "haproxy.cfg")
	writeFile(t, cfg, []byte(tcpConfig(haproxytest.FreePort(t), haproxytest.NameServer(t, "a"), "")))
	w := newSystemdWorld(t, cfg)
	r := w.reloader(t, filepath.Join(t.TempDir(), "no-master.sock"))
	if err := w.reload(t, r); err != nil {
		t.Fatalf("reload: %v", err)
	}
	if calls := w.fake.Calls(); !slices.Contains(calls, reloadCall) || slices.ContainsFunc(calls, func(c string) bool { return strings.Contains(c, "Restart") }) {
		t.Errorf("systemd calls %q: want a reload and never a restart", calls)
	}
}

// TestSystemdReloaderShowProcResetIsNotTried: the `show proc` before the
// reload fails on a reset connection. Nothing is sent to systemd, and the
// error says the reload was not tried, so the agent keeps the new file
// without a rollback and retries.
func TestSystemdReloaderShowProcResetIsNotTried(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "haproxy.cfg")
	writeFile(t, cfg, []byte(tcpConfig(haproxytest.FreePort(t), haproxytest.NameServer(t, "a"), "")))
	w := newSystemdWorld(t, cfg)
	proxy := haproxytest.StartResetProxy(t, w.in.Socket, func(n int) bool { return n == 1 })
	r := w.reloader(t, proxy.Socket)
	err := w.reload(t, r)
	if !errors.Is(err, agent.ErrNotTried) || proxy.Resets() != 1 {
		t.Fatalf("reload after a reset show proc: %v (%d resets); want an error wrapping agent.ErrNotTried", err, proxy.Resets())
	}
	if calls := w.fake.Calls(); slices.Contains(calls, reloadCall) {
		t.Errorf("systemd calls %q: want no reload sent", calls)
	}
	if err := w.reload(t, r); err != nil {
		t.Fatalf("the retry: %v", err)
	}
}
