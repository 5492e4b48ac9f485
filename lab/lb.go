package lab

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"time"

	"github.com/hakgen/hakgen/agent"
	"github.com/hakgen/hakgen/failover"
	"github.com/hakgen/hakgen/state"
)

// Paths on a load balancer: the defaults of hakgen, and of Debian's
// haproxy and keepalived units.
const (
	StatePath      = "/etc/hakgen/state.yaml"
	TokenPath      = "/etc/hakgen/hcloud-token"
	StatusPath     = "/run/hakgen/status.json"
	AgentBin       = "/usr/bin/hakgen-agent"
	HAProxyConfig  = "/etc/haproxy/haproxy.cfg"
	MasterSocket   = "/run/haproxy-master.sock"
	KeepalivedConf = "/etc/keepalived/keepalived.conf"
)

// startupTimeout bounds the start of one service (an upper bound).
const startupTimeout = 20 * time.Second

// LB is one load balancer: a Node with a VM's filesystem, running
// Debian's HAProxy and keepalived (and, the hakgen way, hakgen-agent).
type LB struct {
	*Node
	Plan LBPlan
	lab  *Lab

	HAProxy, Keepalived, Agent *Proc
}

// StartHAProxy starts HAProxy as Debian's haproxy.service does:
// master-worker, with the master socket.
func (lb *LB) StartHAProxy(ctx context.Context) error {
	p, err := lb.Start("haproxy", nil, lb.lab.tools.HAProxy, "-Ws", "-f", HAProxyConfig, "-p", "/run/haproxy.pid", "-S", MasterSocket)
	if err != nil {
		return err
	}
	lb.HAProxy = p
	return lb.waitFor(ctx, "HAProxy's master socket", p, func() bool {
		_, err := os.Stat(lb.Path(MasterSocket))
		return err == nil
	})
}

// StartKeepalived starts keepalived as Debian's keepalived.service does,
// with the fake API's endpoints in its environment, which it passes on to
// its notify scripts.
func (lb *LB) StartKeepalived(ctx context.Context) error {
	p, err := lb.Start("keepalived", lb.lab.APIEnv(), lb.lab.tools.Keepalived, "--dont-fork")
	if err != nil {
		return err
	}
	lb.Keepalived = p
	return lb.waitFor(ctx, "keepalived's pid file", p, func() bool {
		_, err := os.Stat(lb.Path("/run/keepalived.pid"))
		return err == nil
	})
}

// StartAgent starts `hakgen-agent run` with its defaults and args, with
// the fake API's endpoints in its environment.
func (lb *LB) StartAgent(args ...string) error {
	p, err := lb.Start("agent", lb.lab.APIEnv(), append([]string{AgentBin, "run"}, args...)...)
	if err != nil {
		return err
	}
	lb.Agent = p
	return nil
}

// waitFor polls ready until it holds, p exits or ctx ends.
func (lb *LB) waitFor(ctx context.Context, what string, p *Proc, ready func() bool) error {
	ctx, cancel := context.WithTimeout(ctx, startupTimeout)
	defer cancel()
	for !ready() {
		if !p.Running() {
			return fmt.Errorf("%s: %s exited before %s appeared", lb.Name, p.Name, what)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: no %s: %w", lb.Name, what, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}

// vrrpState matches keepalived's state changes, e.g. "(hakgen-prod)
// Entering MASTER STATE".
var vrrpState = regexp.MustCompile(`\) Entering (MASTER|BACKUP|FAULT) STATE`)

// keepalivedSource is the syslog identifier of keepalived's VRRP process.
const keepalivedSource = "Keepalived_vrrp"

// WaitVRRP waits for keepalived to enter state (MASTER, BACKUP or FAULT)
// from since on, and returns when it logged it.
func (lb *LB) WaitVRRP(ctx context.Context, since time.Time, state string) (time.Time, error) {
	re := regexp.MustCompile(`\) Entering ` + state + ` STATE`)
	e, err := lb.Journal.Wait(ctx, since, keepalivedSource, re)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s never entered %s: %w", lb.Name, state, err)
	}
	return e.Time, nil
}

// VRRPStates returns keepalived's state changes from since on.
func (lb *LB) VRRPStates(since time.Time) []Entry {
	var out []Entry
	for _, e := range lb.Journal.Entries(since, keepalivedSource) {
		if m := vrrpState.FindStringSubmatch(e.Text); m != nil {
			out = append(out, Entry{Time: e.Time, Source: e.Source, Text: m[1]})
		}
	}
	return out
}

// ReadState reads the load balancer's state.yaml.
func (lb *LB) ReadState() ([]byte, error) { return lb.ReadFile(StatePath) }

// WriteState saves the load balancer's state.yaml as an editor does.
func (lb *LB) WriteState(data []byte) error { return lb.WriteFile(StatePath, data, 0o644) }

// Status reads the agent's status file.
func (lb *LB) Status() (*agent.Status, error) { return agent.ReadStatus(lb.Path(StatusPath)) }

// HealCheck reads the agent's healer's last check (the zero value before
// its first).
func (lb *LB) HealCheck() (failover.HealCheck, error) {
	return failover.NewStore(lb.Path(failover.DefaultStateDir)).Heal()
}

// StateHash is the hash the agent reports for state.yaml bytes.
func StateHash(data []byte) (string, error) {
	s, _, err := state.Parse(StatePath, data)
	if err != nil {
		return "", err
	}
	return s.Hash(), nil
}

// WaitApplied waits until the agent has applied the state whose hash is
// hash, every target loaded, and returns when that reconcile ended (by the
// agent's own clock, which is the lab's).
func (lb *LB) WaitApplied(ctx context.Context, hash string) (time.Time, error) {
	var last error
	for {
		st, err := lb.Status()
		switch {
		case err != nil:
			last = err
		case st.AppliedHash != hash:
			last = fmt.Errorf("applied %.12s, want %.12s (last reconcile: %+v)", st.AppliedHash, hash, st.Last)
		case pending(st):
			last = errors.New("a target is still pending")
		case st.Last != nil && st.Last.At.Equal(st.AppliedAt):
			return st.UpdatedAt, nil // the applying reconcile was the last one
		default:
			return time.Now(), nil // applied by an earlier reconcile: seen now
		}
		if lb.Agent != nil && !lb.Agent.Running() {
			return time.Time{}, fmt.Errorf("%s: the agent exited: %v", lb.Name, last)
		}
		select {
		case <-ctx.Done():
			return time.Time{}, fmt.Errorf("%s: state %.12s not applied: %v: %w", lb.Name, hash, last, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func pending(st *agent.Status) bool {
	for _, t := range st.Targets {
		if t.Pending {
			return true
		}
	}
	return false
}

// AgentStatus runs `hakgen-agent status` in the node and returns its exit
// code and output.
func (lb *LB) AgentStatus(ctx context.Context) (int, string) {
	return exitCode(lb.Run(ctx, AgentBin, "status"))
}

// exitCode is a command's exit code and output, from Run's results.
func exitCode(out string, err error) (int, string) {
	var ee interface{ ExitCode() int }
	if errors.As(err, &ee) {
		return ee.ExitCode(), out
	}
	if err != nil {
		return -1, err.Error()
	}
	return 0, out
}
