package haproxy_test

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

	"github.com/hakgen/hakgen/haproxy"
	"github.com/hakgen/hakgen/haproxy/haproxytest"
)

// askThrough returns the name the backend behind HAProxy answers.
func askThrough(t *testing.T, port int) string {
	t.Helper()
	got, err := haproxytest.Ask(fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatalf("connecting through haproxy: %v", err)
	}
	return strings.TrimSpace(got)
}

// eventuallyAnswers waits until connections through HAProxy reach want:
// after a reload the old worker may accept a few connections until it has
// closed its listeners. Bounded to 100 connections over about 5 s.
func eventuallyAnswers(t *testing.T, port int, want string) {
	t.Helper()
	var got string
	for i := range 100 {
		if got = askThrough(t, port); got == want {
			if i > 0 {
				t.Logf("%d connection(s) still reached the old worker", i)
			}
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("haproxy routes to %q, want %q", got, want)
}

func showProc(t *testing.T, in *haproxytest.Instance) haproxy.Procs {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	procs, err := in.Master.ShowProc(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return procs
}

func currentPID(t *testing.T, p haproxy.Procs) int {
	t.Helper()
	cur, ok := p.Current()
	if !ok {
		t.Fatalf("show proc lists no current worker: %+v", p)
	}
	return cur.PID
}

func reload(t *testing.T, r *haproxy.MasterReloader) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start := time.Now()
	err := r.Reload(ctx)
	t.Logf("Reload took %s: %v", time.Since(start), err)
	return err
}

func TestReloadRoutesToNewConfig(t *testing.T) {
	a, b := haproxytest.NameServer(t, "a"), haproxytest.NameServer(t, "b")
	in, cfg, port := startHAProxy(t, a)
	if got := askThrough(t, port); got != "a" {
		t.Fatalf("before reload haproxy routes to %q, want a", got)
	}
	before := showProc(t, in)

	writeFile(t, cfg, tcpConfig(port, b, ""))
	r := haproxy.NewMasterReloader(in.Master, zaptest.NewLogger(t))
	if err := reload(t, r); err != nil {
		t.Fatal(err)
	}

	after := showProc(t, in)
	if currentPID(t, after) == currentPID(t, before) {
		t.Errorf("current worker is still %d after reload", currentPID(t, before))
	}
	if after.Master.Reloads != before.Master.Reloads+1 || after.Master.FailedReloads != 0 {
		t.Errorf("master after reload = %+v, want one more reload and none failed", after.Master)
	}
	eventuallyAnswers(t, port, "b")
}

func TestReloadInvalidConfigKeepsOldWorker(t *testing.T) {
	a, b := haproxytest.NameServer(t, "a"), haproxytest.NameServer(t, "b")
	in, cfg, port := startHAProxy(t, a)
	before := showProc(t, in)

	writeFile(t, cfg, tcpConfig(port, b, "    no_such_keyword here\n"))
	r := haproxy.NewMasterReloader(in.Master, zaptest.NewLogger(t))
	err := reload(t, r)
	var re *haproxy.ReloadError
	if !errors.As(err, &re) {
		t.Fatalf("Reload error = %v, want *ReloadError", err)
	}
	if re.FailedReloads != 1 || !slices.Equal(re.Serving, []int{currentPID(t, before)}) {
		t.Errorf("ReloadError = %+v, want 1 failed reload and worker %d serving", re, currentPID(t, before))
	}
	if !strings.Contains(err.Error(), "reload failed") {
		t.Errorf("error %q does not say the reload failed", err)
	}
	after := showProc(t, in)
	if currentPID(t, after) != currentPID(t, before) || after.Master.FailedReloads != 1 {
		t.Errorf("show proc after failed reload = %+v, want worker %d and [failed: 1]", after, currentPID(t, before))
	}
	if got := askThrough(t, port); got != "a" {
		t.Errorf("after the failed reload haproxy routes to %q, want a (old worker)", got)
	}

	// The next good configuration loads and resets the failed count.
	writeFile(t, cfg, tcpConfig(port, b, ""))
	if err := reload(t, r); err != nil {
		t.Fatal(err)
	}
	if p := showProc(t, in); p.Master.FailedReloads != 0 || currentPID(t, p) == currentPID(t, before) {
		t.Errorf("show proc after recovery = %+v, want a new worker and [failed: 0]", p)
	}
	eventuallyAnswers(t, port, "b")
}

// TestReloadFailureDiagnosed covers HAProxy 2.6, whose master CLI keeps no
// startup logs: Diagnose (here `haproxy -c`) supplies the reason.
func TestReloadFailureDiagnosed(t *testing.T) {
	in, cfg, port := startHAProxy(t, haproxytest.NameServer(t, "a"))
	writeFile(t, cfg, tcpConfig(port, "127.0.0.1:1", "    no_such_keyword here\n"))
	r := haproxy.NewMasterReloader(in.Master, zaptest.NewLogger(t))
	r.Diagnose = func(ctx context.Context) string {
		_, err := haproxy.Checker{}.Check(ctx, cfg)
		if err != nil {
			return err.Error()
		}
		return ""
	}
	err := reload(t, r)
	var re *haproxy.ReloadError
	if !errors.As(err, &re) || !strings.Contains(re.Logs, "no_such_keyword") {
		t.Fatalf("Reload error = %v, want a ReloadError naming the bad keyword", err)
	}
}

func TestReloadMasterNotRunning(t *testing.T) {
	m := haproxy.NewMaster(filepath.Join(t.TempDir(), "master.sock"))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := haproxy.NewMasterReloader(m, zaptest.NewLogger(t)).Reload(ctx)
	if !errors.Is(err, haproxy.ErrMasterUnavailable) || !errors.Is(err, haproxy.ErrReloadNotSent) || ctx.Err() != nil {
		t.Fatalf("Reload error = %v, want ErrMasterUnavailable and ErrReloadNotSent at once", err)
	}
}

// TestReloadBindConflictKeepsOldWorker covers a failure `haproxy -c` cannot
// see: the new configuration binds a port another process holds. HAProxy
// pauses the old worker's listeners while it retries, then gives up.
func TestReloadBindConflictKeepsOldWorker(t *testing.T) {
	a := haproxytest.NameServer(t, "a")
	in, cfg, port := startHAProxy(t, a)
	before := showProc(t, in)
	busy := haproxytest.NameServer(t, "busy")
	writeFile(t, cfg, tcpConfig(port, a, "")+"frontend busy\n    bind "+busy+"\n    default_backend be\n")

	err := reload(t, haproxy.NewMasterReloader(in.Master, zaptest.NewLogger(t)))
	var re *haproxy.ReloadError
	if !errors.As(err, &re) || !slices.Equal(re.Serving, []int{currentPID(t, before)}) {
		t.Fatalf("Reload error = %v, want a ReloadError with worker %d serving", err, currentPID(t, before))
	}
	eventuallyAnswers(t, port, "a")
}

// TestAwaitObservesSignalReload reloads the way Debian's haproxy.service
// does (SIGUSR2 to the master) and lets Await tell the outcome.
func TestAwaitObservesSignalReload(t *testing.T) {
	a, b := haproxytest.NameServer(t, "a"), haproxytest.NameServer(t, "b")
	in, cfg, port := startHAProxy(t, a)
	r := haproxy.NewMasterReloader(in.Master, zaptest.NewLogger(t))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	before := showProc(t, in)
	writeFile(t, cfg, tcpConfig(port, b, "    no_such_keyword here\n"))
	if err := syscall.Kill(in.PID, syscall.SIGUSR2); err != nil {
		t.Fatal(err)
	}
	var re *haproxy.ReloadError
	if err := r.Await(ctx, before); !errors.As(err, &re) {
		t.Fatalf("Await after a bad SIGUSR2 reload = %v, want *ReloadError", err)
	}

	before = showProc(t, in)
	writeFile(t, cfg, tcpConfig(port, b, ""))
	if err := syscall.Kill(in.PID, syscall.SIGUSR2); err != nil {
		t.Fatal(err)
	}
	if err := r.Await(ctx, before); err != nil {
		t.Fatalf("Await after a good SIGUSR2 reload = %v", err)
	}
	eventuallyAnswers(t, port, "b")
}
