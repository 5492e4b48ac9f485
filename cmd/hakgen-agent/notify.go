package main

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"go.uber.org/zap"

	"github.com/hakgen/hakgen/failover"
	"github.com/hakgen/hakgen/hetzner"
	"github.com/hakgen/hakgen/state"
)

const notifyLong = `
keepalived's notify hook. Every run records the VRRP state with a sequence
number under --state-dir, for its instance. On MASTER it then points the
addresses of that VRRP instance to this server, all at once, each with its
own retries within --deadline: every Floating IP (floatingIP, floatingIPs)
by one request, the assign, when loadBalancers[].serverID is set (else one
request to the metadata service first, whose answer is cached under
--state-dir), and the private VIP (privateVIP) by the network's route for
it. It waits for each action, verifies each with one GET, and gives up when
a newer BACKUP, FAULT or STOP of the instance arrives meanwhile. BACKUP,
FAULT and STOP change nothing at Hetzner.

The second form is what keepalived appends to a generic ` + "`notify`" + ` script:
its NAME picks the instance (hakgen-CLUSTER, hakgen-CLUSTER-NODE; any name
while the pair has one instance). The first form stands for every instance
of this node. This node is --node, else the load balancer whose address
this machine has.

The API token comes from hcloud.tokenFile, else floatingIP.tokenFile (owned
by root, mode 0600; relative to the state file's directory), else the
systemd credential hcloud-token ($CREDENTIALS_DIRECTORY), else
$HCLOUD_TOKEN. $HCLOUD_ENDPOINT and $HCLOUD_METADATA_ENDPOINT override
Hetzner's endpoints.

keepalived discards the output of notify scripts, so every run logs to the
journal under its own identifier (journalctl -t hakgen-notify: the failover
history) as well as to stderr.`

const notifyExitCodes = `Exit codes of notify:
  0  recorded; on MASTER every address points here, verified
  1  any other failure (state, token, network, API)
  2  usage: the arguments are not a notify form
  3  superseded: a newer keepalived state made this MASTER run give up
  4  the deadline passed before the address was confirmed here
  5  the API reported success, but the address points elsewhere
  6  the API's action ended in error
  7  the API refused the token
  64-127  a run of several addresses in which some did not move: 64 plus
     2^i for each address i that failed, counted from 0 in the order of
     the state (an instance's Floating IPs, then its private VIP; 32 also
     stands for any address after the sixth, which only the first form
     over several instances has); the error and the journal name each and
     why. The codes 1-7 tell a run of one address.`

const notifyExamples = `  hakgen-agent notify MASTER
  hakgen-agent notify --node lb1 INSTANCE hakgen-prod MASTER 200
  HCLOUD_ENDPOINT=http://127.0.0.1:8080/v1 hakgen-agent notify MASTER --state ./state.yaml --node lb1`

// notifyOpts are the flags of notify.
type notifyOpts struct {
	statePath  string
	node       string
	stateDir   string
	deadline   time.Duration
	journal    bool
	syslog     string // accepted for older keepalived.conf files; ignored
	reassert   bool
	requireVIP bool
}

func (o *notifyOpts) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.statePath, "state", DefaultStatePath, "desired-state `FILE` (read on MASTER only)")
	fs.StringVar(&o.node, "node", "", "this node's `NAME` in loadBalancers (default: the one with a local address)")
	fs.StringVar(&o.stateDir, "state-dir", failover.DefaultStateDir, "`DIR` for the recorded state, the locks and the server ID cache")
	fs.DurationVar(&o.deadline, "deadline", failover.DefaultDeadline, "give up after `DURATION`, lock wait included")
	fs.BoolVar(&o.journal, "journal", true, "log to the journal as "+notifyIdentifier+" as well as to stderr")
	fs.StringVar(&o.syslog, "syslog", "", "ignored: notify logs to the journal (--journal)")
	_ = fs.MarkDeprecated("syslog", "notify logs to the journal as "+notifyIdentifier+"; the flag is ignored")
	fs.BoolVar(&o.requireVIP, "require-vip", false, "on MASTER, act only while the instance's addresses are on this node's interfaces (keepalived adds them before a MASTER notify and removes them before any later one)")
	fs.BoolVar(&o.reassert, "reassert", false, "for notify_master_rx_lower_pri: at most every "+reassertEvery.String()+" per instance, check where each address points and move only those that point elsewhere")
}

func newNotifyCommand(e *env) *cobra.Command {
	o := &notifyOpts{}
	cmd := &cobra.Command{
		Use:     "notify",
		Short:   "keepalived's notify hook: record the state; on MASTER move the instance's addresses here",
		Long:    notifyLong,
		Example: notifyExamples,
		Annotations: map[string]string{
			annotationSynopsis: "hakgen-agent notify [flags] MASTER|BACKUP|FAULT|STOP\n" +
				"       hakgen-agent notify [flags] INSTANCE|GROUP NAME STATE [PRIORITY]",
			annotationExitCodes: notifyExitCodes,
		},
		ValidArgs: []string{"MASTER", "BACKUP", "FAULT", "STOP"},
		// The arguments are checked by failover.ParseArgs, with notify's
		// own usage exit code.
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return o.run(cmd.Context(), e, args) },
	}
	e.bindFlags(cmd, o)
	return cmd
}

// run handles one notification. Its exit code is failover.ExitCode's.
func (o *notifyOpts) run(ctx context.Context, e *env, args []string) error {
	start := time.Now()
	if o.deadline <= 0 {
		return usageErr("--deadline must be positive")
	}
	ev, err := failover.ParseArgs(args)
	if err != nil {
		return &exitError{failover.ExitUsage, err}
	}
	logs, err := newNotifyLogger(o.journal, e)
	if err != nil {
		return err
	}
	log := logs.all

	if o.reassert {
		return o.runReassert(ctx, ev, logs)
	}
	cfg := failover.Config{StateDir: o.stateDir, Deadline: o.deadline}
	if ev.State == failover.Master {
		m := &masterRun{opts: o, log: log, ev: ev}
		cfg.ServerID, cfg.Targets = m.ServerID, m.Targets
	}
	err = failover.NewNotifier(cfg, nil, log).Handle(ctx, ev)
	if err == nil {
		return nil
	}
	code := failover.ExitCode(err)
	// stderr is /dev/null under keepalived: the journal entry is the only
	// trace of the failure there; the returned error sets the exit code
	// and tells a person running notify by hand.
	logs.journalOnly.Error("notify failed", zap.String("event", ev.String()),
		zap.Int("exit_code", code), zap.Duration("took", time.Since(start)), zap.Error(err))
	return &exitError{code, err}
}

// masterRun is a MASTER run's failover.ServerIDFunc and targets. It reads
// the state and the token only when the Notifier asks, after the run has
// recorded MASTER: a BACKUP that keepalived reports right after MASTER
// then gets the later sequence number, as long as its run starts later.
type masterRun struct {
	opts *notifyOpts
	log  *zap.Logger
	ev   failover.Event

	state     *state.State // set by ServerID
	node      state.LoadBalancer
	instances []state.VRRPInstance // the event's
	api       string               // API endpoint
}

// ServerID loads the state, finds this node and the event's instances in
// it and returns its server ID: loadBalancers[].serverID, else the
// metadata service's answer (cached under --state-dir).
func (m *masterRun) ServerID(ctx context.Context) (int64, error) {
	// Only the failover sections must be right: a mistake elsewhere in
	// the state must not keep the addresses from moving.
	s, err := state.LoadForFailoverContext(ctx, m.opts.statePath)
	if err != nil {
		return 0, err
	}
	if err := s.CompleteForNotify(); err != nil {
		return 0, err
	}
	ins, err := instancesOf(s, m.ev)
	if err != nil {
		return 0, err
	}
	if m.opts.requireVIP {
		if err := addressesHere(instanceAddrs(ins)); err != nil {
			return 0, err
		}
	}
	i, err := findThisNode(s, m.opts.node)
	if err != nil {
		return 0, err
	}
	eps, err := hetzner.EndpointsFromEnv(os.Getenv)
	if err != nil {
		return 0, err
	}
	m.state, m.node, m.instances, m.api = s, s.LoadBalancers[i], ins, eps.API
	if m.node.ServerID > 0 {
		return m.node.ServerID, nil
	}
	return hetzner.NewServerIDSource(eps.Metadata, m.opts.stateDir, m.log).ServerID(ctx)
}

// Targets loads the token and returns what the run moves: the Floating
// IPs and the private VIP of the event's instances. The Notifier calls it
// after ServerID, which read the state.
func (m *masterRun) Targets(context.Context, failover.Event) ([]failover.Target, error) {
	if m.state == nil {
		return nil, errors.New("the state was not loaded")
	}
	token, source, err := hetzner.LoadToken(tokenFileOf(m.state))
	if err != nil {
		return nil, err
	}
	v, _ := buildVersion()
	client, err := hetzner.NewClient(hetzner.Config{Endpoint: m.api, Token: token, Deadline: m.opts.deadline, Version: v}, m.log)
	if err != nil {
		return nil, err
	}
	targets := notifyTargets(m.instances, client, m.node)
	names := make([]string, len(targets))
	for i, t := range targets {
		names[i] = t.Name
	}
	m.log.Info("moving the addresses to this node", zap.String("node", m.node.Name), zap.Strings("targets", names),
		zap.String("token_from", source), zap.String("api", m.api))
	return targets, nil
}

// findThisNode returns this node's index in the state's loadBalancers: the
// one named name, else the one with an address of this machine.
func findThisNode(s *state.State, name string) (int, error) {
	var local []netip.Addr
	if name == "" {
		addrs, err := state.LocalAddrs()
		if err != nil {
			return -1, err
		}
		local = addrs
	}
	return state.FindNode(s.LoadBalancers, name, local)
}

// addressesHere checks that keepalived still holds the instance's
// addresses on this node. keepalived adds its virtual addresses before it
// runs a MASTER notify and removes them before it runs the next BACKUP,
// FAULT or STOP one, so a MASTER run that starts late, after keepalived
// already left MASTER, finds them gone: it is superseded, whatever order
// the runs took the lock in.
func addressesHere(addrs []netip.Addr) error {
	local, err := state.LocalAddrs()
	if err != nil {
		return err
	}
	var gone []string
	for _, a := range addrs {
		if !slices.Contains(local, a) {
			gone = append(gone, a.String())
		}
	}
	if len(gone) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s %s no longer on this node (keepalived left MASTER)", failover.ErrSuperseded, strings.Join(gone, ", "), map[bool]string{true: "is", false: "are"}[len(gone) == 1])
}
