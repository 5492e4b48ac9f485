package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/hakgen/hakgen/haproxy"
	"github.com/hakgen/hakgen/haproxy/haproxytest"
	"github.com/hakgen/hakgen/internal/tooltest"
	"github.com/hakgen/hakgen/state"
)

// routeConfig is a minimal master-worker configuration routing port to
// server.
func routeConfig(port int, server string) []byte {
	return fmt.Appendf(nil, "global\n    maxconn 50\ndefaults\n    mode tcp\n    timeout connect 2s\n    timeout client 5s\n    timeout server 5s\n"+
		"listen l\n    bind 127.0.0.1:%d\n    server s %s\n", port, server)
}

// TestReloadNotSentKeepsNewFile: the master CLI connection of the `show
// proc` taken before `reload` is reset (as when the agent starts during its
// predecessor's reload). HAProxy never got the reload, so the new file
// stays without a rollback and without being marked failed, and the next
// reconcile applies it.
func TestReloadNotSentKeepsNewFile(t *testing.T) {
	bin := tooltest.Need(t, "haproxy")
	f := newFixture(t)
	s, _ := states()
	writeFile(t, f.statePath, s.YAML())
	a1, b1 := haproxytest.NameServer(t, "a"), haproxytest.NameServer(t, "b")
	port := haproxytest.FreePort(t)
	old, want := routeConfig(port, a1), routeConfig(port, b1)
	writeFile(t, f.target, old)
	in := haproxytest.Start(t, f.target)
	proxy := haproxytest.StartResetProxy(t, in.Socket, func(n int) bool { return n == 1 })

	cfg := f.config()
	cfg.Targets[0].Render = func(*state.State) ([]byte, error) { return want, nil }
	cfg.Targets[0].Checker = haproxy.Checker{Bin: bin, Args: []string{"-S", filepath.Join(t.TempDir(), "check.sock")}}
	cfg.Targets[0].Reloader = haproxy.NewMasterReloader(haproxy.NewMaster(proxy.Socket), zaptest.NewLogger(t))
	a, err := New(cfg, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	before := masterReloads(t, in)

	r := reconcile(t, a)
	if proxy.Resets() != 1 {
		t.Fatalf("the proxy reset %d connections, want the first one", proxy.Resets())
	}
	if r.Outcome != OutcomeError || !errors.Is(r.Err, haproxy.ErrReloadNotSent) || !strings.Contains(errString(r.Err), "reset by peer") {
		t.Fatalf("outcome %s, %v; want error (retried) wrapping haproxy.ErrReloadNotSent", r.Outcome, r.Err)
	}
	if got := readFile(t, f.target); !bytes.Equal(got, want) {
		t.Errorf("target holds %q, want the new file kept (no rollback)", got)
	}
	if a.targets[0].failedHash != "" {
		t.Error("the new bytes were marked failed: they would not be tried again")
	}
	if got := masterReloads(t, in); got != before {
		t.Errorf("the master counted %d reloads, want %d: nothing was sent", got, before)
	}

	if r := reconcile(t, a); r.Outcome != OutcomeApplied {
		t.Fatalf("the retry: %s, %v; want applied", r.Outcome, r.Err)
	}
	if got := masterReloads(t, in); got != before+1 {
		t.Errorf("the master counted %d reloads, want %d", got, before+1)
	}
	for i := range 100 {
		got, err := haproxytest.Ask(fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil && strings.TrimSpace(got) == "b" {
			break
		}
		if i == 99 {
			t.Fatalf("haproxy routes to %q (%v), want b", got, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := os.Stat(f.lastGood); err != nil {
		t.Errorf("no last-known-good copy kept: %v", err)
	}
}

func masterReloads(t *testing.T, in *haproxytest.Instance) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	p, err := in.Master.ShowProc(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return p.Master.Reloads
}
