package systemd_test

import (
	"errors"
	"testing"

	"github.com/hakgen/hakgen/systemd"
	"github.com/hakgen/hakgen/systemd/systemdtest"
)

// The bus daemon dies and a new one comes up on the same socket before the
// next Reload: that Reload works on a new connection.
func TestReloadAfterBusRestart(t *testing.T) {
	t.Parallel()
	e := newEnv(t, systemdtest.Running())
	r := e.reloader(t, systemd.Options{})
	if err := reload(t, r); err != nil {
		t.Fatalf("Reload before the restart: %v", err)
	}
	oldPID := e.bus.PID()
	e.bus.Stop()
	e.bus.Start()
	if e.bus.PID() == oldPID {
		t.Fatalf("bus daemon not restarted (pid %d)", oldPID)
	}
	e.fake.Serve(t, e.bus.Address)
	e.fake.ResetCalls()
	if err := reload(t, r); err != nil {
		t.Fatalf("Reload after the restart: %v", err)
	}
	e.wantCalls(t, readActive, reloadJob, readActive, readStatus)
}

// A Reload while the bus is down fails after a bounded number of dials;
// once the bus is back the next Reload works.
func TestReloadWhileBusDown(t *testing.T) {
	t.Parallel()
	e := newEnv(t, systemdtest.Running())
	r := e.reloader(t, systemd.Options{DialAttempts: 2})
	if err := reload(t, r); err != nil {
		t.Fatalf("Reload before the outage: %v", err)
	}
	e.bus.Stop()
	if err := reload(t, r); err == nil || !errors.Is(err, systemd.ErrNotSent) {
		t.Fatalf("Reload with the bus down: %v; want a failure wrapping ErrNotSent (nothing reached systemd)", err)
	}
	e.bus.Start()
	e.fake.Serve(t, e.bus.Address)
	e.fake.ResetCalls()
	if err := reload(t, r); err != nil {
		t.Fatalf("Reload after the outage: %v", err)
	}
	e.wantCalls(t, readActive, reloadJob, readActive, readStatus)
}
