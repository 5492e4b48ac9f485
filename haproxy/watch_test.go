package haproxy_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hakgen/hakgen/haproxy"
	"github.com/hakgen/hakgen/haproxy/haproxytest"
)

// TestWatchMasterSeesHAProxyDie: the watch reports a running master, then
// that it is gone once the master is killed with SIGKILL, and keeps
// reporting nothing new while no master answers.
func TestWatchMasterSeesHAProxyDie(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "haproxy.cfg")
	port := haproxytest.FreePort(t)
	if err := os.WriteFile(cfg, []byte("global\n    maxconn 100\ndefaults\n    mode tcp\n    timeout connect 1s\n    timeout client 1s\n    timeout server 1s\nfrontend f\n    bind 127.0.0.1:"+itoa(port)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	in := haproxytest.Start(t, cfg)
	var mu sync.Mutex
	var reports []bool
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		haproxy.WatchMaster(ctx, in.Master, 50*time.Millisecond, func(up bool) {
			mu.Lock()
			reports = append(reports, up)
			mu.Unlock()
		})
	}()
	defer func() { cancel(); <-done }()
	waitReports(t, &mu, &reports, []bool{true})
	if err := syscall.Kill(in.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitReports(t, &mu, &reports, []bool{true, false})
	time.Sleep(200 * time.Millisecond) // several tries to find a master
	mu.Lock()
	defer mu.Unlock()
	if len(reports) != 2 {
		t.Errorf("reports %v, want [true false] and nothing more while no master runs", reports)
	}
}

func waitReports(t *testing.T, mu *sync.Mutex, reports *[]bool, want []bool) {
	t.Helper()
	for range 500 {
		mu.Lock()
		got := append([]bool(nil), *reports...)
		mu.Unlock()
		if len(got) >= len(want) {
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("reports %v, want %v", got, want)
				}
			}
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("reports never reached %v", want)
}

func itoa(n int) string { return strconv.Itoa(n) }
