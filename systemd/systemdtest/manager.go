package systemdtest

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/godbus/dbus/v5"
)

// D-Bus names of systemd's manager, as go-systemd uses them.
const (
	BusName      = "org.freedesktop.systemd1"
	ManagerPath  = dbus.ObjectPath("/org/freedesktop/systemd1")
	ManagerIface = "org.freedesktop.systemd1.Manager"
	UnitIface    = "org.freedesktop.systemd1.Unit"
	ServiceIface = "org.freedesktop.systemd1.Service"
	unitRoot     = "/org/freedesktop/systemd1/unit"
	jobRoot      = "/org/freedesktop/systemd1/job"
)

// JobMethods returns the Manager methods, all of signature (ss) o, that
// the fake answers with a job. Restarts are answered too, so that a call to
// one shows up in Calls instead of failing as an unknown method.
func JobMethods() []string {
	return []string{
		"StartUnit", "StopUnit", "ReloadUnit", "RestartUnit", "TryRestartUnit",
		"ReloadOrRestartUnit", "ReloadOrTryRestartUnit",
	}
}

// UnitState is the part of a unit the fake exposes as properties.
type UnitState struct {
	ActiveState string // Unit.ActiveState: active, reloading, inactive, failed, ...
	SubState    string // Unit.SubState: running, dead, ...
	StatusText  string // Service.StatusText: the service's STATUS= line
}

// Running returns the state of a started Type=notify HAProxy.
func Running() UnitState {
	return UnitState{ActiveState: "active", SubState: "running", StatusText: "Ready."}
}

// Outcome is how the fake ends the jobs of one method.
type Outcome struct {
	// Result is the JobRemoved result ("done", "failed", ...); empty means
	// the job never finishes and no signal is sent.
	Result string
	// State, when set, becomes the unit's state just before JobRemoved.
	State *UnitState
	// Later, when set, becomes the unit's state after LaterAfterReads
	// property reads of the unit following JobRemoved: a service that
	// finishes reloading after systemd ended the job.
	Later           *UnitState
	LaterAfterReads int
}

// Manager is a fake systemd manager: units with a state, jobs that end as
// configured, and a record of every call it received. Its zero value is
// not usable; call NewManager. It is safe for concurrent use.
type Manager struct {
	mu       sync.Mutex
	units    map[string]UnitState
	outcomes map[string]Outcome
	calls    []string
	lastJob  uint32
	later    *laterState
	conn     *dbus.Conn
}

// laterState is a pending Outcome.Later.
type laterState struct {
	unit  string
	state UnitState
	reads int
}

// NewManager returns a fake without units. Every job method ends with
// "done"; StartUnit, RestartUnit and the restart variants also set the
// unit to Running, StopUnit sets it inactive.
func NewManager() *Manager {
	m := &Manager{units: map[string]UnitState{}, outcomes: map[string]Outcome{}}
	for _, method := range JobMethods() {
		o := Outcome{Result: "done"}
		switch {
		case method == "StopUnit":
			o.State = &UnitState{ActiveState: "inactive", SubState: "dead"}
		case strings.Contains(method, "Start"), strings.Contains(method, "Restart"):
			running := Running()
			o.State = &running
		}
		m.outcomes[method] = o
	}
	return m
}

// SetUnit adds the unit or replaces its state.
func (m *Manager) SetUnit(name string, st UnitState) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.units[name] = st
}

// Unit returns the unit's current state.
func (m *Manager) Unit(name string) UnitState {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.units[name]
}

// SetOutcome sets how jobs of method (one of JobMethods) end.
func (m *Manager) SetOutcome(method string, o Outcome) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.outcomes[method] = o
}

// Calls returns the calls received so far, in order, e.g.
// "ReloadUnit haproxy.service replace" or
// "Get haproxy.service Unit.ActiveState".
func (m *Manager) Calls() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.calls)
}

// ResetCalls forgets the calls received so far.
func (m *Manager) ResetCalls() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls = nil
}

// record appends one call; the caller holds m.mu.
func (m *Manager) record(format string, args ...any) {
	m.calls = append(m.calls, fmt.Sprintf(format, args...))
}

// Serve connects the fake to the bus at address, takes the name
// org.freedesktop.systemd1 and exports the manager and unit objects. It
// may be called again after the bus restarted; the previous connection is
// closed. The connection is closed in t.Cleanup.
func (m *Manager) Serve(t testing.TB, address string) {
	t.Helper()
	conn, err := dialAddress(address)
	if err != nil {
		t.Fatalf("fake systemd: connecting: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	if err := m.export(conn); err != nil {
		conn.Close()
		t.Fatalf("fake systemd: %v", err)
	}
	reply, err := conn.RequestName(BusName, dbus.NameFlagDoNotQueue)
	if err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		conn.Close()
		t.Fatalf("fake systemd: requesting %s: reply %v, %v", BusName, reply, err)
	}
	m.mu.Lock()
	old := m.conn
	m.conn = conn
	m.mu.Unlock()
	if old != nil {
		old.Close()
	}
}

// export exports the Manager methods and the unit properties on conn.
func (m *Manager) export(conn *dbus.Conn) error {
	methods := map[string]any{"GetUnit": m.getUnit}
	for _, name := range JobMethods() {
		methods[name] = m.jobMethod(conn, name)
	}
	if err := conn.ExportMethodTable(methods, ManagerPath, ManagerIface); err != nil {
		return fmt.Errorf("exporting the manager: %w", err)
	}
	props := map[string]any{"Get": m.get, "GetAll": m.getAll}
	if err := conn.ExportSubtreeMethodTable(props, unitRoot, "org.freedesktop.DBus.Properties"); err != nil {
		return fmt.Errorf("exporting unit properties: %w", err)
	}
	return nil
}
