package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/spf13/pflag"

	"github.com/hakgen/hakgen/render"
	"github.com/hakgen/hakgen/state"
)

// keepalivedOptions are render's flags for keepalived.conf.
type keepalivedOptions struct {
	on          bool
	node        string
	agent       string
	serverState string
}

func (k *keepalivedOptions) addFlags(fs *pflag.FlagSet) {
	fs.BoolVar(&k.on, "keepalived", false, "print this node's keepalived.conf instead of haproxy.cfg")
	fs.StringVar(&k.node, "node", "", "render for load balancer `NAME` (default: the one with a local address, if any)")
	addAgentPathFlag(fs, &k.agent)
	addServerStateFlag(fs, &k.serverState)
}

// addAgentPathFlag adds --agent-path, which render --keepalived and run
// share: both must write the same keepalived.conf.
func addAgentPathFlag(fs *pflag.FlagSet, p *string) {
	fs.StringVar(p, "agent-path", defaultAgentPath(), "the hakgen-agent `binary` keepalived.conf's scripts run: by default this binary when it is installed (root-owned, not in a temporary directory), else "+render.DefaultAgentPath)
}

// defaultAgentPath is the binary keepalived's scripts run: this one, when
// it is an installed hakgen-agent keepalived will accept (a regular file
// owned by root that nobody else can write, outside the temporary
// directory), else where the package installs it.
func defaultAgentPath() string {
	self, err := os.Executable()
	if err != nil {
		return render.DefaultAgentPath
	}
	if resolved, err := filepath.EvalSymlinks(self); err == nil {
		self = resolved
	}
	info, err := os.Stat(self)
	if err != nil || !info.Mode().IsRegular() || info.Mode().Perm()&0o022 != 0 || filepath.Base(self) != "hakgen-agent" {
		return render.DefaultAgentPath
	}
	if st, ok := info.Sys().(*syscall.Stat_t); !ok || st.Uid != 0 {
		return render.DefaultAgentPath
	}
	if tmp := filepath.Clean(os.TempDir()); strings.HasPrefix(self, tmp+string(filepath.Separator)) {
		return render.DefaultAgentPath
	}
	return self
}

// render renders haproxy.cfg, or keepalived.conf with --keepalived.
// statePath is the --state given ("" for the built-in example): notify
// gets it as --state unless it is the default. diff is whether --diff was
// given, which compares haproxy.cfg only.
func (k *keepalivedOptions) render(s *state.State, statePath string, diff bool) ([]byte, error) {
	if !k.on {
		return k.renderHAProxy(s)
	}
	if diff {
		return nil, usageErr("--diff compares haproxy.cfg only; it cannot be combined with --keepalived")
	}
	if err := s.CompleteForKeepalived(); err != nil {
		return nil, err
	}
	i, err := findThisNode(s, k.node)
	if err != nil {
		return nil, fmt.Errorf("%w\n(the node decides unicast_src_ip, the peers and the priority)", err)
	}
	opts := render.KeepalivedOptions{Node: s.LoadBalancers[i].Name, Agent: k.agent}
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
func (k *keepalivedOptions) renderHAProxy(s *state.State) ([]byte, error) {
	opts := render.HAProxyOptions{ServerStateFile: k.serverState}
	if len(s.LoadBalancers) == 0 {
		if k.node != "" {
			return nil, usageErr("--node %s: the state lists no loadBalancers", k.node)
		}
		return render.HAProxyWith(s, opts)
	}
	i, err := findThisNode(s, k.node)
	switch {
	case err != nil && k.node != "":
		return nil, err
	case err == nil:
		opts.Node = s.LoadBalancers[i].Name
	}
	return render.HAProxyWith(s, opts)
}
