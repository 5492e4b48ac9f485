package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync/atomic"

	"go.uber.org/zap"

	"github.com/hakgen/hakgen/agent"
	"github.com/hakgen/hakgen/failover"
	"github.com/hakgen/hakgen/haproxy"
	"github.com/hakgen/hakgen/haproxy/serverplan"
	"github.com/hakgen/hakgen/keepalived"
	"github.com/hakgen/hakgen/render"
	"github.com/hakgen/hakgen/state"
	"github.com/hakgen/hakgen/systemd"
	"github.com/spf13/pflag"
)

// Defaults of the keepalived target of `run`.
const (
	DefaultKeepalivedConfig   = "/etc/keepalived/keepalived.conf"
	DefaultKeepalivedLastGood = "/var/lib/hakgen/keepalived.conf.last-good"
	DefaultKeepalivedUnit     = "keepalived.service"
	DefaultKeepalivedPidFile  = "/run/keepalived.pid" // Debian's keepalived.service
)

// thisNode is the name of this machine in the state's loadBalancers: the
// one named by --node, else the one with a local address; "" when the
// state lists no load balancers.
func thisNode(s *state.State, flagNode string) (string, error) {
	if len(s.LoadBalancers) == 0 {
		return "", nil
	}
	i, err := findThisNode(s, flagNode)
	if err != nil && flagNode == "" {
		// At boot the private address may come up after the agent.
		return "", fmt.Errorf("%w: %w", agent.ErrNotReady, err)
	}
	if err != nil {
		return "", err
	}
	return s.LoadBalancers[i].Name, nil
}

// haproxyRender renders haproxy.cfg for this node, naming serverState as
// its server-state file.
func haproxyRender(flagNode, serverState string) func(*state.State) ([]byte, error) {
	return func(s *state.State) ([]byte, error) {
		node, err := thisNode(s, flagNode)
		if err != nil {
			return nil, err
		}
		return render.HAProxyWith(s, render.HAProxyOptions{Node: node, ServerStateFile: serverState})
	}
}

// haproxyRuntime is haproxy.cfg's runtime path: a new file that changes
// only servers is applied through the master CLI at --master-socket, with
// no reload, and the server-state file saved after it. --reload none has
// none: the agent must not touch the running HAProxy then.
func haproxyRuntime(o runOptions, log *zap.Logger) agent.Runtime {
	if reloadMethod(o.reload) == reloadNone {
		return nil
	}
	return serverplan.Updater{Master: haproxy.NewMaster(o.socket), StateFile: o.serverState, Log: log.Named("runtime")}
}

// addServerStateFlag adds --server-state-file, which run and render share:
// both must write the same haproxy.cfg.
// The path is made absolute: HAProxy resolves the one haproxy.cfg names
// from its own working directory, not the agent's.
func addServerStateFlag(fs *pflag.FlagSet, p *string) {
	*p = render.ServerStateFile
	fs.Var((*absPath)(p), "server-state-file", "the `FILE` haproxy.cfg keeps its servers' state in across reloads (saved by run right before each reload)")
}

// absPath is a flag value holding an absolute path.
type absPath string

func (a *absPath) String() string { return string(*a) }
func (a *absPath) Type() string   { return "string" }
func (a *absPath) Set(v string) error {
	if v == "" {
		return fmt.Errorf("an empty path")
	}
	abs, err := filepath.Abs(v)
	if err != nil {
		return err
	}
	*a = absPath(abs)
	return nil
}

// keepalivedRender renders this node's keepalived.conf, or reports the
// file unmanaged when the state has no keepalived section.
func keepalivedRender(flagNode, statePath, stateDir, agentPath string) func(*state.State) ([]byte, error) {
	// keepalived runs notify from /: paths it is given must be absolute.
	passState, passDir := notifyStatePath(statePath), ""
	if abs, err := filepath.Abs(stateDir); err == nil && abs != failover.DefaultStateDir {
		passDir = abs
	}
	return func(s *state.State) ([]byte, error) {
		if s.Keepalived == nil {
			return nil, agent.ErrNotManaged
		}
		node, err := thisNode(s, flagNode)
		if err != nil {
			return nil, err
		}
		return render.Keepalived(s, render.KeepalivedOptions{Node: node, Agent: agentPath, StatePath: passState, StateDir: passDir})
	}
}

// keepalivedTarget is keepalived.conf, checked with `keepalived -t` and
// reloaded through systemd. keepalived is never started by the agent: an
// operator may have stopped it on purpose, to move the Floating IP away.
func keepalivedTarget(ctx context.Context, o runOptions, log *zap.Logger) (agent.Target, func(), error) {
	t := agent.Target{
		Name: "keepalived", Path: o.kaConfig, LastGood: o.kaLastGood, Perm: 0o644,
		Render:   keepalivedRender(o.node, o.state, o.stateDir, o.agentPath),
		Checker:  keepalived.Checker{Bin: o.kaBin},
		Reloader: agent.NoReload{},
	}
	if o.kaBin == "" {
		t.Checker = keepalived.Checker{Bin: defaultKeepalivedBin}
		t.Render = unlessMissing(t.Render, log)
	}
	if reloadMethod(o.reload) != reloadSystemd {
		log.Info("keepalived.conf is installed but keepalived is not reloaded without --reload systemd")
		return t, func() {}, nil
	}
	cctx, cancel := context.WithTimeout(ctx, systemd.DefaultConnectTimeout)
	defer cancel()
	r, err := systemd.NewReloader(cctx, systemd.Options{Unit: o.kaUnit, NoStart: true}, log.Named("keepalived"))
	if err != nil {
		return agent.Target{}, nil, envErr(fmt.Errorf("--reload systemd for %s: %w", o.kaUnit, err))
	}
	t.Reloader = r
	return t, r.Close, nil
}

// defaultKeepalivedBin is where Debian's keepalived package puts it.
var defaultKeepalivedBin = keepalived.DefaultBin

// unlessMissing manages keepalived.conf only while keepalived is installed
// (at its default path; --keepalived-bin names one that must exist), as
// validate does: the package only recommends keepalived, and a state is
// applied whole, so a missing keepalived would otherwise hold haproxy.cfg
// back forever. That is said once, and again once keepalived is back.
func unlessMissing(render func(*state.State) ([]byte, error), log *zap.Logger) func(*state.State) ([]byte, error) {
	var missing atomic.Bool
	return func(s *state.State) ([]byte, error) {
		if s.Keepalived == nil {
			return render(s)
		}
		_, err := os.Stat(defaultKeepalivedBin)
		gone := errors.Is(err, fs.ErrNotExist)
		if missing.Swap(gone) != gone {
			if gone {
				log.Warn("keepalived is not installed: keepalived.conf is left alone, and this node cannot fail over, until it is",
					zap.String("binary", defaultKeepalivedBin))
			} else {
				log.Info("keepalived is installed: keepalived.conf is managed again", zap.String("binary", defaultKeepalivedBin))
			}
		}
		if gone {
			return nil, agent.ErrNotManaged
		}
		return render(s)
	}
}

// reloadMethod is --reload with its default filled in.
func reloadMethod(flag string) string {
	if flag != "" {
		return flag
	}
	if _, err := os.Stat(systemdRunDir); err == nil {
		return reloadSystemd
	}
	return reloadMaster
}
