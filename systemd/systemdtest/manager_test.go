package systemdtest_test

import (
	"context"
	"slices"
	"testing"
	"time"

	sddbus "github.com/coreos/go-systemd/v22/dbus"
	"github.com/godbus/dbus/v5"

	"github.com/hakgen/hakgen/systemd/systemdtest"
)

// connect returns a go-systemd connection to the fake on a fresh bus.
func connect(t *testing.T) (*sddbus.Conn, *systemdtest.Manager) {
	t.Helper()
	bus := systemdtest.StartBus(t)
	fake := systemdtest.NewManager()
	fake.SetUnit("haproxy.service", systemdtest.UnitState{ActiveState: "inactive", SubState: "dead"})
	fake.Serve(t, bus.Address)
	conn, err := sddbus.NewConnection(func() (*dbus.Conn, error) { return bus.Conn(t), nil })
	if err != nil {
		t.Fatalf("go-systemd connection: %v", err)
	}
	t.Cleanup(conn.Close)
	return conn, fake
}

func bounded(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// The fake answers go-systemd the way systemd does: jobs end with
// JobRemoved, properties come from the unit's object path.
func TestManagerWithGoSystemd(t *testing.T) {
	t.Parallel()
	conn, fake := connect(t)
	ctx := bounded(t)

	if _, err := conn.ReloadUnitContext(ctx, "haproxy.service", "replace", nil); err == nil {
		t.Error("reload of an inactive unit was accepted")
	}
	done := make(chan string, 1)
	if _, err := conn.StartUnitContext(ctx, "haproxy.service", "replace", done); err != nil {
		t.Fatalf("StartUnit: %v", err)
	}
	select {
	case result := <-done:
		if result != "done" {
			t.Errorf("start result %q", result)
		}
	case <-ctx.Done():
		t.Fatal("no JobRemoved for the start job")
	}
	props, err := conn.GetUnitPropertiesContext(ctx, "haproxy.service")
	if err != nil || props["ActiveState"] != "active" || props["SubState"] != "running" {
		t.Errorf("unit properties %v, %v; want active/running", props, err)
	}
	status, err := conn.GetServicePropertyContext(ctx, "haproxy.service", "StatusText")
	if err != nil || status.Value.Value() != "Ready." {
		t.Errorf("StatusText %v, %v", status, err)
	}
	if _, err := conn.GetUnitPropertyContext(ctx, "other.service", "ActiveState"); err == nil {
		t.Error("property of an unknown unit was returned")
	}
	want := []string{
		"ReloadUnit haproxy.service replace",
		"StartUnit haproxy.service replace",
		"GetAll haproxy.service Unit",
		"Get haproxy.service Service.StatusText",
	}
	if got := fake.Calls(); !slices.Equal(got, want) {
		t.Errorf("calls:\n got %q\nwant %q", got, want)
	}
}

func TestManagerUnknownUnit(t *testing.T) {
	t.Parallel()
	conn, fake := connect(t)
	ctx := bounded(t)
	if _, err := conn.StartUnitContext(ctx, "nope.service", "replace", nil); err == nil {
		t.Error("start of an unknown unit was accepted")
	}
	if got := fake.Calls(); !slices.Equal(got, []string{"StartUnit nope.service replace"}) {
		t.Errorf("calls %q", got)
	}
}
