package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"go.uber.org/zap"

	"github.com/hakgen/hakgen/failover"
	"github.com/hakgen/hakgen/hetzner"
	"github.com/hakgen/hakgen/render"
	"github.com/hakgen/hakgen/state"
)

const drillLong = `
Rehearses a failover on the MASTER, measured as a client sees it. drill
refuses unless keepalived runs here and this node is MASTER, the Floating
IP is on its interface and the API says it points here, a peer's HAProxy
answers its /healthz, and a TLS connection to the Floating IP's API port
is answered. Then it sets the maintenance flag (/run/hakgen/maintenance,
a track_file of keepalived.conf that the check honours too): this node
goes FAULT at once and its peer takes over. drill waits until the API
says the peer holds the Floating IP and a new connection through it is
answered, prints the times from setting the flag (detection: the
Floating IP left this node; assign: the API says the peer holds it;
route: a connection is answered; total), and clears the flag.

The Floating IP stays on the peer afterwards: keepalived does not preempt,
since a move back would cut every connection a second time. To move it
back, run drill --back on the node that holds it now. Whatever happens,
drill clears the flag before it exits (on SIGINT and SIGTERM too); if the
peer has not taken over within --timeout, it clears the flag at once and
this node becomes MASTER again.

With several VRRP instances (floatingIPs with preferred nodes), drill
measures the first Floating IP of an instance this node is MASTER of (with
--back: of one it holds without being its preferred node); the flag moves
every instance of this node. --instance NAME sets that instance's own flag
instead (/run/hakgen/maintenance-NAME): only it moves to the peer. That is
how an instance goes back to its preferred node after a failover, or after
one node started alone and took them all: on the node that holds it,
hakgen-agent drill --instance NAME.`

const drillExitCodes = `Exit codes of drill:
  0  the peer took over; the figures are printed
  1  the peer did not take over in time (the flag is cleared), or the state cannot be read
  2  usage error
  3  environment problem
  4  refused: this node is not the MASTER, no peer is healthy, or nothing answers`

// exitRefused is drill's exit code when it does not start.
const exitRefused = 4

// drillOptions are the flags of drill.
type drillOptions struct {
	state, node, stateDir, kaPidFile, probe, instance string
	back, json                                        bool
	timeout                                           time.Duration
}

func (o *drillOptions) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.state, "state", DefaultStatePath, "desired-state `FILE`")
	fs.StringVar(&o.node, "node", "", "this node's `NAME` in loadBalancers (default: the one with a local address)")
	fs.StringVar(&o.stateDir, "state-dir", failover.DefaultStateDir, "`DIR` of notify's records and the maintenance flag")
	fs.StringVar(&o.kaPidFile, "keepalived-pid-file", DefaultKeepalivedPidFile, "keepalived's pid `FILE`")
	fs.StringVar(&o.probe, "probe", "", "`ADDRESS:PORT` a client connects to with TLS (default: the Floating IP and apiServer.port)")
	fs.BoolVar(&o.back, "back", false, "move the Floating IP back to the preferred master (the first of loadBalancers), from the node that holds it after a drill")
	fs.StringVar(&o.instance, "instance", "", "hand only this VRRP `NAME` to the peer, by its own maintenance flag (a pair with several instances, e.g. hakgen-prod-lb2)")
	fs.BoolVar(&o.json, "json", false, "print the figures as JSON")
	fs.DurationVar(&o.timeout, "timeout", 30*time.Second, "give the peer this long to take over")
}

func newDrillCommand(e *env) *cobra.Command {
	o := &drillOptions{}
	cmd := &cobra.Command{
		Use:     "drill",
		Short:   "rehearse a failover from this MASTER to its peer, and measure it",
		Long:    drillLong,
		Example: "  hakgen-agent drill            # on the MASTER (lb1)\n  hakgen-agent drill --back     # later, on lb2, which holds the Floating IP now",
		Annotations: map[string]string{annotationSynopsis: "hakgen-agent drill [--back] [--state FILE] [--node NAME] [--timeout DURATION] [--json]",
			annotationExitCodes: drillExitCodes},
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return o.run(cmd.Context(), e) },
	}
	e.bindFlags(cmd, o)
	return cmd
}

// DrillResult is what a drill measured, each time from the moment the
// maintenance flag was set.
type DrillResult struct {
	From       string    `json:"from"`
	To         string    `json:"to"`
	ToServerID int64     `json:"toServerID"`
	Probe      string    `json:"probe"`
	StartedAt  time.Time `json:"startedAt"`
	// DetectionMs: the Floating IP left this node's interface.
	DetectionMs float64 `json:"detectionMs"`
	// AssignMs: the API first said the peer holds the Floating IP (read
	// every 200 ms).
	AssignMs float64 `json:"assignMs"`
	// RouteMs: the first new connection after detection was answered.
	RouteMs float64 `json:"routeMs"`
	// TotalMs is the longest of the three: the client's outage.
	TotalMs float64 `json:"totalMs"`
	// APIRequests is how many requests the drill made.
	APIRequests int `json:"apiRequests"`
}

// drillPoll is how often drill reads the Floating IP's owner from the API.
const drillPoll = 200 * time.Millisecond

// probeEvery is how often drill opens a connection to the probe address.
const probeEvery = 50 * time.Millisecond

func (o *drillOptions) run(ctx context.Context, e *env) error {
	if o.timeout <= 0 {
		return usageErr("--timeout must be positive")
	}
	s, err := loadStateFor(ctx, o.state, e.stderr, state.LoadSkippingSecrets)
	if err != nil {
		return err
	}
	if err := s.CompleteForKeepalived(); err != nil {
		return fmt.Errorf("drill rehearses a failover of a pair: %w", err)
	}
	me, err := findThisNode(s, o.node)
	if err != nil {
		return err
	}
	d, err := o.prepare(ctx, s, me)
	if err != nil {
		return err
	}
	// A drill holds this node out of MASTER until it clears the flag: a
	// hang-up (the operator's SSH session lost) ends it like an interrupt,
	// never by the default action, which would leave the flag set.
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGHUP)
	defer stop()
	res, err := d.run(ctx, e)
	if err != nil {
		return err
	}
	if o.json {
		out, _ := json.MarshalIndent(res, "", "  ")
		fmt.Fprintf(e.stdout, "%s\n", out)
		return nil
	}
	fmt.Fprintf(e.stdout, "detection %6.0f ms  the Floating IP left %s\n", res.DetectionMs, res.From)
	fmt.Fprintf(e.stdout, "assign    %6.0f ms  the API says %s holds it\n", res.AssignMs, res.To)
	fmt.Fprintf(e.stdout, "route     %6.0f ms  a new connection to %s is answered\n", res.RouteMs, res.Probe)
	fmt.Fprintf(e.stdout, "total     %6.0f ms  (%d API requests)\n", res.TotalMs, res.APIRequests)
	switch {
	case o.instance != "":
		fmt.Fprintf(e.stdout, "%s is on %s now; this node is BACKUP of it\n", o.instance, res.To)
	case o.back:
		fmt.Fprintf(e.stdout, "the Floating IP is back on %s\n", res.To)
	default:
		fmt.Fprintf(e.stdout, "the Floating IP stays on %s (no preemption: a move back would cut connections again); to move it back, on %s: hakgen-agent drill --back\n", res.To, res.To)
	}
	return nil
}

// drill is one prepared rehearsal.
type drill struct {
	o        *drillOptions
	me       string
	fip      netip.Addr
	fipID    int64
	serverID int64
	peers    map[int64]string // the peers' server IDs, where the state has them
	probe    string
	flag     failover.TrackFile
	api      *tokenClient
	requests int
}

func refused(format string, args ...any) error {
	return &exitError{exitRefused, fmt.Errorf(format, args...)}
}

// prepare checks that this node may be drilled: keepalived runs, it is
// MASTER, the Floating IP is here and points here, a peer is healthy.
func (o *drillOptions) prepare(ctx context.Context, s *state.State, i int) (*drill, error) {
	me := s.LoadBalancers[i]
	in, f, err := o.drilled(s, i)
	if err != nil {
		return nil, err
	}
	of := ""
	if len(s.VRRPInstances()) > 1 {
		of = " of " + in.Name
	}
	if o.back && in.Rank(i) == 0 {
		return nil, refused("%s is the preferred master%s: --back moves the Floating IP back to it; run drill --back on the node that holds the Floating IP", me.Name, of)
	}
	fip := netip.MustParseAddr(f.Address).Unmap()
	flagFile := render.MaintenanceFileName
	if o.instance != "" {
		flagFile = render.InstanceMaintenanceFile(in.Name)
	}
	d := &drill{o: o, me: me.Name, fip: fip, fipID: f.ID, peers: map[int64]string{},
		probe: cmpOr(o.probe, net.JoinHostPort(fip.String(), strconv.Itoa(s.APIServer.Port))),
		flag:  failover.TrackFile{Path: filepath.Join(o.stateDir, flagFile)}}
	if down, err := d.flag.Down(); err != nil || down {
		return nil, refused("the maintenance flag %s is set already: another drill runs, or one was interrupted (echo 0 > %s)", d.flag.Path, d.flag.Path)
	}
	if err := keepalivedRuns(o.kaPidFile); err != nil {
		return nil, refused("%v", err)
	}
	if rec, err := failover.NewStore(o.stateDir).LatestFor(healInstance(s, in)); err != nil || rec.State != failover.Master {
		return nil, refused("%s is not MASTER%s (keepalived last reported %q here): run drill on the MASTER", me.Name, of, rec.State)
	}
	if local, err := state.LocalAddrs(); err != nil || !slices.Contains(local, fip) {
		return nil, refused("the Floating IP %s is not on this node: keepalived is not MASTER here", fip)
	}
	healthy := false
	for j, lb := range s.LoadBalancers {
		if j == i {
			continue
		}
		if lb.ServerID > 0 {
			d.peers[lb.ServerID] = lb.Name
		}
		if stats, ok := s.NodeStatsURL(lb.Name); ok && failover.AskPeer(ctx, stats) == failover.PeerHealthy {
			healthy = true
		}
	}
	if !healthy {
		return nil, refused("no peer's HAProxy answers its /healthz: a drill would leave no node to take over")
	}
	eps, err := hetzner.EndpointsFromEnv(os.Getenv)
	if err != nil {
		return nil, envErr(err)
	}
	d.api = &tokenClient{tokenFile: tokenFileOf(s), endpoint: eps.API, log: zap.NewNop()}
	d.serverID = me.ServerID
	if d.serverID == 0 {
		if d.serverID, err = hetzner.NewServerIDSource(eps.Metadata, o.stateDir, zap.NewNop()).ServerID(ctx); err != nil {
			return nil, envErr(err)
		}
	}
	owner, err := d.owner(ctx)
	if err != nil {
		return nil, envErr(fmt.Errorf("reading the Floating IP's owner: %w", err))
	}
	if owner != d.serverID {
		return nil, refused("the API says the Floating IP points to server %d, not to this one (%d): let the healer or notify put it here first", owner, d.serverID)
	}
	if err := answered(ctx, d.probe); err != nil {
		return nil, refused("a connection to %s is not answered before the drill (%v): nothing to measure", d.probe, err)
	}
	return d, nil
}

// drilled picks the Floating IP a drill measures: the first (an IPv4 one
// when there is one) of the first VRRP instance this node is MASTER of;
// with --back, of one it holds without being its preferred node. The
// maintenance flag moves every instance of this node all the same.
func (o *drillOptions) drilled(s *state.State, me int) (state.VRRPInstance, state.InstanceFloatingIP, error) {
	store := failover.NewStore(o.stateDir)
	ins := s.VRRPInstances()
	if o.instance != "" {
		in, ok := s.Instance(o.instance)
		switch {
		case len(ins) == 1:
			return in, state.InstanceFloatingIP{}, usageErr("--instance: the pair has one VRRP instance; drill without --instance moves it")
		case !ok:
			return in, state.InstanceFloatingIP{}, usageErr("--instance: %q is no VRRP instance of the state (it has %s)", o.instance, strings.Join(s.InstanceNames(), ", "))
		case len(in.FloatingIPs) == 0:
			return in, state.InstanceFloatingIP{}, refused("%s has no Floating IP for drill to measure", in.Name)
		}
		ins = []state.VRRPInstance{in}
	}
	for _, in := range ins {
		if len(in.FloatingIPs) == 0 || (o.back && in.Rank(me) == 0 && len(ins) > 1) {
			continue
		}
		if rec, err := store.LatestFor(healInstance(s, in)); err == nil && rec.State == failover.Master || len(ins) == 1 {
			f := in.FloatingIPs[0]
			for _, g := range in.FloatingIPs {
				if !g.IPv6() {
					f = g
					break
				}
			}
			return in, f, nil
		}
	}
	return state.VRRPInstance{}, state.InstanceFloatingIP{}, refused("%s is MASTER of no VRRP instance with a Floating IP (instances: %s): run drill on a MASTER", s.LoadBalancers[me].Name, strings.Join(s.InstanceNames(), ", "))
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func (d *drill) owner(ctx context.Context) (int64, error) {
	d.requests++
	return d.api.Owner(ctx, d.fipID)
}

// answered opens a TLS connection to addr and completes the handshake:
// through HAProxy's passthrough, an API server answered.
func answered(ctx context.Context, addr string) error {
	dialer := &tls.Dialer{NetDialer: &net.Dialer{Timeout: time.Second},
		Config: &tls.Config{InsecureSkipVerify: true, ServerName: "kubernetes"}} //nolint:gosec // only whether it answers counts
	cctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	c, err := dialer.DialContext(cctx, "tcp", addr)
	if err != nil {
		return err
	}
	return c.Close()
}

// run sets the flag, measures and clears the flag.
func (d *drill) run(ctx context.Context, e *env) (DrillResult, error) {
	res := DrillResult{From: d.me, Probe: d.probe}
	ctx, cancel := context.WithTimeout(ctx, d.o.timeout)
	defer cancel()

	probes := newProber(ctx, d.probe)
	res.StartedAt = time.Now()
	if err := d.flag.Set(false); err != nil {
		return res, envErr(err)
	}
	defer func() {
		if err := d.flag.Set(true); err != nil {
			fmt.Fprintf(e.stderr, "hakgen-agent drill: cannot clear the maintenance flag: %v (echo 0 > %s)\n", err, d.flag.Path)
		}
	}()
	fmt.Fprintf(e.stderr, "%s: maintenance flag set; waiting for the peer to take over\n", d.me)
	since := func() float64 { return float64(time.Since(res.StartedAt).Microseconds()) / 1000 }

	detected := make(chan time.Time, 1)
	go func() {
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			if local, err := state.LocalAddrs(); err == nil && !slices.Contains(local, d.fip) {
				detected <- time.Now()
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	var detectedAt time.Time
	select {
	case detectedAt = <-detected:
		res.DetectionMs = float64(detectedAt.Sub(res.StartedAt).Microseconds()) / 1000
	case <-ctx.Done():
		return res, d.gaveUp(ctx, "this node did not leave MASTER: is the maintenance track_file in keepalived.conf (render --keepalived)?")
	}

	for res.AssignMs == 0 {
		owner, err := d.owner(ctx)
		switch {
		case err == nil && owner != d.serverID:
			res.AssignMs, res.ToServerID = since(), owner
			res.To = d.peers[owner]
			if res.To == "" {
				res.To = "server " + strconv.FormatInt(owner, 10)
			}
		case ctx.Err() != nil:
			return res, d.gaveUp(ctx, "the API still says the Floating IP points here")
		default:
			select {
			case <-ctx.Done():
			case <-time.After(drillPoll):
			}
		}
	}

	at, err := probes.firstAfter(ctx, detectedAt)
	if err != nil {
		return res, d.gaveUp(ctx, fmt.Sprintf("no connection to %s was answered after the Floating IP moved", d.probe))
	}
	res.RouteMs = float64(at.Sub(res.StartedAt).Microseconds()) / 1000
	res.TotalMs = max(res.DetectionMs, res.AssignMs, res.RouteMs)
	res.APIRequests = d.requests
	return res, nil
}

// gaveUp is the error of a drill that ran out of time (or was
// interrupted); the deferred clear puts this node back in the running.
func (d *drill) gaveUp(ctx context.Context, what string) error {
	if errors.Is(ctx.Err(), context.Canceled) {
		return fmt.Errorf("drill interrupted; the maintenance flag is cleared")
	}
	return fmt.Errorf("%s within %s; the maintenance flag is cleared, so this node may become MASTER again", what, d.o.timeout)
}

// prober opens a TLS connection to an address every probeEvery and
// remembers when each that was answered had started and ended.
type prober struct {
	mu       sync.Mutex
	answered []probe
	changed  chan struct{}
}

type probe struct{ started, ended time.Time }

func newProber(ctx context.Context, addr string) *prober {
	p := &prober{changed: make(chan struct{}, 1)}
	go func() {
		t := time.NewTicker(probeEvery)
		defer t.Stop()
		for {
			go func(started time.Time) {
				if answered(ctx, addr) != nil {
					return
				}
				p.mu.Lock()
				p.answered = append(p.answered, probe{started, time.Now()})
				p.mu.Unlock()
				select {
				case p.changed <- struct{}{}:
				default:
				}
			}(time.Now())
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return p
}

// firstAfter waits for the first connection started after t to be
// answered, and returns when its answer came.
func (p *prober) firstAfter(ctx context.Context, t time.Time) (time.Time, error) {
	for {
		p.mu.Lock()
		var first time.Time
		for _, a := range p.answered {
			if a.started.After(t) && (first.IsZero() || a.ended.Before(first)) {
				first = a.ended
			}
		}
		p.mu.Unlock()
		if !first.IsZero() {
			return first, nil
		}
		select {
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		case <-p.changed:
		}
	}
}
