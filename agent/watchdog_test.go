package agent

import (
	"context"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
)

// blockingReloader holds every Reload until released, ignoring ctx as a
// stuck reload would.
type blockingReloader struct {
	entered chan struct{}
	release chan struct{}
}

var _ Reloader = (*blockingReloader)(nil)

func (r *blockingReloader) Reload(context.Context) error {
	r.entered <- struct{}{}
	<-r.release
	return nil
}

func (n *fakeNotifier) count(e string) int {
	c := 0
	for _, got := range n.snapshot() {
		if got == e {
			c++
		}
	}
	return c
}

// startBlocked runs an agent whose first reload blocks, and returns once
// the reload has begun.
func startBlocked(t *testing.T, stepTimeout time.Duration) (*fakeNotifier, *blockingReloader) {
	t.Helper()
	f := newFixture(t)
	s, _ := states()
	writeFile(t, f.statePath, s.YAML())
	n := &fakeNotifier{interval: 20 * time.Millisecond}
	r := &blockingReloader{entered: make(chan struct{}, 1), release: make(chan struct{})}
	cfg := f.config()
	cfg.Notifier, cfg.StepTimeout, cfg.Targets[0].Reloader = n, stepTimeout, r
	a, err := New(cfg, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		close(r.release)
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("Run did not return after cancel")
		}
	})
	select {
	case <-r.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the reload never started")
	}
	return n, r
}

// TestWatchdogFedDuringSlowReload: a reload that takes a while is not a
// hung agent; the watchdog keeps being pinged while it runs.
func TestWatchdogFedDuringSlowReload(t *testing.T) {
	n, _ := startBlocked(t, time.Minute)
	before := n.count("WATCHDOG=1")
	n.waitFor(t, "pings during the reload", func(string) bool { return n.count("WATCHDOG=1") >= before+3 })
}

// TestWatchdogStarvesPastStepTimeout: a reconcile stuck past its bound
// stops the pings, so systemd restarts the agent.
func TestWatchdogStarvesPastStepTimeout(t *testing.T) {
	n, _ := startBlocked(t, 100*time.Millisecond)
	time.Sleep(time.Second) // well past the 100 ms bound: the pinger has ended
	first := n.count("WATCHDOG=1")
	time.Sleep(500 * time.Millisecond) // 25 intervals
	if got := n.count("WATCHDOG=1"); got != first {
		t.Errorf("%d pings while stuck past the step timeout, want none", got-first)
	}
}
