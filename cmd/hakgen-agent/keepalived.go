package main

import (
	"flag"
	"fmt"
	"path/filepath"

	"github.com/hakgen/hakgen/render"
	"github.com/hakgen/hakgen/state"
)

// keepalivedFlags are render's flags for keepalived.conf.
type keepalivedFlags struct {
	on    *bool
	node  *string
	agent *string
}

// addKeepalivedFlags adds --keepalived, --node and --agent-path to render.
func addKeepalivedFlags(fs *flag.FlagSet) *keepalivedFlags {
	return &keepalivedFlags{
		on:    fs.Bool("keepalived", false, "print this node's keepalived.conf instead of haproxy.cfg"),
		node:  fs.String("node", "", "render for load balancer `NAME` (default: the one with a local address, if any)"),
		agent: fs.String("agent-path", render.DefaultAgentPath, "with --keepalived: the hakgen-agent `binary` keepalived's scripts run"),
	}
}

// render renders haproxy.cfg, or keepalived.conf with --keepalived.
// statePath is the --state given ("" for the built-in example): notify
// gets it as --state unless it is the default. diff is whether --diff was
// given, which compares haproxy.cfg only.
func (k *keepalivedFlags) render(s *state.State, statePath string, diff bool) ([]byte, error) {
	if !*k.on {
		return k.renderHAProxy(s)
	}
	if diff {
		return nil, usageErr("--diff compares haproxy.cfg only; it cannot be combined with --keepalived")
	}
	if err := s.CompleteForKeepalived(); err != nil {
		return nil, err
	}
	i, err := findThisNode(s, *k.node)
	if err != nil {
		return nil, fmt.Errorf("%w\n(the node decides unicast_src_ip, the peers and the priority)", err)
	}
	opts := render.KeepalivedOptions{Node: s.LoadBalancers[i].Name, Agent: *k.agent}
	if statePath != "" {
		abs, err := filepath.Abs(statePath)
		if err != nil {
			return nil, envErr(err)
		}
		if abs != DefaultStatePath {
			opts.StatePath = abs
		}
	}
	return render.Keepalived(s, opts)
}

// renderHAProxy renders haproxy.cfg for this node (--node, else the load
// balancer with a local address), so that --diff on each node compares
// with what its agent installs; on a machine that is no load balancer, as
// written.
func (k *keepalivedFlags) renderHAProxy(s *state.State) ([]byte, error) {
	if len(s.LoadBalancers) == 0 {
		if *k.node != "" {
			return nil, usageErr("--node %s: the state lists no loadBalancers", *k.node)
		}
		return render.HAProxy(s)
	}
	i, err := findThisNode(s, *k.node)
	switch {
	case err != nil && *k.node != "":
		return nil, err
	case err != nil:
		return render.HAProxy(s)
	}
	return render.HAProxyFor(s, s.LoadBalancers[i].Name)
}
