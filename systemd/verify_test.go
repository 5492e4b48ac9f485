package systemd_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/hakgen/hakgen/systemd"
	"github.com/hakgen/hakgen/systemd/systemdtest"
)

func TestReloadStatusReportsFailure(t *testing.T) {
	t.Parallel()
	e := newEnv(t, systemdtest.Running())
	// HAProxy 2.6 sends READY=1 with STATUS=Reload failed! when the new
	// configuration did not load; the job itself ends "done".
	failed := systemdtest.UnitState{ActiveState: "active", SubState: "running", StatusText: "Reload failed!"}
	e.fake.SetOutcome("ReloadUnit", systemdtest.Outcome{Result: "done", State: &failed})
	r := e.reloader(t, systemd.Options{})
	err := reload(t, r)
	if !errors.Is(err, systemd.ErrReloadFailed) || !strings.Contains(err.Error(), "Reload failed!") {
		t.Fatalf("Reload = %v, want ErrReloadFailed quoting the status", err)
	}
	e.wantCalls(t, readActive, reloadJob, readActive, readStatus)
}

func TestReloadUnitDownAfterJob(t *testing.T) {
	t.Parallel()
	e := newEnv(t, systemdtest.Running())
	down := systemdtest.UnitState{ActiveState: "failed", SubState: "failed"}
	e.fake.SetOutcome("ReloadUnit", systemdtest.Outcome{Result: "done", State: &down})
	r := e.reloader(t, systemd.Options{})
	if err := reload(t, r); !errors.Is(err, systemd.ErrReloadFailed) {
		t.Fatalf("Reload = %v, want ErrReloadFailed", err)
	}
}

// The service may report that it is reloading only after systemd ended the
// job; Reload waits for the final status.
func TestReloadWaitsForPendingStatus(t *testing.T) {
	t.Parallel()
	pending := systemdtest.UnitState{ActiveState: "reloading", SubState: "reload", StatusText: "Reloading Configuration."}
	for _, final := range []string{"Ready.", "Reload failed!"} {
		t.Run(final, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, systemdtest.Running())
			later := systemdtest.UnitState{ActiveState: "active", SubState: "running", StatusText: final}
			e.fake.SetOutcome("ReloadUnit", systemdtest.Outcome{
				Result: "done", State: &pending, Later: &later, LaterAfterReads: 2,
			})
			r := e.reloader(t, systemd.Options{})
			err := reload(t, r)
			if failed := final != "Ready."; failed != errors.Is(err, systemd.ErrReloadFailed) || !failed && err != nil {
				t.Fatalf("Reload = %v with final status %q", err, final)
			}
			// One read of the pending state, one of the final state.
			e.wantCalls(t, readActive, reloadJob, readActive, readStatus, readActive, readStatus)
		})
	}
}

func TestReloadRunsVerifierAfterJob(t *testing.T) {
	t.Parallel()
	e := newEnv(t, systemdtest.Running())
	var seen [][]string
	wrong := errors.New("show proc: 1 failed reload")
	verify := systemd.VerifierFunc(func(ctx context.Context) error {
		seen = append(seen, e.fake.Calls())
		if len(seen) == 2 {
			return wrong
		}
		return nil
	})
	r := e.reloader(t, systemd.Options{Verifier: verify})
	if err := reload(t, r); err != nil {
		t.Fatalf("first Reload: %v", err)
	}
	if err := reload(t, r); !errors.Is(err, wrong) {
		t.Fatalf("second Reload = %v, want the verifier's error", err)
	}
	want := []string{readActive, reloadJob, readActive, readStatus}
	if len(seen) != 2 || !slices.Equal(seen[0], want) {
		t.Errorf("verifier ran %d times; first saw calls %q, want %q", len(seen), seen, want)
	}
}
