package agent

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/hakgen/hakgen/agent/agenttest"
	"github.com/hakgen/hakgen/state"
)

// fakeSource adds its workers to every state it completes, or fails.
type fakeSource struct {
	mu      sync.Mutex
	workers []state.Server
	err     error
	changed chan struct{}
}

var _ Source = (*fakeSource)(nil)

func (f *fakeSource) Complete(s *state.State) (*state.State, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	c := *s
	c.Workers = append(append([]state.Server(nil), s.Workers...), f.workers...)
	return &c, nil
}

func (f *fakeSource) Changed() <-chan struct{} { return f.changed }

func (f *fakeSource) set(workers []state.Server, err error) {
	f.mu.Lock()
	f.workers, f.err = workers, err
	f.mu.Unlock()
	f.changed <- struct{}{}
}

// TestSourceCompletesTheState: the reconcile renders the state the Source
// completes, a Source change reconciles at once (trigger "discovery")
// with no state file event, and a Source error leaves the target as it
// is, reported as an error.
func TestSourceCompletesTheState(t *testing.T) {
	f := newFixture(t)
	base, _ := states()
	writeFile(t, f.statePath, base.YAML())
	src := &fakeSource{changed: make(chan struct{}, 1)}
	cfg := f.config()
	cfg.Source, cfg.Resync, cfg.MinReloadInterval = src, time.Hour, -1
	a, err := New(cfg, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if r := a.reconcileOnce(t.Context()); r.Outcome != OutcomeApplied || !bytes.Equal(readFile(t, f.target), rendered(t, base)) {
		t.Fatalf("first reconcile: %s, %v", r.Outcome, r.Err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()

	src.set([]state.Server{{Name: "w9", Address: "127.0.0.9"}}, nil)
	want := base
	want.Workers = append(append([]agenttest.Server(nil), base.Workers...), agenttest.Server{Name: "w9", Address: "127.0.0.9"})
	st := waitStatus(t, f.statusPath, func(s *Status) bool { return s.Last != nil && s.Last.Trigger == TriggerSource && s.Healthy })
	if !bytes.Equal(readFile(t, f.target), rendered(t, want)) {
		t.Errorf("haproxy.cfg after the Source added w9:\n%s", readFile(t, f.target))
	}
	parsed, _, _ := state.Parse("state.yaml", want.YAML())
	if st.AppliedHash != parsed.Hash() {
		t.Errorf("applied hash %s, want the completed state's %s", short(st.AppliedHash), short(parsed.Hash()))
	}

	before := readFile(t, f.target)
	src.set(nil, errors.New("no control plane discovered yet"))
	st = waitStatus(t, f.statusPath, func(s *Status) bool { return !s.Healthy })
	if st.Last.Outcome != OutcomeError || st.Last.Trigger != TriggerSource || !bytes.Contains([]byte(st.Last.Error), []byte("no control plane discovered yet")) {
		t.Errorf("after a Source error: %+v", st.Last)
	}
	if !bytes.Equal(readFile(t, f.target), before) {
		t.Error("a Source error changed haproxy.cfg")
	}
}

// waitStatus polls the status file until ok, bounded by 10 s.
func waitStatus(t *testing.T, path string, ok func(*Status) bool) *Status {
	t.Helper()
	var st *Status
	for range 500 {
		var err error
		if st, err = ReadStatus(path); err == nil && ok(st) {
			return st
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("the status never showed it; last %+v", st)
	return nil
}
