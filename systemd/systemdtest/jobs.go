package systemdtest

import (
	"fmt"

	sddbus "github.com/coreos/go-systemd/v22/dbus"
	"github.com/godbus/dbus/v5"
)

// Errors systemd answers with, by D-Bus error name.
const (
	errNoSuchUnit    = "org.freedesktop.systemd1.NoSuchUnit"
	errNotApplicable = "org.freedesktop.systemd1.JobTypeNotApplicable"
	errUnknownObject = "org.freedesktop.DBus.Error.UnknownObject"
	errUnknownProp   = "org.freedesktop.DBus.Error.UnknownProperty"
	errUnknownIface  = "org.freedesktop.DBus.Error.UnknownInterface"
)

// jobMethod returns the handler of one job method on conn. A job that has
// a result ends in its own goroutine: go-systemd registers the job before
// it handles the JobRemoved signal, whichever arrives first.
func (m *Manager) jobMethod(conn *dbus.Conn, method string) func(string, string) (dbus.ObjectPath, *dbus.Error) {
	return func(unit, mode string) (dbus.ObjectPath, *dbus.Error) {
		m.mu.Lock()
		defer m.mu.Unlock()
		m.record("%s %s %s", method, unit, mode)
		st, ok := m.units[unit]
		if !ok {
			return "", dbus.NewError(errNoSuchUnit, []any{fmt.Sprintf("Unit %s not found.", unit)})
		}
		if method == "ReloadUnit" && st.ActiveState != "active" && st.ActiveState != "reloading" {
			// systemd refuses a reload job for a unit that is not running.
			return "", dbus.NewError(errNotApplicable, []any{fmt.Sprintf("Job type reload is not applicable for unit %s.", unit)})
		}
		m.lastJob++
		id := m.lastJob
		job := dbus.ObjectPath(fmt.Sprintf("%s/%d", jobRoot, id))
		if o := m.outcomes[method]; o.Result != "" {
			go m.finish(conn, id, job, unit, o)
		}
		return job, nil
	}
}

// finish applies the outcome's states and emits JobRemoved (u o s s).
func (m *Manager) finish(conn *dbus.Conn, id uint32, job dbus.ObjectPath, unit string, o Outcome) {
	m.mu.Lock()
	if o.State != nil {
		m.units[unit] = *o.State
	}
	m.later = nil
	if o.Later != nil {
		m.later = &laterState{unit: unit, state: *o.Later, reads: o.LaterAfterReads}
	}
	m.mu.Unlock()
	_ = conn.Emit(ManagerPath, ManagerIface+".JobRemoved", id, job, unit, o.Result)
}

// getUnit implements Manager.GetUnit(s) o.
func (m *Manager) getUnit(name string) (dbus.ObjectPath, *dbus.Error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.record("GetUnit %s", name)
	if _, ok := m.units[name]; !ok {
		return "", dbus.NewError(errNoSuchUnit, []any{fmt.Sprintf("Unit %s not loaded.", name)})
	}
	return UnitPath(name), nil
}

// UnitPath is the object path of a unit, as systemd and go-systemd build it.
func UnitPath(name string) dbus.ObjectPath {
	return dbus.ObjectPath(unitRoot + "/" + sddbus.PathBusEscape(name))
}
