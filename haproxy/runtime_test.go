package haproxy_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hakgen/hakgen/haproxy"
	"github.com/hakgen/hakgen/haproxy/haproxytest"
	"go.uber.org/zap"
)

// runtimeConfig is a master-worker configuration shaped like the rendered
// one: a leastconn backend be behind 127.0.0.1:port, its frontend of the
// same name, its servers inheriting default-server keywords. maxconn is
// small: the file limit here is 20000.
func runtimeConfig(port int, servers ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `global
    maxconn 100
    hard-stop-after 10s
defaults
    mode tcp
    timeout connect 2s
    timeout client 10s
    timeout server 10s
    timeout check 1s
    default-server inter 500ms fall 3 rise 2 init-addr last,libc,none
frontend be
    bind 127.0.0.1:%d
    default_backend be
backend be
    balance leastconn
`, port)
	for _, s := range servers {
		fmt.Fprintf(&b, "    %s\n", s)
	}
	return b.String()
}

// startRuntime runs build b on runtimeConfig and pins its worker.
func startRuntime(t *testing.T, b haproxytest.Build, servers ...string) (*haproxytest.Instance, *haproxy.Worker, string) {
	t.Helper()
	port := haproxytest.FreePort(t)
	cfg := filepath.Join(b.TempDir(t), "haproxy.cfg")
	writeFile(t, cfg, runtimeConfig(port, servers...))
	in := b.Start(t, cfg)
	w, err := haproxy.CurrentWorker(testContext(t), in.Master)
	if err != nil {
		t.Fatal(err)
	}
	return in, w, fmt.Sprintf("127.0.0.1:%d", port)
}

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// answeredBy asks the frontend n times and counts the answering servers.
func answeredBy(t *testing.T, frontend string, n int) map[string]int {
	t.Helper()
	seen := map[string]int{}
	for range n {
		got, err := haproxytest.Ask(frontend)
		if err != nil {
			t.Fatalf("through haproxy: %v", err)
		}
		seen[strings.TrimSpace(got)]++
	}
	return seen
}

// wantRouted fails unless 12 connections all reach the servers named, and
// each of them at least once (leastconn takes turns among idle servers).
func wantRouted(t *testing.T, frontend string, names ...string) {
	t.Helper()
	seen := answeredBy(t, frontend, 12)
	for _, n := range names {
		if seen[n] == 0 {
			t.Errorf("%s got no connection of 12 (answers %v), want one of %v", n, seen, names)
		}
		delete(seen, n)
	}
	if len(seen) > 0 {
		t.Errorf("connections reached %v, want only %v", seen, names)
	}
}

func run(t *testing.T, w *haproxy.Worker, c haproxy.Command) {
	t.Helper()
	if err := w.Run(testContext(t), c); err != nil {
		t.Fatalf("%s: %v", c, err)
	}
}

func serverState(t *testing.T, w *haproxy.Worker, name string) (haproxy.ServerState, bool) {
	t.Helper()
	states, err := w.ServersState(testContext(t), "be")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range states {
		if s.Name == name {
			return s, true
		}
	}
	return haproxy.ServerState{}, false
}

// TestWorkerCommands runs every command of a server's life through the
// master CLI and checks each one in show servers state and in routing.
func TestWorkerCommands(t *testing.T) {
	haproxytest.EachBuild(t, func(t *testing.T, b haproxytest.Build) {
		port, addrs := haproxytest.NameServersSamePort(t, "a", "b", "c")
		ap := func(i int) netip.AddrPort { return netip.AddrPortFrom(netip.MustParseAddr(addrs[i]), uint16(port)) }
		_, w, fe := startRuntime(t, b, fmt.Sprintf("server a %s check", ap(0)))
		wantRouted(t, fe, "a")

		run(t, w, haproxy.AddServer("be", "b", ap(1), []string{"check", "inter", "500ms", "fall", "3", "rise", "2"}))
		s, ok := serverState(t, w, "b")
		if !ok || s.Admin != haproxy.AdminForcedMaint || s.Addr != ap(1).Addr() || s.Port != port {
			t.Fatalf("after add server: b = %+v (listed %v), want in maintenance at %s", s, ok, ap(1))
		}
		wantRouted(t, fe, "a")
		run(t, w, haproxy.EnableHealth("be", "b"))
		run(t, w, haproxy.EnableServer("be", "b"))
		wantRouted(t, fe, "a", "b")

		run(t, w, haproxy.SetServerWeight("be", "a", 0))
		if s, _ := serverState(t, w, "a"); s.Weight != 0 || !s.Admin.Ready() {
			t.Errorf("after weight 0: a = %+v, want weight 0 and no admin flag", s)
		}
		wantRouted(t, fe, "b")
		run(t, w, haproxy.SetServerWeight("be", "a", 1))

		run(t, w, haproxy.SetServerAddr("be", "b", ap(2)))
		run(t, w, haproxy.SetServerAddr("be", "b", ap(2))) // unchanged: HAProxy says so, not an error
		wantRouted(t, fe, "a", "c")

		run(t, w, haproxy.SetServerState("be", "b", haproxy.StateDrain))
		if s, _ := serverState(t, w, "b"); s.Admin != haproxy.AdminForcedDrain {
			t.Errorf("after state drain: b admin %v, want drain", s.Admin)
		}
		wantRouted(t, fe, "a")
		run(t, w, haproxy.SetServerState("be", "b", haproxy.StateReady))
		wantRouted(t, fe, "a", "c")

		sessions, err := w.ServerSessions(testContext(t), "be")
		if err != nil || len(sessions) != 2 || sessions["b"] != 0 {
			t.Errorf("ServerSessions = %v, %v; want a and b with no session", sessions, err)
		}
		run(t, w, haproxy.SetServerState("be", "b", haproxy.StateMaint))
		run(t, w, haproxy.ShutdownSessions("be", "b"))
		run(t, w, haproxy.DelServer("be", "b"))
		if s, ok := serverState(t, w, "b"); ok {
			t.Errorf("b still listed after del server: %+v", s)
		}
		wantRouted(t, fe, "a")
	})
}

// TestWorkerCommandErrors checks that HAProxy's error answers, and words
// that could smuggle a second command, are errors that change nothing.
func TestWorkerCommandErrors(t *testing.T) {
	haproxytest.EachBuild(t, func(t *testing.T, b haproxytest.Build) {
		port, addrs := haproxytest.NameServersSamePort(t, "a")
		a := netip.AddrPortFrom(netip.MustParseAddr(addrs[0]), uint16(port))
		_, w, _ := startRuntime(t, b, fmt.Sprintf("server a %s check", a))
		before, err := w.ServersState(testContext(t), "")
		if err != nil {
			t.Fatal(err)
		}
		refused := []haproxy.Command{
			haproxy.DelServer("be", "nope"),
			haproxy.DelServer("be", "a"), // not in maintenance
			haproxy.AddServer("be", "a", a, nil),
			haproxy.AddServer("nope", "x", a, nil),
			haproxy.AddServer("be", "x", a, []string{"init-addr", "none"}), // not accepted for dynamic servers
			haproxy.SetServerWeight("be", "a", 300),
			haproxy.SetServerWeight("be", "nope", 1),
			haproxy.SetServerState("be", "a", "bogus"),
			haproxy.SetServerAddr("be", "nope", a),
			haproxy.EnableServer("nope", "a"),
			haproxy.ShutdownSessions("be", "nope"),
		}
		for _, c := range refused {
			err := w.Run(testContext(t), c)
			var ce *haproxy.CommandError
			if !errors.As(err, &ce) || ce.PID != w.PID() || ce.Command != c.String() || strings.TrimSpace(ce.Answer) == "" {
				t.Errorf("%s: error %v, want a *CommandError of worker %d quoting HAProxy's answer", c, err, w.PID())
			}
		}
		unsafe := []haproxy.Command{
			haproxy.AddServer("be", "x", a, []string{"check;", "del", "server", "be/a"}),
			haproxy.AddServer("be", "x", a, []string{"check\nshow", "info"}),
			haproxy.SetServerWeight("be", "a b", 1),
			haproxy.EnableServer("be", "#a"),
			haproxy.AddServer("be", "x", a, []string{""}),
		}
		for _, c := range unsafe {
			err := w.Run(testContext(t), c)
			var ce *haproxy.CommandError
			if err == nil || errors.As(err, &ce) || !strings.Contains(err.Error(), "not a single safe word") {
				t.Errorf("%q: error %v, want it refused before sending", c, err)
			}
		}
		if _, err := w.ServersState(testContext(t), "nope"); err == nil {
			t.Error("show servers state of a missing backend: no error")
		}
		if _, err := w.ServerSessions(testContext(t), "nope"); err == nil {
			t.Error("show stat of a missing backend: no error")
		}
		after, err := w.ServersState(testContext(t), "")
		if err != nil {
			t.Fatal(err)
		}
		if len(after) != len(before) || after[0].Name != "a" || after[0].Weight != before[0].Weight || after[0].Admin != before[0].Admin {
			t.Errorf("refused commands changed the servers: %+v -> %+v", before, after)
		}
	})
}

// TestWorkerAfterReload checks that a pinned worker's commands fail once a
// reload made another worker current, and that they never reach the old
// worker, which stays alive with a connection through it.
func TestWorkerAfterReload(t *testing.T) {
	haproxytest.EachBuild(t, func(t *testing.T, b haproxytest.Build) {
		in, w, fe := startRuntime(t, b, "server hold "+haproxytest.HoldServer(t))
		dialHeld(t, w, fe, "hold")
		old := w.PID()
		newPID := reloadAndWait(t, in)
		err := w.Run(testContext(t), haproxy.SetServerWeight("be", "hold", 7))
		var wc *haproxy.WorkerChangedError
		if !errors.Is(err, haproxy.ErrWorkerChanged) || !errors.As(err, &wc) || wc.Pinned != old || wc.Got != newPID {
			t.Fatalf("command after reload: %v, want ErrWorkerChanged from %d to %d", err, old, newPID)
		}
		if _, err := w.ServersState(testContext(t), ""); !errors.Is(err, haproxy.ErrWorkerChanged) {
			t.Errorf("show servers state after reload: %v, want ErrWorkerChanged", err)
		}
		answer, err := in.Master.Process(testContext(t), old, "show servers state be")
		if err != nil {
			t.Fatalf("the old worker %d is gone, the test cannot tell what it got: %v", old, err)
		}
		states, err := haproxy.ParseServersState(answer)
		if err != nil || len(states) != 1 || states[0].Weight != 1 {
			t.Errorf("old worker's servers %+v (%v), want hold untouched at weight 1", states, err)
		}
		w2, err := haproxy.CurrentWorker(testContext(t), in.Master)
		if err != nil || w2.PID() != newPID {
			t.Fatalf("CurrentWorker after reload: %v, %v; want %d", w2, err, newPID)
		}
	})
}

func TestCurrentWorkerWithoutMaster(t *testing.T) {
	m := haproxy.NewMaster(filepath.Join(t.TempDir(), "no-such.sock"))
	if _, err := haproxy.CurrentWorker(testContext(t), m); !errors.Is(err, haproxy.ErrMasterUnavailable) {
		t.Errorf("CurrentWorker = %v, want ErrMasterUnavailable", err)
	}
}

// dialHeld opens a connection through the frontend to its only server,
// a HoldServer, and waits (bounded) until the worker counts its session:
// it keeps that worker alive after a reload, until hard-stop-after.
func dialHeld(t *testing.T, w *haproxy.Worker, frontend, server string) net.Conn {
	t.Helper()
	conn, err := net.DialTimeout("tcp", frontend, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	for range 250 {
		sessions, err := w.ServerSessions(testContext(t), "be")
		if err != nil {
			t.Fatal(err)
		}
		if sessions[server] > 0 {
			return conn
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("the worker counts no session on %s after 5 s", server)
	return nil
}

// reloadAndWait reloads through the master CLI and returns the new
// worker's PID once it serves.
func reloadAndWait(t *testing.T, in *haproxytest.Instance) int {
	t.Helper()
	if err := haproxy.NewMasterReloader(in.Master, zap.NewNop()).Reload(testContext(t)); err != nil {
		t.Fatal(err)
	}
	return currentPID(t, showProc(t, in))
}
