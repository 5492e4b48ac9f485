package systemd_test

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/hakgen/hakgen/systemd"
)

// notifySocket points NOTIFY_SOCKET at a fresh path in a short temporary
// directory and returns that path. Tests using it must not be parallel.
func notifySocket(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "hakgen-notify-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "notify")
	t.Setenv("NOTIFY_SOCKET", path)
	t.Setenv("WATCHDOG_USEC", "")
	t.Setenv("WATCHDOG_PID", "")
	return path
}

// listen receives datagrams on path, as systemd does on NOTIFY_SOCKET.
func listen(t *testing.T, path string) *net.UnixConn {
	t.Helper()
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatalf("listening on %s: %v", path, err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// next returns the next datagram, waiting a bounded time for it.
func next(t *testing.T, conn *net.UnixConn) string {
	t.Helper()
	if err := conn.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatalf("reading a notification: %v", err)
	}
	return string(buf[:n])
}

func observed(level zapcore.Level) (*zap.Logger, *observer.ObservedLogs) {
	core, logs := observer.New(level)
	return zap.New(core), logs
}

func TestNotifierSends(t *testing.T) {
	conn := listen(t, notifySocket(t))
	n := systemd.NewNotifier(zap.NewNop())
	n.Ready()
	n.Status("2 backends down\nREADY=1")
	n.Stopping()
	for _, want := range []string{"READY=1", "STATUS=2 backends down READY=1", "STOPPING=1"} {
		if got := next(t, conn); got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
}

func TestNotifierWatchdog(t *testing.T) {
	conn := listen(t, notifySocket(t))
	t.Setenv("WATCHDOG_USEC", "2000000")
	t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()))
	n := systemd.NewNotifier(zap.NewNop())
	if got := n.WatchdogInterval(); got != time.Second {
		t.Errorf("WatchdogInterval = %s, want half of WATCHDOG_USEC (1s)", got)
	}
	n.Ping()
	if got := next(t, conn); got != "WATCHDOG=1" {
		t.Errorf("got %q, want WATCHDOG=1", got)
	}
}

// A watchdog meant for another process (WATCHDOG_PID) is not ours: no
// interval, and Ping sends nothing.
func TestNotifierWatchdogOfAnotherProcess(t *testing.T) {
	conn := listen(t, notifySocket(t))
	t.Setenv("WATCHDOG_USEC", "2000000")
	t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()+1))
	n := systemd.NewNotifier(zap.NewNop())
	if got := n.WatchdogInterval(); got != 0 {
		t.Errorf("WatchdogInterval = %s, want 0", got)
	}
	n.Ping()
	n.Ready()
	if got := next(t, conn); got != "READY=1" {
		t.Errorf("first datagram %q, want READY=1 (Ping must send nothing)", got)
	}
}

func TestNotifierWithoutSocket(t *testing.T) {
	notifySocket(t)
	t.Setenv("NOTIFY_SOCKET", "")
	logger, logs := observed(zap.DebugLevel)
	n := systemd.NewNotifier(logger)
	n.Ready()
	n.Status("x")
	n.Ping()
	n.Stopping()
	if n.WatchdogInterval() != 0 || logs.Len() != 0 {
		t.Errorf("interval %s, logs %v; want no-ops", n.WatchdogInterval(), logs.All())
	}
}

// A failing socket is logged once, and its recovery once.
func TestNotifierLogsChangesOnly(t *testing.T) {
	path := notifySocket(t)
	logger, logs := observed(zap.InfoLevel)
	n := systemd.NewNotifier(logger)
	n.Ready()
	n.Status("still failing")
	if logs.Len() != 1 || logs.All()[0].Level != zap.WarnLevel {
		t.Fatalf("logs %v, want one warning", logs.All())
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("socket path exists before listening: %v", err)
	}
	conn := listen(t, path)
	n.Ready()
	if got := next(t, conn); got != "READY=1" {
		t.Errorf("got %q, want READY=1", got)
	}
	if logs.Len() != 2 || logs.All()[1].Message != "sd_notify works again" {
		t.Errorf("logs %v, want a warning then a recovery", logs.All())
	}
}
