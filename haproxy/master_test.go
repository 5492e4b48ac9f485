package haproxy_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hakgen/hakgen/haproxy"
	"github.com/hakgen/hakgen/haproxy/haproxytest"
)

// tcpConfig is a minimal master-worker configuration: 127.0.0.1:port
// forwards to backend. extra is appended to the backend section.
func tcpConfig(port int, backend, extra string) string {
	return fmt.Sprintf(`global
    maxconn 100
defaults
    mode tcp
    timeout connect 2s
    timeout client 10s
    timeout server 10s
frontend fe
    bind 127.0.0.1:%d
    default_backend be
backend be
    server app %s
%s`, port, backend, extra)
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func startHAProxy(t *testing.T, backend string) (*haproxytest.Instance, string, int) {
	t.Helper()
	cfg := filepath.Join(t.TempDir(), "haproxy.cfg")
	port := haproxytest.FreePort(t)
	writeFile(t, cfg, tcpConfig(port, backend, ""))
	return haproxytest.Start(t, cfg), cfg, port
}

func TestCommandMissingSocket(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m := haproxy.NewMaster(filepath.Join(t.TempDir(), "no-such.sock"))
	_, err := m.Command(ctx, "show proc")
	if !errors.Is(err, haproxy.ErrMasterUnavailable) || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Command error = %v, want ErrMasterUnavailable and fs.ErrNotExist", err)
	}
	if ctx.Err() != nil {
		t.Fatalf("Command used up its deadline instead of failing at once: %v", err)
	}
}

// TestCommandNothingListening covers a socket file left by a master that
// died: connecting is refused.
func TestCommandNothingListening(t *testing.T) {
	path := filepath.Join(t.TempDir(), "stale.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = haproxy.NewMaster(path).ShowProc(ctx)
	if !errors.Is(err, haproxy.ErrMasterUnavailable) || ctx.Err() != nil {
		t.Fatalf("ShowProc error = %v, want ErrMasterUnavailable at once", err)
	}
}

// TestCommandHonoursDeadline uses a peer that accepts and never answers.
func TestCommandHonoursDeadline(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mute.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, conn)
			mu.Unlock()
		}
	}()
	m := haproxy.NewMaster(path)

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := m.Command(ctx, "show proc"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Command error = %v, want context.DeadlineExceeded", err)
	}

	ctx, cancel = context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	if _, err := m.Command(ctx, "show proc"); !errors.Is(err, context.Canceled) {
		t.Errorf("Command error = %v, want context.Canceled", err)
	}
}

func TestCommandRejectsSeveralLines(t *testing.T) {
	m := haproxy.NewMaster(filepath.Join(t.TempDir(), "unused.sock"))
	if _, err := m.Command(context.Background(), "show proc\nreload"); err == nil {
		t.Error("Command accepted a command with a newline")
	}
	if _, err := m.Worker(context.Background(), "show info; reload"); err == nil || !strings.Contains(err.Error(), "';'") {
		t.Errorf("Worker error = %v, want a refusal of ';'", err)
	}
}

func TestMasterAgainstHAProxy(t *testing.T) {
	backend := haproxytest.NameServer(t, "a")
	in, _, _ := startHAProxy(t, backend)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	procs, err := in.Master.ShowProc(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cur, ok := procs.Current()
	if procs.Master.PID != in.PID || !ok || cur.PID == in.PID || procs.Master.Reloads != 0 {
		t.Fatalf("show proc = %+v; want master %d with one worker and no reload", procs, in.PID)
	}

	state, err := in.Master.Worker(ctx, "show servers state")
	if err != nil {
		t.Fatal(err)
	}
	host, port, _ := net.SplitHostPort(backend)
	if !strings.Contains(state, " be 1 app "+host+" ") || !strings.Contains(state, " "+port+" ") {
		t.Errorf("show servers state does not list be/app at %s:\n%s", backend, state)
	}
	stat, err := in.Master.Worker(ctx, "show stat")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(stat, "# pxname,svname,") || !strings.Contains(stat, "\nbe,app,") {
		t.Errorf("show stat has no line for be/app:\n%s", stat)
	}

	info, err := in.Master.Process(ctx, cur.PID, "show info")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(info, "\nPid: "+strconv.Itoa(cur.PID)+"\n") {
		t.Errorf("@!%d show info answered for another process:\n%s", cur.PID, info)
	}
	if _, err := in.Master.Process(ctx, 1, "show info"); err == nil || !strings.Contains(err.Error(), "no such process") {
		t.Errorf("@!1 error = %v, want no such process", err)
	}
}
