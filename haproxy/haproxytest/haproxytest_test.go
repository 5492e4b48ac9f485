package haproxytest_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hakgen/hakgen/haproxy/haproxytest"
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
