package serverplan_test

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hakgen/hakgen/haproxy"
	"github.com/hakgen/hakgen/haproxy/haproxytest"
	"github.com/hakgen/hakgen/haproxy/serverplan"
)

// sessionsConfig has two frontends, each with a backend of one holding
// server; h1 of backend one has the keywords h1, and with add, backend one
// gets a second server.
func sessionsConfig(fe1, fe2 int, hold1, h1, hold2, add string) string {
	return fmt.Sprintf(`global
    maxconn 50
defaults
    mode tcp
    timeout connect 2s
    timeout client 1m
    timeout server 1m
    default-server inter 5s fall 3 rise 2 init-addr last,libc,none
frontend one
    bind 127.0.0.1:%d
    default_backend one
backend one
    balance leastconn
    server h1 %s %s
%sfrontend two
    bind 127.0.0.1:%d
    default_backend two
backend two
    balance leastconn
    server h2 %s check
`, fe1, hold1, h1, add, fe2, hold2)
}

// sessionsLab is sessionsConfig running with one connection held through
// each frontend, and the plan that removes h1 and adds a in its place.
type sessionsLab struct {
	rt       *recorder
	plan     serverplan.Plan
	one, two net.Conn
}

func newSessionsLab(t *testing.T, b haproxytest.Build, h1 string) sessionsLab {
	t.Helper()
	ctx := testContext(t)
	fe1, fe2 := haproxytest.FreePort(t), haproxytest.FreePort(t)
	hold1, hold2 := haproxytest.HoldServer(t), haproxytest.HoldServer(t)
	a := fmt.Sprintf("    server a %s check\n", haproxytest.NameServer(t, "a"))
	running := sessionsConfig(fe1, fe2, hold1, h1, hold2, "")
	next := sessionsConfig(fe1, fe2, hold1, h1, hold2, a)
	next = replace(t, next, fmt.Sprintf("    server h1 %s %s\n", hold1, h1), "")
	cfg := filepath.Join(b.TempDir(t), "haproxy.cfg")
	if err := os.WriteFile(cfg, []byte(running), 0o644); err != nil {
		t.Fatal(err)
	}
	in := b.Start(t, cfg)
	d := serverplan.Decide([]byte(running), []byte(next))
	if d.Kind != serverplan.ServersOnly || d.Plan.String() != "one: +a -h1" {
		t.Fatalf("decision %v %q (%s), want one: +a -h1", d.Kind, d.Plan, d.Reason)
	}
	if err := os.WriteFile(cfg, []byte(next), 0o644); err != nil {
		t.Fatal(err)
	}
	w, err := haproxy.CurrentWorker(ctx, in.Master)
	if err != nil {
		t.Fatal(err)
	}
	rt := &recorder{Worker: w}
	s := sessionsLab{rt: rt, plan: d.Plan}
	s.one, s.two = dialWaiting(t, rt, fe1, "one", "h1"), dialWaiting(t, rt, fe2, "two", "h2")
	return s
}

// dialWaiting connects through a frontend and waits (bounded) until the
// worker counts the session on server.
func dialWaiting(t *testing.T, rt *recorder, frontend int, backend, server string) net.Conn {
	t.Helper()
	conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", frontend), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	for range 250 {
		n, err := rt.ServerSessions(testContext(t), backend)
		if err != nil {
			t.Fatal(err)
		}
		if n[server] == 1 {
			return conn
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no session on %s/%s after 5 s", backend, server)
	return nil
}

// closedWithin reports whether the peer closed conn within d.
func closedWithin(conn net.Conn, d time.Duration) bool {
	_ = conn.SetReadDeadline(time.Now().Add(d))
	_, err := conn.Read(make([]byte, 1))
	var ne net.Error
	return err != nil && !(errors.As(err, &ne) && ne.Timeout())
}

// TestApplyRemoveShutsDownSessions: a removed server whose session does
// not end within RemoveGrace has it shut down, and is deleted; a session
// of another backend is not touched.
func TestApplyRemoveShutsDownSessions(t *testing.T) {
	haproxytest.EachBuild(t, func(t *testing.T, b haproxytest.Build) {
		s := newSessionsLab(t, b, "check")
		ex := serverplan.Executor{RemoveGrace: 200 * time.Millisecond}
		if err := ex.Apply(testContext(t), s.rt, s.plan); err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(s.rt.sent, "shutdown sessions server one/h1") || !slices.Contains(s.rt.sent, "del server one/h1") {
			t.Errorf("commands %q, want h1's sessions shut down, then h1 deleted", s.rt.sent)
		}
		if !closedWithin(s.one, 5*time.Second) {
			t.Error("the connection to the removed server is still open")
		}
		if closedWithin(s.two, 300*time.Millisecond) {
			t.Error("the connection through the other backend was closed")
		}
	})
}

// TestApplyRemoveWaitsForSessions: a session that ends within RemoveGrace
// is not shut down: Apply waits for it, then deletes the server.
func TestApplyRemoveWaitsForSessions(t *testing.T) {
	haproxytest.EachBuild(t, func(t *testing.T, b haproxytest.Build) {
		s := newSessionsLab(t, b, "check")
		closer := time.AfterFunc(300*time.Millisecond, func() { s.one.Close() })
		defer closer.Stop()
		ex := serverplan.Executor{RemoveGrace: 20 * time.Second}
		if err := ex.Apply(testContext(t), s.rt, s.plan); err != nil {
			t.Fatal(err)
		}
		if slices.Contains(s.rt.sent, "shutdown sessions server one/h1") || !slices.Contains(s.rt.sent, "del server one/h1") {
			t.Errorf("commands %q, want h1 deleted after its session ended, without shutdown sessions", s.rt.sent)
		}
		if closedWithin(s.two, 300*time.Millisecond) {
			t.Error("the connection through the other backend was closed")
		}
	})
}

// TestApplyRemoveOnMarkedDown: a server with on-marked-down
// shutdown-sessions (as hakgen renders every server) keeps its sessions
// for RemoveGrace once drained; then maintenance ends them, as when it
// fails its checks, with no shutdown sessions needed.
func TestApplyRemoveOnMarkedDown(t *testing.T) {
	haproxytest.EachBuild(t, func(t *testing.T, b haproxytest.Build) {
		s := newSessionsLab(t, b, "check on-marked-down shutdown-sessions")
		ex := serverplan.Executor{RemoveGrace: 300 * time.Millisecond}
		if err := ex.Apply(testContext(t), s.rt, s.plan); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(s.rt.sent[len(s.rt.sent)-3:], []string{"set server one/h1 state drain", "set server one/h1 state maint", "del server one/h1"}) ||
			slices.Contains(s.rt.sent, "shutdown sessions server one/h1") {
			t.Errorf("commands %q, want h1 drained, in maintenance, deleted, with no shutdown sessions", s.rt.sent)
		}
		if !closedWithin(s.one, 5*time.Second) {
			t.Error("the connection to the removed server is still open")
		}
		if closedWithin(s.two, 300*time.Millisecond) {
			t.Error("the connection through the other backend was closed")
		}
	})
}

// TestApplyRemoveFailsOnHalfClosedSession: HAProxy does not shut down a
// session whose client has closed its side while the server stays silent
// (it waits for timeout server-fin); the server cannot be deleted, and
// Apply says so, so the caller reloads.
func TestApplyRemoveFailsOnHalfClosedSession(t *testing.T) {
	haproxytest.EachBuild(t, func(t *testing.T, b haproxytest.Build) {
		ctx := testContext(t)
		fe := haproxytest.FreePort(t)
		mute := haproxytest.MuteServer(t)
		running := fmt.Sprintf("defaults\n    mode tcp\n    timeout connect 2s\n    timeout client 1m\n    timeout server 1m\n"+
			"frontend be\n    bind 127.0.0.1:%d\n    default_backend be\nbackend be\n    balance leastconn\n    server m %s\n", fe, mute)
		next := replace(t, running, "    server m "+mute+"\n", "")
		cfg := filepath.Join(b.TempDir(t), "haproxy.cfg")
		if err := os.WriteFile(cfg, []byte(running), 0o644); err != nil {
			t.Fatal(err)
		}
		in := b.Start(t, cfg)
		w, err := haproxy.CurrentWorker(ctx, in.Master)
		if err != nil {
			t.Fatal(err)
		}
		rt := &recorder{Worker: w}
		conn := dialWaiting(t, rt, fe, "be", "m")
		if err := conn.(*net.TCPConn).CloseWrite(); err != nil {
			t.Fatal(err)
		}
		d := serverplan.Decide([]byte(running), []byte(next))
		err = serverplan.Executor{RemoveGrace: -1}.Apply(ctx, rt, d.Plan)
		if err == nil || !strings.Contains(err.Error(), "sessions of be/m still open") {
			t.Fatalf("Apply: %v, want the half-closed session named", err)
		}
		if !slices.Contains(rt.sent, "shutdown sessions server be/m") || slices.Contains(rt.sent, "del server be/m") {
			t.Errorf("commands %q, want shutdown sessions tried and no del server", rt.sent)
		}
	})
}
