package main

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"slices"
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
number under --state-dir. On MASTER it then points the Hetzner Floating IP
(floatingIP.id) to this server: one request, the assign, when
loadBalancers[].serverID is set; else one request to the metadata service
first, whose answer is cached under --state-dir. It waits for the action,
verifies with one GET, and gives up when a newer BACKUP, FAULT or STOP
arrives meanwhile. BACKUP, FAULT and STOP change nothing at Hetzner.

The second form is what keepalived appends to a generic ` + "`notify`" + ` script. This
node is --node, else the load balancer whose address this machine has.

The API token comes from floatingIP.tokenFile (owned by root, mode 0600;
relative to the state file's directory), else the systemd credential
hcloud-token ($CREDENTIALS_DIRECTORY), else $HCLOUD_TOKEN. $HCLOUD_ENDPOINT
and $HCLOUD_METADATA_ENDPOINT override Hetzner's endpoints.

keepalived discards the output of notify scripts, so every run logs to the
journal under its own identifier (journalctl -t hakgen-notify: the failover
history) as well as to stderr.`

const notifyExitCodes = `Exit codes of notify:
  0  recorded; on MASTER the Floating IP points here, verified
  1  any other failure (state, token, network, API)
  2  usage: the arguments are not a notify form
  3  superseded: a newer keepalived state made this MASTER run give up
  4  the deadline passed before the Floating IP was confirmed here
  5  the API reported success, but the Floating IP points elsewhere
  6  the API's assign action ended in error
  7  the API refused the token`

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
	fs.BoolVar(&o.requireVIP, "require-vip", false, "on MASTER, act only while the Floating IP is on this node's interfaces (keepalived adds it before a MASTER notify and removes it before any later one)")
	fs.BoolVar(&o.reassert, "reassert", false, "for notify_master_rx_lower_pri: at most every "+reassertEvery.String()+", check the Floating IP's owner and assign it here only if it points elsewhere")
}

func newNotifyCommand(e *env) *cobra.Command {
	o := &notifyOpts{}
	cmd := &cobra.Command{
		Use:     "notify",
		Short:   "keepalived's notify hook: record the state; on MASTER move the Floating IP here",
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
	var assigner failover.Assigner
	if ev.State == failover.Master {
		m := &masterRun{opts: o, log: log}
		cfg.ServerID, assigner = m.ServerID, m
	}
	err = failover.NewNotifier(cfg, assigner, log).Handle(ctx, ev)
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

// masterRun is a MASTER run's failover.ServerIDFunc and Assigner. It reads
// the state and the token only when the Notifier asks, after the run has
// recorded MASTER: a BACKUP that keepalived reports right after MASTER
// then gets the later sequence number, as long as its run starts later.
type masterRun struct {
	opts *notifyOpts
	log  *zap.Logger

	state *state.State // set by ServerID
	node  state.LoadBalancer
	api   string // API endpoint
}

var _ failover.Assigner = (*masterRun)(nil)

// ServerID loads the state, finds this node in it and returns its server
// ID: loadBalancers[].serverID, else the metadata service's answer
// (cached under --state-dir).
func (m *masterRun) ServerID(ctx context.Context) (int64, error) {
	// Only the failover sections must be right: a mistake elsewhere in
	// the state must not keep the Floating IP from moving.
	s, err := state.LoadForFailoverContext(ctx, m.opts.statePath)
	if err != nil {
		return 0, err
	}
	if err := s.CompleteForNotify(); err != nil {
		return 0, err
	}
	if m.opts.requireVIP {
		if err := vipHere(s.FloatingIP.Address); err != nil {
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
	m.state, m.node, m.api = s, s.LoadBalancers[i], eps.API
	if m.node.ServerID > 0 {
		return m.node.ServerID, nil
	}
	return hetzner.NewServerIDSource(eps.Metadata, m.opts.stateDir, m.log).ServerID(ctx)
}

// Assign loads the token and points the state's Floating IP to serverID.
// The Notifier passes its own Floating IP ID, 0: the state is read only
// by ServerID, which the Notifier calls first.
func (m *masterRun) Assign(ctx context.Context, _, serverID int64) (hetzner.Result, error) {
	if m.state == nil {
		return hetzner.Result{}, errors.New("the state was not loaded")
	}
	token, source, err := hetzner.LoadToken(tokenFileOf(m.state))
	if err != nil {
		return hetzner.Result{}, err
	}
	v, _ := buildVersion()
	client, err := hetzner.NewClient(hetzner.Config{Endpoint: m.api, Token: token, Deadline: m.opts.deadline, Version: v}, m.log)
	if err != nil {
		return hetzner.Result{}, err
	}
	fip := m.state.FloatingIP.ID
	m.log.Info("assigning the floating IP to this node", zap.String("node", m.node.Name),
		zap.Int64("floating_ip", fip), zap.Int64("server", serverID),
		zap.String("token_from", source), zap.String("api", m.api))
	return client.Assign(ctx, fip, serverID)
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

// vipHere checks that keepalived still holds the Floating IP on this node.
// keepalived adds its virtual addresses before it runs a MASTER notify and
// removes them before it runs the next BACKUP, FAULT or STOP one, so a
// MASTER run that starts late, after keepalived already left MASTER, finds
// the address gone: it is superseded, whatever order the runs took the
// lock in.
func vipHere(address string) error {
	fip, err := netip.ParseAddr(address)
	if err != nil {
		return fmt.Errorf("floatingIP.address: %w", err)
	}
	local, err := state.LocalAddrs()
	if err != nil {
		return err
	}
	if !slices.Contains(local, fip) {
		return fmt.Errorf("%w: the Floating IP %s is no longer on this node (keepalived left MASTER)", failover.ErrSuperseded, fip)
	}
	return nil
}
