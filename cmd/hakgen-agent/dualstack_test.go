package main

import (
	"bufio"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hakgen/hakgen/haproxy"
	"github.com/hakgen/hakgen/internal/tooltest"
)

// TestHAProxyServesBothFamilies runs Debian's HAProxy on the haproxy.cfg
// render writes for a dual-stack pair with a private VIP, in a network
// namespace of its own (the frontends bind the wildcard there, as on a
// load balancer), and connects to an extra port over IPv4 and IPv6
// loopback and to the addresses keepalived would add: the IPv4 and IPv6
// Floating IPs on eth0 and the private VIP on enp7s0. Each connection
// reaches the backend behind HAProxy, an echo server. maxconn is small:
// this machine allows 20000 file descriptors.
func TestHAProxyServesBothFamilies(t *testing.T) {
	tooltest.NeedRoot(t)
	bin := tooltest.Need(t, "haproxy")
	ip := tooltest.Need(t, "ip")
	ns := newTestNetns(t)
	ns.run(t, ip, "link", "set", "lo", "up")
	for _, link := range []struct{ name, addr string }{{"enp7s0", "10.0.0.5/24"}, {"eth0", "192.0.2.5/24"}} {
		ns.run(t, ip, "link", "add", link.name, "type", "veth", "peer", "name", link.name+"-peer")
		ns.run(t, ip, "addr", "add", link.addr, "dev", link.name)
		ns.run(t, ip, "link", "set", link.name, "up")
		ns.run(t, ip, "link", "set", link.name+"-peer", "up")
	}
	ns.run(t, ip, "addr", "add", "203.0.113.10/32", "dev", "eth0")
	ns.run(t, ip, "addr", "add", "2001:db8:1::1/64", "dev", "eth0", "nodad", "preferred_lft", "0")
	ns.run(t, ip, "addr", "add", "10.0.255.1/32", "dev", "enp7s0")

	// The namespace is the test's own: any port is free in it.
	const echoPort, frontPort = 7000, 7443
	var echo net.Listener
	var err error
	ns.do(func() { echo, err = net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", echoPort)) })
	if err != nil {
		t.Fatal(err)
	}
	defer echo.Close()
	go serveEcho(echo)

	dir := t.TempDir()
	statePath := filepath.Join(dir, "state.yaml")
	writeNotifyFile(t, statePath, fmt.Sprintf(`cluster: prod
controlPlanes: [{name: cp1, address: 127.0.0.1}]
apiServer: {backendPort: 6444}
extraPorts: [{name: echo, port: %d, backendPort: %d}]
haproxy: {maxconn: 200}   # HAProxy needs about 2 x maxconn descriptors
loadBalancers:
  - {name: lb1, address: 10.0.0.5, serverID: 1001}
  - {name: lb2, address: 10.0.0.6, serverID: 1002}
hcloud: {tokenFile: hcloud-token}
floatingIPs:
  - {id: 4711, address: 203.0.113.10, interface: eth0}
  - {id: 4712, address: "2001:db8:1::1", interface: eth0}
privateVIP: {address: 10.0.255.1, network: k8s}
keepalived: {interface: enp7s0}
`, frontPort, echoPort), 0o644)
	code, cfg, stderr := runCLI(t, "render", "--state", statePath, "--node", "lb1")
	if code != exitOK {
		t.Fatalf("render: exit %d\n%s", code, stderr)
	}
	if !strings.Contains(cfg, fmt.Sprintf("bind :::%d v4v6", frontPort)) {
		t.Fatalf("the extra port does not bind the dual-stack wildcard:\n%s", cfg)
	}
	cfgPath := filepath.Join(dir, "haproxy.cfg")
	writeNotifyFile(t, cfgPath, localizeInNetns(t, cfg, dir), 0o600)
	startHAProxyIn(t, ns, bin, cfgPath)

	for _, addr := range []string{"127.0.0.1", "::1", "203.0.113.10", "2001:db8:1::1", "10.0.255.1"} {
		target := net.JoinHostPort(addr, fmt.Sprint(frontPort))
		var reply string
		for attempt := 0; attempt < 50; attempt++ { // HAProxy may still be binding
			if reply, err = echoVia(ns, target); err == nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err != nil || reply != "ping "+target+"\n" {
			t.Errorf("through %s: %q, %v; want the echo", target, reply, err)
		}
	}
}

// localizeInNetns adapts a rendered haproxy.cfg to a test: no chroot,
// user or group (the test's HAProxy drops no privileges), and the admin
// socket and server-state file in dir. The binds stay as rendered.
func localizeInNetns(t *testing.T, cfg, dir string) string {
	t.Helper()
	stateFile := filepath.Join(dir, "server-state")
	if err := haproxy.EnsureServerState(stateFile); err != nil {
		t.Fatal(err)
	}
	for _, r := range []struct{ re, repl string }{
		{`(?m)^    chroot .*\n`, ""},
		{`(?m)^    user haproxy\n`, ""},
		{`(?m)^    group haproxy\n`, ""},
		{`(?m)^(    stats socket )\S+`, "${1}" + filepath.Join(dir, "admin.sock")},
		{`(?m)^(    server-state-file ).*$`, "${1}" + stateFile},
	} {
		re := regexp.MustCompile(r.re)
		if !re.MatchString(cfg) {
			t.Fatalf("the rendered haproxy.cfg has no line for %s", r.re)
		}
		cfg = re.ReplaceAllString(cfg, r.repl)
	}
	return cfg
}

// startHAProxyIn runs `haproxy -db -f cfg` in ns; cleanup stops it by PID.
func startHAProxyIn(t *testing.T, ns *testNetns, bin, cfg string) {
	t.Helper()
	cmd := exec.Command(bin, "-db", "-f", cfg)
	out := &keepalivedOutput{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var err error
	ns.do(func() { err = cmd.Start() })
	if err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
		if t.Failed() {
			t.Logf("haproxy output:\n%s", out.String())
		}
	})
}

// echoVia connects from ns to target, sends a line and returns the answer.
func echoVia(ns *testNetns, target string) (string, error) {
	var conn net.Conn
	var err error
	ns.do(func() { conn, err = net.DialTimeout("tcp", target, 2*time.Second) })
	if err != nil {
		return "", err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := fmt.Fprintf(conn, "ping %s\n", target); err != nil {
		return "", err
	}
	return bufio.NewReader(conn).ReadString('\n')
}

// serveEcho answers every line on every connection with itself.
func serveEcho(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			r := bufio.NewReader(c)
			for {
				line, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if _, err := c.Write([]byte(line)); err != nil {
					return
				}
			}
		}()
	}
}
