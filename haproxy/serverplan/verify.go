package serverplan

import (
	"fmt"
	"strings"

	"github.com/hakgen/hakgen/haproxy"
)

// MismatchError is a worker whose servers are not those of a
// configuration: the running one before Apply changed anything (After
// false: nothing was changed), or the new one when Apply was done.
type MismatchError struct {
	PID   int
	After bool
	Diffs []string // one per server: "kube-api/cp2: weight 3, want 1"
}

func (e *MismatchError) Error() string {
	which := "the running configuration file before any change (nothing was changed)"
	if e.After {
		which = "the new configuration file after the runtime changes"
	}
	return fmt.Sprintf("haproxy worker %d does not run the servers of %s: %s; apply the configuration with a reload",
		e.PID, which, strings.Join(e.Diffs, "; "))
}

// compare lists how the running servers of a backend differ from want:
// names, addresses and ports (a DNS name by the name HAProxy holds), weights
// in effect, and administrative state (no maintenance or drain; a server
// given by a DNS name may be in resolution maintenance, as after a start).
// A server in cliDrained may be drained on the CLI (`hakgen-agent
// drain`): that is no difference.
func compare(backend string, want []Server, running []haproxy.ServerState, cliDrained map[string]bool) []string {
	byName := make(map[string]haproxy.ServerState, len(running))
	for _, s := range running {
		byName[s.Name] = s
	}
	var diffs []string
	for _, w := range want {
		s, ok := byName[w.Name]
		delete(byName, w.Name)
		where := backend + "/" + w.Name
		if !ok {
			diffs = append(diffs, where+": not running")
			continue
		}
		if cliDrained[w.Name] {
			s.Admin &^= haproxy.AdminForcedDrain
		}
		diffs = append(diffs, serverDiffs(where, w, s)...)
	}
	for _, s := range running {
		if _, extra := byName[s.Name]; extra {
			diffs = append(diffs, fmt.Sprintf("%s/%s: running, but not in the configuration", backend, s.Name))
		}
	}
	return diffs
}

func serverDiffs(where string, w Server, s haproxy.ServerState) []string {
	var diffs []string
	admin := s.Admin
	if w.Host != "" {
		if s.FQDN != w.Host || s.Port != w.Port {
			diffs = append(diffs, fmt.Sprintf("%s: name %s port %d, want %s:%d", where, or(s.FQDN, "(none)"), s.Port, w.Host, w.Port))
		}
		admin &^= haproxy.AdminResolutionMaint
	} else if s.Addr != w.Addr.Addr() || s.Port != int(w.Addr.Port()) {
		diffs = append(diffs, fmt.Sprintf("%s: address %s port %d, want %s", where, s.Addr, s.Port, w.Addr))
	}
	if s.Weight != w.Weight {
		diffs = append(diffs, fmt.Sprintf("%s: weight %d, want %d", where, s.Weight, w.Weight))
	}
	if !admin.Ready() {
		diffs = append(diffs, fmt.Sprintf("%s: state %s, want ready", where, s.Admin))
	}
	return diffs
}

// cliDrains finds the servers of a backend drained on the CLI (forced
// drain, and no maintenance), by name.
func cliDrains(running []haproxy.ServerState) map[string]bool {
	out := map[string]bool{}
	for _, s := range running {
		if s.Admin&haproxy.AdminForcedDrain != 0 && !s.Admin.Maint() {
			out[s.Name] = true
		}
	}
	return out
}
