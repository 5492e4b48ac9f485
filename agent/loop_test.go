package agent

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
)

// fakeNotifier records notifications in order.
type fakeNotifier struct {
	mu       sync.Mutex
	events   []string
	interval time.Duration
}

var _ Notifier = (*fakeNotifier)(nil)

func (n *fakeNotifier) add(e string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.events = append(n.events, e)
}

func (n *fakeNotifier) Ready()                          { n.add("READY=1") }
func (n *fakeNotifier) Status(text string)              { n.add("STATUS=" + text) }
func (n *fakeNotifier) Stopping()                       { n.add("STOPPING=1") }
func (n *fakeNotifier) Ping()                           { n.add("WATCHDOG=1") }
func (n *fakeNotifier) WatchdogInterval() time.Duration { return n.interval }

func (n *fakeNotifier) snapshot() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.events)
}

// waitFor polls until some recorded event satisfies ok, bounded.
func (n *fakeNotifier) waitFor(t *testing.T, what string, ok func(string) bool) {
	t.Helper()
	for range 500 {
		if slices.ContainsFunc(n.snapshot(), ok) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no %s among %q", what, n.snapshot())
}

// TestRunNotifies: READY comes after the first reconcile even when the
// state is invalid, STATUS carries the error and later the applied state,
// the watchdog is pinged from the loop, and STOPPING ends it.
func TestRunNotifies(t *testing.T) {
	f := newFixture(t)
	s, _ := states()
	writeFile(t, f.statePath, []byte("controlPlanes: [\n"))
	writeFile(t, f.target, []byte("# running\n"))
	n := &fakeNotifier{interval: 20 * time.Millisecond}
	cfg := f.config()
	cfg.Notifier, cfg.MinQuiescence = n, 10*time.Millisecond
	a, err := New(cfg, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()

	n.waitFor(t, "READY", func(e string) bool { return e == "READY=1" })
	// Watchdog pings may come at any time (also during the first reconcile).
	ev := slices.DeleteFunc(n.snapshot(), func(e string) bool { return e == "WATCHDOG=1" })
	if !strings.HasPrefix(ev[0], "STATUS=invalid: ") || !strings.Contains(ev[0], "state.yaml:") || ev[1] != "READY=1" {
		t.Fatalf("first notifications %q: want the invalid state's STATUS, then READY", ev)
	}
	n.waitFor(t, "a watchdog ping", func(e string) bool { return e == "WATCHDOG=1" })

	writeFile(t, f.statePath, s.YAML())
	n.waitFor(t, "STATUS of the applied state", func(e string) bool { return strings.HasPrefix(e, "STATUS=state ") })
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	if ev := n.snapshot(); ev[len(ev)-1] != "STOPPING=1" {
		t.Errorf("last notification %q, want STOPPING=1", ev[len(ev)-1])
	}
	if f.reloader.calls() != 1 {
		t.Errorf("%d reloads, want 1 (for the valid edit)", f.reloader.calls())
	}
}
