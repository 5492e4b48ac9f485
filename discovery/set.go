// Package discovery selects backend servers by their Hetzner Cloud labels
// and hands them to the agent's reconcile, which applies them like servers
// of the state file (through HAProxy's Runtime API where it can).
//
// A Poller lists the project's servers for each selector of
// discovery.hcloud every interval, takes each running server's address in
// the configured private network, and keeps the result it last accepted:
// the discovered set. Complete merges that set into the state read from
// the file (static servers first; a static one wins over a discovered one
// of the same name). The set survives restarts in a file (DefaultPath),
// so a load balancer that boots while the API is down still routes.
//
// Safety: an API error keeps the set; a result that would remove more than
// half of a list's servers, or every control plane, is applied only once
// it has been seen on HoldPolls consecutive polls.
package discovery

import (
	"cmp"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/hakgen/hakgen/hetzner"
	"github.com/hakgen/hakgen/state"
)

// Server is one discovered server.
type Server struct {
	Name    string `json:"name"`
	Address string `json:"address"`
	ID      int64  `json:"id"` // the Hetzner server ID
}

// Set is the servers discovered for each list, sorted by name.
type Set struct {
	ControlPlanes []Server `json:"controlPlanes"`
	Workers       []Server `json:"workers"`
}

// lists are the lists discovery fills, in the order they are polled.
var lists = []string{state.ListControlPlanes, state.ListWorkers}

// of returns the servers of list.
func (s Set) of(list string) []Server {
	if list == state.ListControlPlanes {
		return s.ControlPlanes
	}
	return s.Workers
}

// with returns s with list's servers replaced by servers.
func (s Set) with(list string, servers []Server) Set {
	if list == state.ListControlPlanes {
		s.ControlPlanes = servers
	} else {
		s.Workers = servers
	}
	return s
}

// Len is the number of servers of both lists.
func (s Set) Len() int { return len(s.ControlPlanes) + len(s.Workers) }

// Equal reports whether both sets hold the same servers.
func (s Set) Equal(o Set) bool {
	return slices.Equal(s.ControlPlanes, o.ControlPlanes) && slices.Equal(s.Workers, o.Workers)
}

// Skipped is a server the selector matched that is not used, and why.
type Skipped struct {
	List   string `json:"list"`
	Name   string `json:"name"`
	ID     int64  `json:"id,omitempty"`
	Reason string `json:"reason"`
}

var dnsLabel = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// accept turns the API's servers of list into discovered servers: those
// that run and have an address in network, named by a lowercase DNS label
// (the name becomes HAProxy's server name). The others are skipped.
func accept(list string, servers []hetzner.Server, network int64, networkName string) ([]Server, []Skipped) {
	var out []Server
	var skipped []Skipped
	for _, s := range servers {
		addr, attached := s.Private[network]
		reason := ""
		switch {
		case !dnsLabel.MatchString(s.Name):
			reason = fmt.Sprintf("its name %q is not a lowercase DNS label (1-63 characters a-z, 0-9 and '-'), which HAProxy's server names here must be: rename it", clip(s.Name))
		case s.Status != "running":
			reason = fmt.Sprintf("it is %s, not running", cmp.Or(s.Status, "in no status"))
		case !attached:
			reason = fmt.Sprintf("it has no address in network %s (hcloud server attach-to-network)", networkName)
		}
		if reason != "" {
			skipped = append(skipped, Skipped{List: list, Name: clip(s.Name), ID: s.ID, Reason: reason})
			continue
		}
		out = append(out, Server{Name: s.Name, Address: addr.String(), ID: s.ID})
	}
	sortServers(out)
	return out, skipped
}

func sortServers(list []Server) {
	slices.SortFunc(list, func(a, b Server) int { return strings.Compare(a.Name, b.Name) })
}

// clip bounds a name from the API in messages.
func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

// merge returns the state to apply for s: its own servers, then the
// discovered ones of the lists it has a selector for. A discovered server
// named like a static one of its list is left out (the static entry
// wins), as is one the state would refuse; both are in skipped.
func merge(s *state.State, set Set) (*state.State, []Skipped, error) {
	d := s.HCloudDiscovery()
	if d == nil {
		return s, nil, nil
	}
	var skipped []Skipped
	found := map[string][]state.Server{}
	for _, list := range lists {
		if d.Selector(list) == "" {
			continue
		}
		static := map[string]bool{}
		for _, srv := range staticOf(s, list) {
			static[srv.Name] = true
		}
		for _, srv := range set.of(list) {
			if static[srv.Name] {
				skipped = append(skipped, Skipped{List: list, Name: srv.Name, ID: srv.ID,
					Reason: fmt.Sprintf("%s lists a server of this name: the static entry wins", list)})
				continue
			}
			found[list] = append(found[list], state.Server{Name: srv.Name, Address: srv.Address})
		}
	}
	out, rejected, err := s.WithDiscovered(found[state.ListControlPlanes], found[state.ListWorkers])
	for _, r := range rejected {
		skipped = append(skipped, Skipped{List: r.List, Name: r.Server.Name, ID: idOf(set.of(r.List), r.Server.Name),
			Reason: "the state refuses it: " + r.Reason})
	}
	return out, skipped, err
}

func staticOf(s *state.State, list string) []state.Server {
	if list == state.ListControlPlanes {
		return s.ControlPlanes
	}
	return s.Workers
}

func idOf(list []Server, name string) int64 {
	for _, s := range list {
		if s.Name == name {
			return s.ID
		}
	}
	return 0
}
