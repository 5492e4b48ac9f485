package haproxytest_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hakgen/hakgen/haproxy/haproxytest"
	"github.com/hakgen/hakgen/render"
	"github.com/hakgen/hakgen/state"
)

// TestStartServesAndStops starts HAProxy in a subtest and checks that it
// routes to a NameServer, then that the subtest's cleanup ended the master
// and its worker and removed the socket.
func TestStartServesAndStops(t *testing.T) {
	var master, worker int
	var socket string
	t.Run("serve", func(t *testing.T) {
		port := haproxytest.FreePort(t)
		cfg := filepath.Join(t.TempDir(), "haproxy.cfg")
		conf := fmt.Sprintf("global\n    maxconn 50\ndefaults\n    mode tcp\n    timeout connect 2s\n    timeout client 5s\n    timeout server 5s\n"+
			"listen l\n    bind 127.0.0.1:%d\n    server s %s\n", port, haproxytest.NameServer(t, "hello"))
		if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
		in := haproxytest.Start(t, cfg)
		got, err := haproxytest.Ask(fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil || strings.TrimSpace(got) != "hello" {
			t.Fatalf("through haproxy: %q, %v; want hello", got, err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		procs, err := in.Master.ShowProc(ctx)
		if err != nil {
			t.Fatal(err)
		}
		cur, _ := procs.Current()
		master, worker, socket = in.PID, cur.PID, in.Socket
		if !strings.Contains(in.Output(), "Loading success.") {
			t.Errorf("output lacks the master's notice:\n%s", in.Output())
		}
	})
	for _, pid := range []int{master, worker} {
		if pid <= 0 {
			t.Fatal("subtest recorded no PIDs")
		}
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("process %d still exists after cleanup (kill 0: %v)", pid, err)
		}
	}
	if _, err := os.Stat(socket); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket %s left behind: %v", socket, err)
	}
}

// TestAskPassesTLSInspection: Ask's ClientHello passes a frontend that
// accepts only a TLS ClientHello (as the rendered API and ingress HTTPS
// frontends do), where a plain request line is rejected.
func TestAskPassesTLSInspection(t *testing.T) {
	port := haproxytest.FreePort(t)
	cfg := filepath.Join(t.TempDir(), "haproxy.cfg")
	conf := fmt.Sprintf("global\n    maxconn 50\ndefaults\n    mode tcp\n    timeout connect 2s\n    timeout client 5s\n    timeout server 5s\n"+
		"listen l\n    bind 127.0.0.1:%d\n    tcp-request inspect-delay 2s\n    tcp-request content accept if { req.ssl_hello_type 1 }\n"+
		"    tcp-request content reject\n    server s %s\n", port, haproxytest.NameServer(t, "hello"))
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	haproxytest.Start(t, cfg)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	if got, err := haproxytest.Ask(addr); err != nil || strings.TrimSpace(got) != "hello" {
		t.Fatalf("Ask through a TLS-inspecting frontend: %q, %v; want hello", got, err)
	}
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(conn, "GET / HTTP/1.0\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	if got, _ := io.ReadAll(conn); len(got) != 0 {
		t.Errorf("a plain request line got %q through: the frontend does not inspect, so the test proves nothing", got)
	}
}

// TestLocalizeForEachBuild: Localize names the admin socket and the
// server-state file as each build's HAProxy sees them, creates the state
// file on the host, and the result starts.
func TestLocalizeForEachBuild(t *testing.T) {
	haproxytest.EachBuild(t, func(t *testing.T, b haproxytest.Build) {
		dir := b.TempDir(t)
		s, _, err := state.FromServers("test", []state.Server{{Name: "cp1", Address: "10.255.0.1"}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		s.APIServer.Port, s.Stats.Bind, s.HAProxy.MaxConn = haproxytest.FreePort(t), fmt.Sprintf("127.0.0.1:%d", haproxytest.FreePort(t)), 50
		rendered, err := render.HAProxy(s)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := b.Localize(rendered, filepath.Join(dir, "admin.sock"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join(dir, "server-state")); err != nil {
			t.Fatalf("the server-state file was not created on the host: %v", err)
		}
		for _, want := range []string{"stats socket " + b.Inside(filepath.Join(dir, "admin.sock")) + " ",
			"server-state-file " + b.Inside(filepath.Join(dir, "server-state")) + "\n"} {
			if !strings.Contains(string(cfg), want) {
				t.Errorf("localized file lacks %q", want)
			}
		}
		path := filepath.Join(dir, "haproxy.cfg")
		if err := os.WriteFile(path, cfg, 0o644); err != nil {
			t.Fatal(err)
		}
		b.Start(t, path)
	})
}
