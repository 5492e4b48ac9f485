package serverplan

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"

	"github.com/hakgen/hakgen/haproxy"
)

// SaveServerState writes the current worker's `show servers state` to
// path, the server-state-file the next worker loads, rewritten for the
// configuration file at cfgPath by CarryServerState. Call it right
// before a reload, once the configuration the reload loads is installed,
// and after changing servers at runtime (so that a reload that does not
// save first starts from servers as they run). It returns what the
// rewrite changed, one note per server.
func SaveServerState(ctx context.Context, m *haproxy.Master, path, cfgPath string) ([]string, error) {
	cfg, err := os.ReadFile(cfgPath)
	if err != nil {
		return nil, fmt.Errorf("saving the servers' state: %w", err)
	}
	return saveServerState(ctx, m, path, cfg)
}

// CarryServerState rewrites saved, a server-state file (`show servers
// state` of the worker a reload replaces), for cfg, the configuration the
// reload loads. HAProxy gives each server of the new worker the port of
// its saved line whatever the configuration says, and its saved weight
// whenever the configuration's weight equals the saved initial weight: as
// saved, a server that the new file moves to another port would keep the
// old one, and one whose weight goes back to what the old worker started
// with would keep the weight set at runtime.
//
// So each saved server is carried over by this rule:
//   - not in cfg: its line is left out;
//   - at another address, port or DNS name in cfg: its line is left out,
//     and the server starts from the configuration (its health at rise,
//     not drained);
//   - in forced maintenance, or with its health checks disabled: its line
//     is left out too. hakgen's runtime path puts a server there only on
//     the way (a server added and not enabled yet, one being removed), so
//     such a line is a change cut short, and the file says what to run;
//   - with another weight in cfg: its weights become the configuration's
//     and a drain set on the CLI (`hakgen-agent drain`) is cleared: a
//     change of the server in the state ends such a drain; its health is
//     kept;
//   - otherwise its line is kept as saved: its health, and a drain set on
//     the CLI, survive the reload.
//
// The notes say what was changed, one per server.
func CarryServerState(saved, cfg []byte) ([]byte, []string, error) {
	lines := strings.Split(strings.TrimRight(string(saved), "\n"), "\n")
	if len(lines) < 2 || strings.TrimSpace(lines[0]) != "1" || !strings.HasPrefix(lines[1], "# ") {
		return nil, nil, fmt.Errorf("reading the servers' state: want format version 1 and a header, got %q", lines[0])
	}
	col, err := stateColumns(lines[1])
	if err != nil {
		return nil, nil, err
	}
	want := configServers(cfg)
	out := []string{lines[0], lines[1]}
	var notes []string
	for _, l := range lines[2:] {
		f := strings.Fields(l)
		if len(f) == 0 {
			continue
		}
		if len(f) <= col.max {
			return nil, nil, fmt.Errorf("reading the servers' state: line %q has %d fields", l, len(f))
		}
		kept, note := carry(f, col, want)
		if note != "" {
			notes = append(notes, note)
		}
		if kept != nil {
			out = append(out, strings.Join(kept, " "))
		}
	}
	return []byte(strings.Join(out, "\n") + "\n"), notes, nil
}

// carry applies CarryServerState's rule to the fields of one saved line:
// the fields to write (nil: leave the line out) and a note when changed.
func carry(f []string, col stateCols, want map[string]map[string]cfgServer) ([]string, string) {
	where := f[col.backend] + "/" + f[col.name]
	c, ok := want[f[col.backend]][f[col.name]]
	if !ok {
		return nil, where + ": not in the new configuration"
	}
	if moved := c.movedFrom(f[col.addr], f[col.fqdn], f[col.port]); moved != "" {
		return nil, where + ": " + moved + ": starts from the new configuration"
	}
	if why := unfinished(f[col.admin], f[col.check]); why != "" {
		return nil, where + ": " + why + ": starts from the new configuration"
	}
	if f[col.uweight] == strconv.Itoa(c.weight) && f[col.iweight] == strconv.Itoa(c.weight) {
		return f, ""
	}
	note := fmt.Sprintf("%s: weight %s -> %d", where, f[col.uweight], c.weight)
	f[col.uweight], f[col.iweight] = strconv.Itoa(c.weight), strconv.Itoa(c.weight)
	if admin, err := strconv.ParseUint(f[col.admin], 10, 8); err == nil && haproxy.AdminState(admin)&haproxy.AdminForcedDrain != 0 {
		f[col.admin] = strconv.FormatUint(uint64(haproxy.AdminState(admin)&^haproxy.AdminForcedDrain), 10)
		note += ", drain cleared"
	}
	return f, note
}

// Bits of srv_check_state (HAProxy's CHK_ST_*).
const (
	checkConfigured = 0x02
	checkEnabled    = 0x04
)

// unfinished says why a saved server is in a state hakgen's runtime path
// leaves it in only during a change: forced maintenance, or health checks
// configured but disabled. "" when neither.
func unfinished(admin, check string) string {
	a, err := strconv.ParseUint(admin, 10, 8)
	if err == nil && haproxy.AdminState(a)&haproxy.AdminForcedMaint != 0 {
		return "in maintenance"
	}
	c, err := strconv.Atoi(check)
	if err == nil && c&checkConfigured != 0 && c&checkEnabled == 0 {
		return "health checks disabled"
	}
	return ""
}

// stateCols are the columns of a server-state file that carry reads.
type stateCols struct {
	backend, name, addr, admin, uweight, iweight, fqdn, port, check int
	max                                                             int // the highest of them
}

func stateColumns(header string) (stateCols, error) {
	idx := map[string]int{}
	for i, name := range strings.Fields(strings.TrimPrefix(header, "#")) {
		idx[name] = i
	}
	var c stateCols
	for _, x := range []struct {
		name string
		dst  *int
	}{
		{"be_name", &c.backend}, {"srv_name", &c.name}, {"srv_addr", &c.addr}, {"srv_admin_state", &c.admin},
		{"srv_uweight", &c.uweight}, {"srv_iweight", &c.iweight}, {"srv_fqdn", &c.fqdn}, {"srv_port", &c.port},
		{"srv_check_state", &c.check},
	} {
		i, ok := idx[x.name]
		if !ok {
			return c, fmt.Errorf("reading the servers' state: no column %s in %q", x.name, header)
		}
		*x.dst = i
		c.max = max(c.max, i)
	}
	return c, nil
}

// cfgServer is what a configuration says of a server's place and weight.
type cfgServer struct {
	addr   netip.Addr // valid when given by an IP address
	host   string     // a DNS name, else empty
	port   int
	weight int
}

// movedFrom says how the server moved from its saved address (or DNS
// name) and port, or "" when it did not.
func (c cfgServer) movedFrom(addr, fqdn, port string) string {
	if c.host != "" {
		if !strings.EqualFold(fqdn, c.host) || port != strconv.Itoa(c.port) {
			return fmt.Sprintf("name %s port %s -> %s:%d", fqdn, port, c.host, c.port)
		}
		return ""
	}
	a, err := netip.ParseAddr(addr)
	if err != nil || a.Unmap() != c.addr.Unmap() || port != strconv.Itoa(c.port) {
		return fmt.Sprintf("%s port %s -> %s", addr, port, netip.AddrPortFrom(c.addr, uint16(c.port)))
	}
	return ""
}

// configServers reads the servers of every backend and listen section of
// cfg, leniently: a server line is read for its name, address and weight
// only (the last `weight` of the line, else of the default-server lines in
// effect, else 1). A line whose address cannot be read is left out.
func configServers(cfg []byte) map[string]map[string]cfgServer {
	out := map[string]map[string]cfgServer{}
	for _, s := range parseConfig(cfg).sections {
		if !s.proxy() {
			continue
		}
		servers := map[string]cfgServer{}
		var outer []line
		if s.defaults != nil {
			outer = s.defaults.lines
		}
		for _, sl := range s.servers {
			words := strings.Fields(sl.text)
			if len(words) < 3 {
				continue
			}
			var srv server
			if err := srv.setAddress(words[2]); err != nil {
				continue
			}
			c := cfgServer{addr: srv.addr.Addr(), host: srv.host, port: srv.port, weight: 1}
			for _, d := range append(defaultServerLines(outer), sl.defaultServers...) {
				c.weight = lastWeight(strings.Fields(d.text), c.weight)
			}
			c.weight = lastWeight(words[3:], c.weight)
			servers[words[1]] = c
		}
		out[s.name] = servers
	}
	return out
}

func defaultServerLines(lines []line) []line {
	var out []line
	for _, l := range lines {
		if strings.HasPrefix(l.text, "default-server ") {
			out = append(out, l)
		}
	}
	return out
}

// lastWeight is the argument of the last `weight N` among words, else def.
func lastWeight(words []string, def int) int {
	for i := 0; i+1 < len(words); i++ {
		if words[i] == "weight" {
			if n, err := strconv.Atoi(words[i+1]); err == nil {
				def = n
			}
		}
	}
	return def
}
