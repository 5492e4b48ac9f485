package haproxy

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// ServerState is one line of a worker's `show servers state`: a server as
// it runs, which may differ from the configuration file after Runtime API
// commands.
type ServerState struct {
	BackendID int
	Backend   string
	ID        int
	Name      string
	// Addr is the address connections go to; the zero Addr when HAProxy
	// has none ("-", e.g. a DNS name that did not resolve).
	Addr netip.Addr
	Port int
	Op   OpState
	// Admin is the administrative state: maintenance and drain flags.
	Admin AdminState
	// Weight is the weight in effect (srv_uweight): the configuration's
	// `weight`, or what `set server ... weight` set since.
	Weight int
	// InitialWeight is the weight of the configuration (srv_iweight).
	InitialWeight int
	// FQDN is the DNS name the server was given; empty for an address.
	FQDN string
}

// OpState is a server's operational state (srv_op_state).
type OpState int

// The operational states of a server.
const (
	OpStopped  OpState = 0 // down: failed checks, or in maintenance
	OpStarting OpState = 1 // up, warming up (slowstart)
	OpRunning  OpState = 2 // up
	OpStopping OpState = 3 // up but soft-stopping (e.g. check answered 404)
)

func (s OpState) String() string {
	switch s {
	case OpStopped:
		return "stopped"
	case OpStarting:
		return "starting"
	case OpRunning:
		return "running"
	case OpStopping:
		return "stopping"
	}
	return "op-state-" + strconv.Itoa(int(s))
}

// AdminState is the mask of a server's administrative flags
// (srv_admin_state, see HAProxy's management guide).
type AdminState uint8

// The administrative flags of a server.
const (
	AdminForcedMaint     AdminState = 0x01 // `set server ... state maint`, or a new dynamic server
	AdminInheritedMaint  AdminState = 0x02 // tracks a server in maintenance
	AdminConfigMaint     AdminState = 0x04 // `disabled` in the configuration
	AdminForcedDrain     AdminState = 0x08 // `set server ... state drain`
	AdminInheritedDrain  AdminState = 0x10 // tracks a server in drain
	AdminResolutionMaint AdminState = 0x20 // its DNS name did not resolve
	AdminFQDNFromCLI     AdminState = 0x40 // its FQDN was set through the CLI
)

// Ready reports whether no maintenance or drain flag is set: the server
// takes new connections when it is up and its weight is above 0.
func (a AdminState) Ready() bool { return !a.Maint() && !a.Drain() }

// Maint reports whether the server is in maintenance for any reason.
func (a AdminState) Maint() bool {
	return a&(AdminForcedMaint|AdminInheritedMaint|AdminConfigMaint|AdminResolutionMaint) != 0
}

// Drain reports whether the server is in drain, forced or inherited.
func (a AdminState) Drain() bool { return a&(AdminForcedDrain|AdminInheritedDrain) != 0 }

func (a AdminState) String() string {
	names := []struct {
		flag AdminState
		name string
	}{
		{AdminForcedMaint, "maint"}, {AdminInheritedMaint, "inherited-maint"},
		{AdminConfigMaint, "config-maint"}, {AdminForcedDrain, "drain"},
		{AdminInheritedDrain, "inherited-drain"}, {AdminResolutionMaint, "resolution-maint"},
		{AdminFQDNFromCLI, "fqdn-from-cli"},
	}
	var out []string
	rest := a
	for _, n := range names {
		if a&n.flag != 0 {
			out = append(out, n.name)
			rest &^= n.flag
		}
	}
	if rest != 0 {
		out = append(out, fmt.Sprintf("0x%02x", uint8(rest)))
	}
	if len(out) == 0 {
		return "ready"
	}
	return strings.Join(out, "+")
}

// serversStateColumns are the columns ParseServersState needs.
var serversStateColumns = []string{"be_id", "be_name", "srv_id", "srv_name", "srv_addr", "srv_op_state",
	"srv_admin_state", "srv_uweight", "srv_iweight", "srv_fqdn", "srv_port"}

// ParseServersState parses a worker's answer to `show servers state
// [BACKEND]` (format version 1, HAProxy 1.6 to 3.x): a version line, a
// "# be_id be_name ..." header naming the columns, one line per server.
// Columns are found by name, so added columns do not matter. Any other
// answer ("Can't find backend.") is an error quoting it.
func ParseServersState(out string) ([]ServerState, error) {
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) < 2 || strings.TrimSpace(lines[0]) != "1" || !strings.HasPrefix(lines[1], "# ") {
		return nil, fmt.Errorf("parsing show servers state: want format version 1 and a header, got %q", firstLine(out))
	}
	col := map[string]int{}
	for i, name := range strings.Fields(strings.TrimPrefix(lines[1], "#")) {
		col[name] = i
	}
	for _, name := range serversStateColumns {
		if _, ok := col[name]; !ok {
			return nil, fmt.Errorf("parsing show servers state: no column %s in %q", name, lines[1])
		}
	}
	var states []ServerState
	for i, line := range lines[2:] {
		if strings.TrimSpace(line) == "" {
			continue
		}
		s, err := parseServerStateLine(col, strings.Fields(line))
		if err != nil {
			return nil, fmt.Errorf("parsing show servers state line %d %q: %w", i+3, line, err)
		}
		states = append(states, s)
	}
	return states, nil
}

func parseServerStateLine(col map[string]int, f []string) (ServerState, error) {
	if len(f) < len(col) {
		return ServerState{}, fmt.Errorf("%d fields for %d columns", len(f), len(col))
	}
	var s ServerState
	ints := []struct {
		column string
		dest   *int
	}{
		{"be_id", &s.BackendID}, {"srv_id", &s.ID}, {"srv_uweight", &s.Weight},
		{"srv_iweight", &s.InitialWeight}, {"srv_port", &s.Port},
	}
	for _, c := range ints {
		n, err := strconv.Atoi(f[col[c.column]])
		if err != nil {
			return ServerState{}, fmt.Errorf("%s: %w", c.column, err)
		}
		*c.dest = n
	}
	op, err := strconv.Atoi(f[col["srv_op_state"]])
	if err != nil {
		return ServerState{}, fmt.Errorf("srv_op_state: %w", err)
	}
	admin, err := strconv.ParseUint(f[col["srv_admin_state"]], 10, 8)
	if err != nil {
		return ServerState{}, fmt.Errorf("srv_admin_state: %w", err)
	}
	s.Op, s.Admin = OpState(op), AdminState(admin)
	s.Backend, s.Name = f[col["be_name"]], f[col["srv_name"]]
	if a := f[col["srv_addr"]]; a != "-" {
		if s.Addr, err = netip.ParseAddr(a); err != nil {
			return ServerState{}, fmt.Errorf("srv_addr: %w", err)
		}
	}
	if fqdn := f[col["srv_fqdn"]]; fqdn != "-" {
		s.FQDN = fqdn
	}
	return s, nil
}
