// Package systemdtest runs a private dbus-daemon and a fake
// org.freedesktop.systemd1 on it, so that code built on go-systemd's dbus
// package can be tested without a booted systemd.
package systemdtest

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/hakgen/hakgen/internal/tooltest"
)

// startTimeout bounds how long a dbus-daemon may take to print its address.
const startTimeout = 10 * time.Second

// busConfig lets every local user (the test runs as root) connect, own any
// name and send anything. The daemon never forks and never setuids.
const busConfig = `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>custom</type>
  <listen>unix:path=%s</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
  </policy>
</busconfig>
`

// Bus is a private dbus-daemon listening on a unix socket in its own
// temporary directory. Stop and Start may be called in turn to simulate a
// bus that goes away and comes back on the same address.
type Bus struct {
	// Address is the D-Bus address of the socket, "unix:path=...".
	Address string

	t       testing.TB
	bin     string
	dir     string
	socket  string
	config  string
	mu      sync.Mutex
	cmd     *exec.Cmd
	waitErr chan error
	stderr  *bytes.Buffer
}

// StartBus starts a dbus-daemon for t and stops it in t.Cleanup. It skips
// or fails t (see tooltest.Need) when dbus-daemon is not installed.
func StartBus(t testing.TB) *Bus {
	t.Helper()
	bin := tooltest.Need(t, "dbus-daemon")
	// A short directory: unix socket paths are limited to 108 bytes.
	dir, err := os.MkdirTemp("", "hakgen-dbus-")
	if err != nil {
		t.Fatalf("creating bus directory: %v", err)
	}
	b := &Bus{t: t, bin: bin, dir: dir, socket: filepath.Join(dir, "bus")}
	b.Address = "unix:path=" + b.socket
	b.config = filepath.Join(dir, "bus.conf")
	if err := os.WriteFile(b.config, fmt.Appendf(nil, busConfig, b.socket), 0o600); err != nil {
		t.Fatalf("writing bus config: %v", err)
	}
	t.Cleanup(func() {
		b.Stop()
		os.RemoveAll(dir)
	})
	b.Start()
	return b
}

// Start starts the daemon again after Stop, on the same socket path. It
// returns once the daemon listens.
func (b *Bus) Start() {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cmd != nil {
		b.t.Fatal("dbus-daemon already running")
	}
	cmd := exec.Command(b.bin, "--config-file="+b.config, "--nofork", "--nopidfile", "--nosyslog", "--print-address=1")
	b.stderr = new(bytes.Buffer)
	cmd.Stderr = b.stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.t.Fatalf("dbus-daemon stdout: %v", err)
	}
	if err := cmd.Start(); err != nil {
		b.t.Fatalf("starting dbus-daemon: %v", err)
	}
	b.cmd, b.waitErr = cmd, make(chan error, 1)
	go func() { b.waitErr <- cmd.Wait() }()
	if err := awaitAddress(out, b.waitErr); err != nil {
		b.stopLocked()
		b.t.Fatalf("dbus-daemon did not come up: %v; stderr: %s", err, b.stderr)
	}
}

// awaitAddress waits, bounded, for the daemon to print its address, which
// it does once it listens.
func awaitAddress(stdout io.Reader, exited <-chan error) error {
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(stdout).ReadString('\n')
		line <- s
	}()
	timer := time.NewTimer(startTimeout)
	defer timer.Stop()
	select {
	case s := <-line:
		if !strings.HasPrefix(s, "unix:") {
			return fmt.Errorf("unexpected address line %q", s)
		}
		return nil
	case err := <-exited:
		return fmt.Errorf("exited: %v", err)
	case <-timer.C:
		return fmt.Errorf("no address within %s", startTimeout)
	}
}

// Stop kills the daemon (SIGKILL, by its PID) and waits for it to exit.
// Every connection to it breaks. Stop on a stopped bus does nothing.
func (b *Bus) Stop() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.stopLocked()
}

func (b *Bus) stopLocked() {
	if b.cmd == nil {
		return
	}
	_ = b.cmd.Process.Kill()
	<-b.waitErr
	b.cmd = nil
	_ = os.Remove(b.socket)
}

// PID is the running daemon's process ID, or 0 when it is stopped.
func (b *Bus) PID() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cmd == nil {
		return 0
	}
	return b.cmd.Process.Pid
}

// Conn opens a private connection to the bus, authenticated and after
// Hello, and closes it in t.Cleanup.
func (b *Bus) Conn(t testing.TB) *dbus.Conn {
	t.Helper()
	conn, err := dialAddress(b.Address)
	if err != nil {
		t.Fatalf("connecting to the test bus: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// dialAddress opens an authenticated connection that has sent Hello.
func dialAddress(address string) (*dbus.Conn, error) {
	conn, err := dbus.Dial(address)
	if err != nil {
		return nil, err
	}
	auth := []dbus.Auth{dbus.AuthExternal(strconv.Itoa(os.Getuid()))}
	if err := conn.Auth(auth); err != nil {
		conn.Close()
		return nil, err
	}
	if err := conn.Hello(); err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}
