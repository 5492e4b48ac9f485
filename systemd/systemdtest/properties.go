package systemdtest

import (
	"fmt"
	"maps"
	"strings"

	"github.com/godbus/dbus/v5"
)

// ifacePrefix is left out of interface names in recorded calls.
const ifacePrefix = "org.freedesktop.systemd1."

// get implements org.freedesktop.DBus.Properties.Get(ss) v on unit paths.
func (m *Manager) get(msg dbus.Message, iface, prop string) (dbus.Variant, *dbus.Error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	name, st, derr := m.unitAt(msg)
	if derr != nil {
		return dbus.Variant{}, derr
	}
	m.record("Get %s %s.%s", name, strings.TrimPrefix(iface, ifacePrefix), prop)
	m.countRead(name)
	v, ok := unitProperties(name, st)[iface][prop]
	if !ok {
		return dbus.Variant{}, dbus.NewError(errUnknownProp, []any{fmt.Sprintf("Unknown property %s.%s", iface, prop)})
	}
	return v, nil
}

// getAll implements org.freedesktop.DBus.Properties.GetAll(s) a{sv}; an
// empty interface name returns the properties of every interface.
func (m *Manager) getAll(msg dbus.Message, iface string) (map[string]dbus.Variant, *dbus.Error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	name, st, derr := m.unitAt(msg)
	if derr != nil {
		return nil, derr
	}
	m.record("GetAll %s %s", name, strings.TrimPrefix(iface, ifacePrefix))
	m.countRead(name)
	all := unitProperties(name, st)
	if iface == "" {
		out := map[string]dbus.Variant{}
		for _, props := range all {
			maps.Copy(out, props)
		}
		return out, nil
	}
	props, ok := all[iface]
	if !ok {
		return nil, dbus.NewError(errUnknownIface, []any{fmt.Sprintf("Unknown interface %s", iface)})
	}
	return props, nil
}

// unitAt finds the unit whose object path the message was sent to. The
// caller holds m.mu.
func (m *Manager) unitAt(msg dbus.Message) (string, UnitState, *dbus.Error) {
	path, _ := msg.Headers[dbus.FieldPath].Value().(dbus.ObjectPath)
	for name, st := range m.units {
		if UnitPath(name) == path {
			return name, st, nil
		}
	}
	return "", UnitState{}, dbus.NewError(errUnknownObject, []any{fmt.Sprintf("Unknown object '%s'.", path)})
}

// countRead counts one property read of unit towards a pending
// Outcome.Later and applies it when due. The caller holds m.mu.
func (m *Manager) countRead(unit string) {
	if m.later == nil || m.later.unit != unit {
		return
	}
	m.later.reads--
	if m.later.reads <= 0 {
		m.units[unit] = m.later.state
		m.later = nil
	}
}

// unitProperties returns the properties the fake exposes, by interface.
func unitProperties(name string, st UnitState) map[string]map[string]dbus.Variant {
	return map[string]map[string]dbus.Variant{
		UnitIface: {
			"Id":          dbus.MakeVariant(name),
			"LoadState":   dbus.MakeVariant("loaded"),
			"ActiveState": dbus.MakeVariant(st.ActiveState),
			"SubState":    dbus.MakeVariant(st.SubState),
		},
		ServiceIface: {
			"Type":       dbus.MakeVariant("notify"),
			"StatusText": dbus.MakeVariant(st.StatusText),
		},
	}
}
