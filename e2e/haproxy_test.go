//go:build linux

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	sddbus "github.com/coreos/go-systemd/v22/dbus"
	"github.com/godbus/dbus/v5"

	"github.com/hakgen/hakgen/e2e/sdbox"
	"github.com/hakgen/hakgen/internal/tooltest"
)

// haproxyConfig is where the tests' haproxy.service reads its
// configuration, instead of /etc/haproxy/haproxy.cfg.
const haproxyConfig = "/run/hakgen-e2e/haproxy.cfg"

// haproxyDropIn points Debian's haproxy.service at haproxyConfig. The
// empty EnvironmentFile= drops /etc/default/haproxy, whose CONFIG would
// otherwise win over Environment=.
const haproxyDropIn = `[Service]
EnvironmentFile=
Environment=CONFIG=` + haproxyConfig + `
`

// bootHAProxy boots a machine carrying Debian's haproxy.service, redirected
// to haproxyConfig, which holds a TCP frontend on each of ports.
func bootHAProxy(t *testing.T, ports ...int) *sdbox.Machine {
	t.Helper()
	tooltest.Need(t, "haproxy")
	m := sdbox.Boot(t, sdbox.Options{Units: []string{"haproxy.service"}})
	writeFile(t, m, haproxyConfig, tcpConfig(ports...))
	writeFile(t, m, "/run/systemd/system/haproxy.service.d/hakgen-e2e.conf", haproxyDropIn)
	systemctl(t, m, "daemon-reload")
	return m
}

// tcpConfig renders a minimal haproxy.cfg: one TCP frontend on loopback
// per port, all sending to the discard port.
func tcpConfig(ports ...int) string {
	var b strings.Builder
	b.WriteString("global\n    log /dev/log local0\n\n")
	b.WriteString("defaults\n    mode tcp\n    log global\n")
	b.WriteString("    timeout connect 1s\n    timeout client 10s\n    timeout server 10s\n\n")
	for _, p := range ports {
		fmt.Fprintf(&b, "frontend fe%d\n    bind 127.0.0.1:%d\n    default_backend discard\n\n", p, p)
	}
	b.WriteString("backend discard\n    server discard 127.0.0.1:9\n")
	return b.String()
}

// waitListening waits until something inside m listens on 127.0.0.1:port.
func waitListening(t *testing.T, m *sdbox.Machine, port int) {
	t.Helper()
	want := fmt.Sprintf("127.0.0.1:%d ", port)
	eventually(t, fmt.Sprintf("listening on port %d", port), func() error {
		if out := run(t, m, "ss", "-Hltn"); !strings.Contains(out, want) {
			return fmt.Errorf("listening sockets:\n%s", out)
		}
		return nil
	})
}

func TestHAProxyServiceStartsAndReloads(t *testing.T) {
	t.Parallel()
	hostConfig, hostErr := os.ReadFile("/etc/haproxy/haproxy.cfg")
	m := bootHAProxy(t, 8401)

	systemctl(t, m, "start", "haproxy.service")
	waitListening(t, m, 8401)
	pid := property(t, m, "haproxy.service", "MainPID")

	writeFile(t, m, haproxyConfig, tcpConfig(8401, 8402))
	systemctl(t, m, "reload", "haproxy.service")
	waitListening(t, m, 8402)

	if got := property(t, m, "haproxy.service", "MainPID"); got != pid {
		t.Errorf("reload replaced the master process: %s -> %s", pid, got)
	}
	if got := property(t, m, "haproxy.service", "NRestarts"); got != "0" {
		t.Errorf("haproxy.service restarted %s times", got)
	}
	if after, err := os.ReadFile("/etc/haproxy/haproxy.cfg"); hostErr == nil && (err != nil || !bytes.Equal(after, hostConfig)) {
		t.Errorf("the host's haproxy.cfg changed (%v)", err)
	}
}

// TestHAProxyReloadOverDBusFromHost drives the machine's systemd from the
// test process through its system bus, as the agent does on a real host.
func TestHAProxyReloadOverDBusFromHost(t *testing.T) {
	t.Parallel()
	m := bootHAProxy(t, 8401)
	systemctl(t, m, "start", "haproxy.service")
	waitListening(t, m, 8401)
	pid := property(t, m, "haproxy.service", "MainPID")
	conn := connectSystemd(t, m.BusAddress())

	writeFile(t, m, haproxyConfig, tcpConfig(8401, 8403))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	done := make(chan string, 1)
	if _, err := conn.ReloadUnitContext(ctx, "haproxy.service", "replace", done); err != nil {
		t.Fatalf("ReloadUnit: %v", err)
	}
	select {
	case result := <-done:
		if result != "done" {
			t.Fatalf("reload job result %q", result)
		}
	case <-ctx.Done():
		t.Fatal("no reload job result within 30s")
	}
	waitListening(t, m, 8403)
	if got := property(t, m, "haproxy.service", "MainPID"); got != pid {
		t.Errorf("reload replaced the master process: %s -> %s", pid, got)
	}
}

// connectSystemd connects go-systemd to the system bus at address; the
// connection closes with the test.
func connectSystemd(t *testing.T, address string) *sddbus.Conn {
	t.Helper()
	conn, err := sddbus.NewConnection(func() (*dbus.Conn, error) {
		c, err := dbus.Dial(address)
		if err != nil {
			return nil, err
		}
		if err := c.Auth(nil); err != nil {
			c.Close()
			return nil, err
		}
		if err := c.Hello(); err != nil {
			c.Close()
			return nil, err
		}
		return c, nil
	})
	if err != nil {
		t.Fatalf("connecting to the machine's system bus: %v", err)
	}
	t.Cleanup(conn.Close)
	return conn
}
