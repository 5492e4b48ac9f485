// Package serverplan changes the servers of a running HAProxy without a
// reload when that is all a new haproxy.cfg changes.
//
// Decide compares the running configuration with the new one: equal but
// for comments, spacing and server order (Same), different only in the
// servers of backends (ServersOnly, with a Plan of Runtime API operations),
// or different in anything else (Reload, with the reason). It is pure:
// bytes in, a decision out.
//
// Executor.Apply applies a Plan to the current worker through the Runtime
// API and then checks `show servers state` against the new configuration.
// Any failed command, mismatch or reload on the way is an error, and the
// caller then reloads: the new file, installed before Apply, is what the
// reload loads.
//
// A drained server is `weight 0` in haproxy.cfg, the only server setting
// that keeps it out of load balancing after a restart (HAProxy has no
// `drain` keyword on a server line; `weight 0` takes the server out of
// load balancing exactly as `set server ... state drain` does). The runtime
// path applies it as `set server ... weight 0`, so that a running server
// and the same server loaded from the file read the same in `show servers
// state`, and undrains by setting the weight of the file again.
package serverplan

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/hakgen/hakgen/haproxy"
)

// Kind is what a change of haproxy.cfg needs.
type Kind int

const (
	// Same: nothing to apply. The files are equal, or differ only in
	// comments, blank lines, spacing or the order of servers.
	Same Kind = iota
	// ServersOnly: only servers of backends differ; Plan applies them.
	ServersOnly
	// Reload: anything else differs; Reason says what.
	Reload
)

func (k Kind) String() string {
	switch k {
	case Same:
		return "same"
	case ServersOnly:
		return "servers-only"
	case Reload:
		return "reload"
	}
	return "kind-" + strconv.Itoa(int(k))
}

// Decision is what Decide found.
type Decision struct {
	Kind   Kind
	Reason string // Reload: the first difference that needs a reload
	Plan   Plan   // ServersOnly: the operations, never empty
}

// Plan is the runtime operations that turn the servers of the running
// configuration into those of the new one.
type Plan struct {
	Backends []BackendChange // backends with a change, in configuration order
}

// BackendChange is what changes in one backend.
type BackendChange struct {
	Backend string
	Add     []Server // servers to create, in configuration order
	Update  []Update // servers whose address, port or weight changes
	Remove  []Server // servers to delete, as they run
	// Before and After are every server of the backend in the running and
	// in the new configuration. Apply checks the worker against Before
	// before it changes anything, and against After when it is done.
	Before, After []Server
}

// Server is a server as a configuration file defines it.
type Server struct {
	Name string
	// Addr is the address and port; invalid when the server is given by a
	// DNS name (then Host and Port are set). Only servers that a plan does
	// not change may be given by name.
	Addr   netip.AddrPort
	Host   string
	Port   int
	Weight int  // the weight in effect: `weight`, else 1; 0 for a drained server
	Check  bool // health-checked (`check` in effect)
	// Keywords, on the servers of BackendChange.Add only, are the words
	// after the address of `add server`: every keyword of the server line,
	// then the default-server keywords it does not override (a dynamic
	// server inherits none), `weight` included, resolution keywords
	// (init-addr, resolvers, ...) left out: add server refuses them, and
	// they do nothing for an IP address.
	Keywords []string
}

// Update is one server whose address, port or weight changes.
type Update struct {
	Name          string
	Before, After Server
}

// Empty reports whether the plan has no operation.
func (p Plan) Empty() bool { return len(p.Backends) == 0 }

// String summarizes the plan for a log line: "kube-api: +cp4 -cp1
// cp2 addr 10.0.0.12:6443->10.0.0.22:6443 cp3 weight 1->0".
func (p Plan) String() string {
	var parts []string
	for _, b := range p.Backends {
		var ops []string
		for _, s := range b.Add {
			ops = append(ops, "+"+s.Name)
		}
		for _, s := range b.Remove {
			ops = append(ops, "-"+s.Name)
		}
		for _, u := range b.Update {
			if u.Before.Addr != u.After.Addr {
				ops = append(ops, fmt.Sprintf("%s addr %s->%s", u.Name, u.Before.Addr, u.After.Addr))
			}
			if u.Before.Weight != u.After.Weight {
				ops = append(ops, fmt.Sprintf("%s weight %d->%d", u.Name, u.Before.Weight, u.After.Weight))
			}
		}
		parts = append(parts, b.Backend+": "+strings.Join(ops, " "))
	}
	return strings.Join(parts, "; ")
}

// Commands lists the Runtime API commands Apply sends for the plan, in
// order. Not listed: the reads and waits between them, the `shutdown
// sessions server` a removed server gets when its sessions outlast
// Executor.RemoveGrace, and the `set server ... state ready` that ends a
// drain set on the CLI on a server the plan updates.
func (p Plan) Commands() []haproxy.Command {
	var out []haproxy.Command
	for _, phase := range [][]haproxy.Command{p.addCommands(), p.updateCommands(), p.drainCommands(), p.maintCommands(), p.delCommands()} {
		out = append(out, phase...)
	}
	return out
}
