package failover

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// State is a keepalived VRRP state as passed to notify scripts.
type State string

// The states keepalived reports. DELETED comes from keepalived 2.2+ when
// an instance is removed from its configuration; it is handled like STOP.
const (
	Master  State = "MASTER"
	Backup  State = "BACKUP"
	Fault   State = "FAULT"
	Stop    State = "STOP"
	Deleted State = "DELETED"
)

// ErrUsage means the notify arguments are not one of the accepted forms.
var ErrUsage = errors.New("usage: notify MASTER|BACKUP|FAULT|STOP, or notify INSTANCE|GROUP NAME STATE [PRIORITY]")

// Event is one notification from keepalived.
type Event struct {
	State State
	// Kind is "INSTANCE" or "GROUP" in keepalived's generic form, "" in
	// the short form (notify_master "hakgen-agent notify MASTER").
	Kind string
	Name string // VRRP instance or sync group; "" in the short form
	// Priority is the instance's priority, -1 when not given.
	Priority int
}

// ParseArgs accepts the short form `STATE` and keepalived's generic form
// `INSTANCE|GROUP NAME STATE PRIORITY` (PRIORITY may be missing). States
// are matched case-insensitively. Errors wrap ErrUsage.
func ParseArgs(args []string) (Event, error) {
	switch len(args) {
	case 1:
		st, err := parseState(args[0])
		return Event{State: st, Priority: -1}, err
	case 3, 4:
		return parseGeneric(args)
	}
	return Event{}, fmt.Errorf("%d arguments: %w", len(args), ErrUsage)
}

func parseGeneric(args []string) (Event, error) {
	kind := strings.ToUpper(args[0])
	if kind != "INSTANCE" && kind != "GROUP" {
		return Event{}, fmt.Errorf("%q is neither INSTANCE nor GROUP: %w", args[0], ErrUsage)
	}
	if args[1] == "" {
		return Event{}, fmt.Errorf("empty %s name: %w", strings.ToLower(kind), ErrUsage)
	}
	st, err := parseState(args[2])
	if err != nil {
		return Event{}, err
	}
	ev := Event{State: st, Kind: kind, Name: args[1], Priority: -1}
	if len(args) == 4 {
		p, err := strconv.Atoi(args[3])
		if err != nil || p < 0 || p > 255 {
			return Event{}, fmt.Errorf("priority %q is not 0-255: %w", args[3], ErrUsage)
		}
		ev.Priority = p
	}
	return ev, nil
}

func parseState(s string) (State, error) {
	st := State(strings.ToUpper(s))
	switch st {
	case Master, Backup, Fault, Stop, Deleted:
		return st, nil
	}
	return "", fmt.Errorf("unknown state %q: %w", s, ErrUsage)
}

// String is the event as keepalived would pass it.
func (e Event) String() string {
	if e.Kind == "" {
		return string(e.State)
	}
	s := e.Kind + " " + e.Name + " " + string(e.State)
	if e.Priority >= 0 {
		s += " " + strconv.Itoa(e.Priority)
	}
	return s
}
