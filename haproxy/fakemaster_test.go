package haproxy_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/hakgen/hakgen/haproxy"
)

// fakeMaster answers master CLI commands from a script: each command's
// answers are given in order, the last one repeating. It stands in for
// masters this machine does not have (newer HAProxy) and for states a real
// one cannot be held in (a reload that never settles).
type fakeMaster struct {
	mu      sync.Mutex
	answers map[string][]string
}

func startFakeMaster(t *testing.T, answers map[string][]string) *haproxy.Master {
	t.Helper()
	path := filepath.Join(t.TempDir(), "fake.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeMaster{answers: answers}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() { f.serve(conn) })
		}
	})
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	return haproxy.NewMaster(path)
}

func (f *fakeMaster) serve(conn net.Conn) {
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return
	}
	_, _ = io.WriteString(conn, f.next(strings.TrimSuffix(line, "\n")))
}

func (f *fakeMaster) next(cmd string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	list := f.answers[cmd]
	if len(list) == 0 {
		return "Unknown command, but maybe one of the following ones is a better match:\n\n"
	}
	if len(list) > 1 {
		f.answers[cmd] = list[1:]
	}
	return list[0]
}

func fixture(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestReloadUnconfirmedIsBounded(t *testing.T) {
	m := startFakeMaster(t, map[string][]string{
		"show proc": {fixture(t, "showproc-start.txt")},
		"reload":    {""},
	})
	r := haproxy.NewMasterReloader(m, zaptest.NewLogger(t))
	r.Timeout, r.PollInterval = 300*time.Millisecond, 10*time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := r.Reload(ctx)
	var re *haproxy.ReloadError
	if err == nil || errors.As(err, &re) || !strings.Contains(err.Error(), "not confirmed") {
		t.Fatalf("Reload error = %v, want an unconfirmed outcome", err)
	}
	if ctx.Err() != nil {
		t.Fatal("Reload ignored its Timeout")
	}
}

// TestReloadSynchronousAnswer covers masters that answer `reload` with
// "Success=N" and the startup logs (newer than 2.6).
func TestReloadSynchronousAnswer(t *testing.T) {
	t.Run("failure", func(t *testing.T) {
		m := startFakeMaster(t, map[string][]string{
			"show proc": {fixture(t, "showproc-start.txt"), fixture(t, "showproc-reload-failed.txt")},
			"reload":    {"Success=0\n--\n[ALERT]    (1) : config : parsing [x.cfg:3] : unknown keyword 'bogus'\n\n"},
		})
		err := haproxy.NewMasterReloader(m, zaptest.NewLogger(t)).Reload(context.Background())
		var re *haproxy.ReloadError
		if !errors.As(err, &re) || !strings.Contains(re.Logs, "unknown keyword 'bogus'") || re.FailedReloads != 1 {
			t.Fatalf("Reload error = %#v, want a ReloadError with the startup logs", err)
		}
	})
	t.Run("success", func(t *testing.T) {
		m := startFakeMaster(t, map[string][]string{
			"show proc":    {fixture(t, "showproc-start.txt"), fixture(t, "showproc-reload-recovered.txt")},
			"reload":       {"Success=1\n--\n[NOTICE]   (1) : Loading success.\n\n"},
			"@1 show info": {"Name: HAProxy\nVersion: 3.0.0\nPid: 28509\n\n"},
		})
		if err := haproxy.NewMasterReloader(m, zaptest.NewLogger(t)).Reload(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
}

// TestReloadWaitsForWorkerCLI checks that a new worker listed by show proc
// counts only once it answers on its CLI with its own PID.
func TestReloadWaitsForWorkerCLI(t *testing.T) {
	m := startFakeMaster(t, map[string][]string{
		"show proc":    {fixture(t, "showproc-start.txt"), fixture(t, "showproc-reload-recovered.txt")},
		"reload":       {""},
		"@1 show info": {"Name: HAProxy\nPid: 28497\n\n"}, // still the old worker
	})
	r := haproxy.NewMasterReloader(m, zaptest.NewLogger(t))
	r.Timeout, r.PollInterval = 300*time.Millisecond, 10*time.Millisecond
	if err := r.Reload(context.Background()); err == nil || !strings.Contains(err.Error(), "not confirmed") {
		t.Fatalf("Reload error = %v, want unconfirmed while @1 is the old worker", err)
	}
}
