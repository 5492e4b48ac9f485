package lab

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/hakgen/hakgen/agent"
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
	out, err := lb.Run(ctx, AgentBin, "status")
	var ee interface{ ExitCode() int }
	if errors.As(err, &ee) {
		return ee.ExitCode(), out
	}
	if err != nil {
		return -1, err.Error()
	}
	return 0, out
}

// statsPort is the port of stats.bind in the lab's state.
const statsPort = 8404

// ServerStatus returns the status HAProxy's stats page shows for each
// server of backend (UP, DOWN, ...), asked from the private segment.
func (lb *LB) ServerStatus(ctx context.Context, backend string) (map[string]string, error) {
	tr := &http.Transport{DialContext: lb.lab.Backends.Dialer(lb.lab.Plan.ControlPlanes[0].Addr), DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	url := "http://" + net.JoinHostPort(lb.Plan.Private.String(), strconv.Itoa(statsPort)) + "/;csv"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", url, resp.Status)
	}
	return parseStatsCSV(resp.Body, backend)
}

// parseStatsCSV reads HAProxy's CSV statistics and returns the status of
// each server of backend.
func parseStatsCSV(r io.Reader, backend string) (map[string]string, error) {
	rows, err := csv.NewReader(r).ReadAll()
	if err != nil || len(rows) == 0 {
		return nil, fmt.Errorf("reading HAProxy's CSV: %v", err)
	}
	col := map[string]int{}
	for i, name := range rows[0] {
		col[strings.TrimPrefix(strings.TrimSpace(name), "# ")] = i
	}
	px, sv, st := col["pxname"], col["svname"], col["status"]
	out := map[string]string{}
	for _, row := range rows[1:] {
		if len(row) > st && row[px] == backend && row[sv] != "BACKEND" && row[sv] != "FRONTEND" {
			out[row[sv]] = row[st]
		}
	}
	return out, nil
}

// startHakgen sets both load balancers up the quick start's way: the same
// state.yaml and the token file on both, HAProxy running with Debian's
// own haproxy.cfg (as the package leaves it), then the agent, which
// writes haproxy.cfg and keepalived.conf; then keepalived on lb1 and,
// once lb1 is MASTER, on lb2.
func (l *Lab) startHakgen(ctx context.Context) error {
	hash, err := StateHash(l.State)
	if err != nil {
		return fmt.Errorf("the lab's state: %w", err)
	}
	for _, lb := range l.LBs {
		if err := lb.WriteFile(TokenPath, []byte(l.token+"\n"), 0o600); err != nil {
			return err
		}
		if err := lb.WriteState(l.State); err != nil {
			return err
		}
		if err := lb.StartHAProxy(ctx); err != nil {
			return err
		}
		if err := lb.StartAgent(l.Opts.AgentArgs...); err != nil {
			return err
		}
	}
	for _, lb := range l.LBs {
		if _, err := lb.WaitApplied(ctx, hash); err != nil {
			return err
		}
	}
	return l.startKeepalivedPair(ctx)
}

// startKeepalivedPair starts keepalived on lb1, waits until it is MASTER
// and has moved the Floating IP to itself, then starts lb2's.
func (l *Lab) startKeepalivedPair(ctx context.Context) error {
	lb1 := l.LBs[0]
	start := time.Now()
	if err := lb1.StartKeepalived(ctx); err != nil {
		return err
	}
	if _, err := lb1.WaitVRRP(ctx, start, "MASTER"); err != nil {
		return err
	}
	if err := l.waitMove(ctx, start, lb1); err != nil {
		return err
	}
	for _, lb := range l.LBs[1:] {
		if err := lb.StartKeepalived(ctx); err != nil {
			return err
		}
	}
	return nil
}

// waitMove waits for a re-routing of the Floating IP to lb from since on.
func (l *Lab) waitMove(ctx context.Context, since time.Time, lb *LB) error {
	for {
		for _, m := range l.Moves() {
			if !m.Time.Before(since) && m.Node == lb.Name && m.Err == nil {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s never assigned the Floating IP to itself: %w", lb.Name, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}
