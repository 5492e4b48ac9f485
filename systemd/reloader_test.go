package systemd_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/hakgen/hakgen/systemd"
	"github.com/hakgen/hakgen/systemd/systemdtest"
)

// The agent's view of a Reloader.
var _ interface{ Reload(context.Context) error } = (*systemd.Reloader)(nil)

const unit = "haproxy.service"

// The calls the fake sees, as systemdtest.Manager.Calls spells them.
const (
	readActive = "Get haproxy.service Unit.ActiveState"
	readStatus = "Get haproxy.service Service.StatusText"
	reloadJob  = "ReloadUnit haproxy.service replace"
	startJob   = "StartUnit haproxy.service replace"
)

// testEnv is a private bus with the fake systemd on it.
type testEnv struct {
	bus  *systemdtest.Bus
	fake *systemdtest.Manager
}

func newEnv(t *testing.T, st systemdtest.UnitState) *testEnv {
	t.Helper()
	bus := systemdtest.StartBus(t)
	fake := systemdtest.NewManager()
	fake.SetUnit(unit, st)
	fake.Serve(t, bus.Address)
	return &testEnv{bus: bus, fake: fake}
}

// reloader connects a Reloader to the env's bus. Waits are short but not
// asserted on: they only keep failing cases fast.
func (e *testEnv) reloader(t *testing.T, opts systemd.Options) *systemd.Reloader {
	t.Helper()
	opts.Dial = systemd.AddressDialer(e.bus.Address)
	if opts.RedialDelay == 0 {
		opts.RedialDelay = 10 * time.Millisecond
	}
	if opts.PollInterval == 0 {
		opts.PollInterval = 10 * time.Millisecond
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	r, err := systemd.NewReloader(ctx, opts, zaptest.NewLogger(t))
	if err != nil {
		t.Fatalf("NewReloader: %v", err)
	}
	t.Cleanup(r.Close)
	return r
}

// reload runs one bounded Reload.
func reload(t *testing.T, r *systemd.Reloader) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	return r.Reload(ctx)
}

// wantCalls compares the fake's calls with want and checks that no
// restart-like method was ever called.
func (e *testEnv) wantCalls(t *testing.T, want ...string) {
	t.Helper()
	got := e.fake.Calls()
	if !slices.Equal(got, want) {
		t.Errorf("calls:\n got %q\nwant %q", got, want)
	}
	for _, c := range got {
		if strings.Contains(c, "Restart") {
			t.Errorf("restart called: %q", c)
		}
	}
}

func TestReloadDone(t *testing.T) {
	t.Parallel()
	e := newEnv(t, systemdtest.Running())
	r := e.reloader(t, systemd.Options{})
	if err := reload(t, r); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	e.wantCalls(t, readActive, reloadJob, readActive, readStatus)
}

func TestReloadJobFailed(t *testing.T) {
	t.Parallel()
	e := newEnv(t, systemdtest.Running())
	e.fake.SetOutcome("ReloadUnit", systemdtest.Outcome{Result: "failed"})
	r := e.reloader(t, systemd.Options{})
	err := reload(t, r)
	var jobErr *systemd.JobError
	if !errors.As(err, &jobErr) || jobErr.Result != "failed" || jobErr.Unit != unit || jobErr.Job != "reload" {
		t.Fatalf("Reload = %v, want a JobError for the failed reload of %s", err, unit)
	}
	if msg := err.Error(); !strings.Contains(msg, unit) || !strings.Contains(msg, `"failed"`) {
		t.Errorf("error %q does not name the unit and the result", msg)
	}
	e.wantCalls(t, readActive, reloadJob)
}

func TestReloadJobNeverFinishes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, systemdtest.Running())
	e.fake.SetOutcome("ReloadUnit", systemdtest.Outcome{}) // no JobRemoved
	r := e.reloader(t, systemd.Options{JobTimeout: 200 * time.Millisecond})
	if err := reload(t, r); !errors.Is(err, systemd.ErrJobTimeout) {
		t.Fatalf("Reload = %v, want ErrJobTimeout", err)
	}
	e.wantCalls(t, readActive, reloadJob)
}

func TestReloadStartsInactiveUnit(t *testing.T) {
	t.Parallel()
	for _, state := range []string{"inactive", "failed"} {
		t.Run(state, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, systemdtest.UnitState{ActiveState: state, SubState: "dead"})
			r := e.reloader(t, systemd.Options{})
			if err := reload(t, r); err != nil {
				t.Fatalf("Reload: %v", err)
			}
			e.wantCalls(t, readActive, startJob, readActive, readStatus)
			if got := e.fake.Unit(unit); got != systemdtest.Running() {
				t.Errorf("unit state %+v, want running", got)
			}
		})
	}
}

func TestReloadNoStart(t *testing.T) {
	t.Parallel()
	e := newEnv(t, systemdtest.UnitState{ActiveState: "inactive", SubState: "dead"})
	r := e.reloader(t, systemd.Options{NoStart: true})
	err := reload(t, r)
	if !errors.Is(err, systemd.ErrNotRunning) || !strings.Contains(err.Error(), unit) {
		t.Fatalf("Reload = %v, want ErrNotRunning naming %s", err, unit)
	}
	e.wantCalls(t, readActive)
}

func TestReloadLeavesTransitionalUnitAlone(t *testing.T) {
	t.Parallel()
	for _, state := range []string{"activating", "deactivating"} {
		t.Run(state, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, systemdtest.UnitState{ActiveState: state})
			r := e.reloader(t, systemd.Options{})
			if err := reload(t, r); !errors.Is(err, systemd.ErrBusy) {
				t.Fatalf("Reload = %v, want ErrBusy", err)
			}
			e.wantCalls(t, readActive)
		})
	}
}
