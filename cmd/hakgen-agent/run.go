package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"go.uber.org/zap"

	"github.com/hakgen/hakgen/agent"
	"github.com/hakgen/hakgen/discovery"
	"github.com/hakgen/hakgen/failover"
	"github.com/hakgen/hakgen/haproxy"
	"github.com/hakgen/hakgen/keepalived"
	"github.com/hakgen/hakgen/state"
	"github.com/hakgen/hakgen/systemd"
)

// Defaults of `run` on a Debian host (DefaultHAProxyConfig is in diff.go).
const (
	// DefaultLastGood survives reboots: it is the file to go back to
	// whenever a reload fails.
	DefaultLastGood = "/var/lib/hakgen/haproxy.cfg.last-good"
	// systemdRunDir exists when the host was booted with systemd.
	systemdRunDir = "/run/systemd/system"
)

// Reload methods of `run --reload`.
const (
	reloadSystemd = "systemd"
	reloadMaster  = "master-socket"
	reloadNone    = "none"
)

const runLong = `
Keeps haproxy.cfg (and, when the state has a keepalived section, this node's
keepalived.conf) equal to what the state file asks for, until stopped
(SIGTERM or SIGINT). On every change of the state file (saved in place, by
rename, deleted and recreated, or swapped through a ConfigMap's ..data
symlink), on SIGHUP and every --resync it reconciles: parse and validate the
state, render every file, stop if the bytes are unchanged, stage each new
file beside the old one and check it (` + "`haproxy -c`" + `, ` + "`keepalived -t`" + `) with the
service's flags; only when every file passes are they installed (the running
file kept as the last-known-good copy) and their services reloaded. When a
reload fails, that file's last-known-good copy is restored and its service
reloaded again. A new haproxy.cfg that changes only servers of backends
is applied to the running HAProxy through its Runtime API instead, with no
reload (not with --reload none). An invalid state is logged once, with its
file, line and field; the running configuration stays. A reconcile that could not finish
for a passing reason (a service not running yet, a unit busy) is retried
every 10 s, the first one at start included. keepalived.conf is reloaded
(never started) through systemd. While keepalived has made this node
MASTER (recorded by ` + "`hakgen-agent notify`" + `, and the Floating IP on its
interface), the Floating IP's owner is checked every --heal-interval and the
IP assigned back here if needed. Through keepalived's track files under
--state-dir it tells keepalived at once when HAProxy's master process dies,
and when this node has reached no backend for longer than
haproxy.checks.interval while a peer reaches some.

With a discovery.hcloud section, the servers selected by their Hetzner
Cloud labels join the state's own: polled every discovery.hcloud.interval
(and on SIGHUP), applied like an edit of the state's servers, and kept in
--discovered-file so that a start during an API outage still routes.

Reload methods (--reload):
  systemd        ReloadUnit over D-Bus, verified through the master socket's
                 show proc when it exists (default when booted with systemd)
  master-socket  "reload" on HAProxy's master CLI, verified through show proc
                 (default otherwise, e.g. in containers)
  none           render, check and install only; HAProxy is not reloaded

Under systemd use Type=notify: READY=1 follows the first reconcile, STATUS=
shows the applied state or the current error, and WATCHDOG=1 is sent when
WatchdogSec= is set. Logs go to the journal with their levels when stderr is
the journal. The status is written to --status-file after every reconcile;
read it with ` + "`hakgen-agent status`" + `.`

const runExamples = `  hakgen-agent run
  hakgen-agent run --reload master-socket --log-format json
  hakgen-agent run --state ./state.yaml --haproxy-config /tmp/haproxy.cfg --reload none \
      --last-good /tmp/haproxy.cfg.last-good --status-file /tmp/hakgen-status.json`

// runOptions are the flags of run.
type runOptions struct {
	state, config, lastGood, reload, unit, socket, bin, status string
	node, kaConfig, kaLastGood, kaUnit, kaBin, kaPidFile       string
	stateDir, agentPath, serverState, metricsListen            string
	discovered                                                 string
	startInactive, metricsAnyAddress                           bool
	resync, minQuiet, maxQuiet, minReload, healInterval        time.Duration
	log                                                        logOptions
}

func (o *runOptions) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.state, "state", DefaultStatePath, "desired-state `FILE`")
	fs.StringVar(&o.config, "haproxy-config", DefaultHAProxyConfig, "the `FILE` HAProxy loads (its haproxy.cfg)")
	fs.StringVar(&o.lastGood, "last-good", DefaultLastGood, "`FILE` keeping the last-known-good haproxy.cfg")
	addServerStateFlag(fs, &o.serverState)
	addDiscoveredFlag(fs, &o.discovered)
	fs.StringVar(&o.reload, "reload", "", "reload `METHOD`: systemd, master-socket or none (default: systemd when "+systemdRunDir+" exists, else master-socket)")
	fs.StringVar(&o.unit, "unit", systemd.DefaultUnit, "systemd `UNIT` to reload (--reload systemd)")
	fs.StringVar(&o.socket, "master-socket", haproxy.DefaultMasterSocket, "HAProxy's master CLI `SOCKET` (the service's -S)")
	fs.StringVar(&o.bin, "haproxy-bin", "", "haproxy `binary` (default: "+haproxy.DefaultBin+", else haproxy in PATH)")
	fs.StringVar(&o.status, "status-file", agent.DefaultStatusPath, "status `FILE`, rewritten after every reconcile")
	fs.DurationVar(&o.resync, "resync", agent.DefaultResync, "reconcile this often without any event")
	fs.DurationVar(&o.minQuiet, "min-quiescence", agent.DefaultMinQuiescence, "reconcile once the state file was quiet this long")
	fs.DurationVar(&o.maxQuiet, "max-quiescence", agent.DefaultMaxQuiescence, "reconcile at the latest this long after the first change of a burst")
	fs.DurationVar(&o.minReload, "min-reload-interval", agent.DefaultMinReloadInterval, "minimum time between two reloads (0: none)")
	o.log.addFlags(fs)
	fs.StringVar(&o.node, "node", "", "this node's `NAME` in loadBalancers (default: the one with a local address)")
	fs.StringVar(&o.kaConfig, "keepalived-config", DefaultKeepalivedConfig, "the keepalived.conf `FILE`, kept current when the state has a keepalived section")
	fs.StringVar(&o.kaLastGood, "keepalived-last-good", DefaultKeepalivedLastGood, "`FILE` keeping the last-known-good keepalived.conf")
	fs.StringVar(&o.kaUnit, "keepalived-unit", DefaultKeepalivedUnit, "systemd `UNIT` of keepalived, reloaded (never started) with --reload systemd")
	fs.StringVar(&o.kaBin, "keepalived-bin", "", "keepalived `binary` for `keepalived -t` (default: "+keepalived.DefaultBin+")")
	fs.StringVar(&o.kaPidFile, "keepalived-pid-file", DefaultKeepalivedPidFile, "keepalived's pid `FILE`: the Floating IP is healed only while the process it names runs")
	fs.StringVar(&o.stateDir, "state-dir", failover.DefaultStateDir, "`DIR` of the notify runs' recorded state and the server ID cache")
	addAgentPathFlag(fs, &o.agentPath)
	fs.DurationVar(&o.healInterval, "heal-interval", failover.DefaultHealInterval, "while MASTER, check the Floating IP's owner this often (0: never)")
	fs.StringVar(&o.metricsListen, "metrics-listen", DefaultMetricsListen, "serve the agent's Prometheus metrics (/metrics) on `ADDRESS:PORT`; empty: none")
	fs.BoolVar(&o.metricsAnyAddress, "metrics-allow-wildcard", false, "allow --metrics-listen on every address (:PORT, 0.0.0.0:PORT, [::]:PORT)")
	fs.BoolVar(&o.startInactive, "start-inactive", true, "--reload systemd: start --unit when a new haproxy.cfg is installed while it is not running (false: leave it stopped, reload owed)")
}

func newRunCommand(e *env) *cobra.Command {
	o := &runOptions{}
	cmd := &cobra.Command{
		Use:     "run",
		Short:   "keep haproxy.cfg and keepalived.conf in line with the state file (the daemon)",
		Long:    runLong,
		Example: runExamples,
		Args:    noArgs,
		RunE:    func(cmd *cobra.Command, _ []string) error { return runDaemon(cmd.Context(), *o, e) },
	}
	e.bindFlags(cmd, o)
	return cmd
}

// runDaemon wires the agent from the flags and runs it until ctx ends.
func runDaemon(ctx context.Context, o runOptions, e *env) error {
	// SIGHUP is caught from the start: during set-up (a D-Bus connection
	// may take seconds) its default action would end the process.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	log, err := newLogger(o.log, e.stderr)
	if err != nil {
		return err
	}
	defer log.Sync() //nolint:errcheck // stderr
	if err := o.check(); err != nil {
		return err
	}
	bin, err := haproxy.FindBin(o.bin)
	if err != nil {
		return envErr(err)
	}
	checker := haproxy.Checker{Bin: bin, Args: serviceArgs(o.socket)}
	reloader, closeReloader, err := newReloader(ctx, o, checker, log)
	if err != nil {
		return err
	}
	defer closeReloader()

	kaTarget, closeKA, err := keepalivedTarget(ctx, o, log)
	if err != nil {
		return err
	}
	defer closeKA()
	for _, p := range []string{o.lastGood, o.kaLastGood, o.serverState} {
		if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
			return envErr(fmt.Errorf("creating the directory of %s: %w", p, err))
		}
	}
	// haproxy.cfg names the server-state file: HAProxy (and haproxy -c)
	// want it to exist before they read the configuration.
	if err := haproxy.EnsureServerState(o.serverState); err != nil {
		return envErr(err)
	}
	poller := discovery.New(discovery.Config{Connect: discoveryConnect(log), Path: o.discovered,
		StatusPath: discovery.StatusPath(o.status)}, log)
	cfg := agentConfig(o, checker, reloader, kaTarget, log)
	cfg.Source = poller
	a, err := agent.New(cfg, log)
	if err != nil {
		return envErr(err)
	}
	stopPoller := startPoller(ctx, poller)
	defer stopPoller()
	stopMetrics, err := serveMetrics(o, log)
	if err != nil {
		return err
	}
	defer stopMetrics()
	startHealer(ctx, o, log)
	stopWatch := watchHAProxy(ctx, o, log)
	defer stopWatch()
	stopBackends := watchBackends(ctx, o, log)
	defer stopBackends()
	stopHUP := forwardSIGHUP(ctx, hup, a.Trigger, poller.PollNow)
	defer stopHUP()
	if err := a.Run(ctx); err != nil {
		return envErr(err)
	}
	return nil
}

func agentConfig(o runOptions, checker haproxy.Checker, reloader agent.Reloader, ka agent.Target, log *zap.Logger) agent.Config {
	minReload := o.minReload
	if minReload == 0 {
		minReload = -1 // agent.Config: zero takes the default, negative means none
	}
	return agent.Config{
		StatePath:  o.state,
		StatusPath: o.status,
		Targets: []agent.Target{{
			Name: "haproxy", Path: o.config, LastGood: o.lastGood,
			Render: haproxyRender(o.node, o.serverState), Checker: checker, Reloader: reloader, Runtime: haproxyRuntime(o, log),
			// With stats authentication haproxy.cfg holds the password's
			// hash: root:haproxy 0640, as Debian keeps HAProxy's secrets.
			Secret: func(s *state.State) bool { return s.Stats.User != "" }, SecretGroup: "haproxy",
		}, ka},
		Resync:            o.resync,
		MinQuiescence:     o.minQuiet,
		MaxQuiescence:     o.maxQuiet,
		MinReloadInterval: minReload,
		Notifier:          systemd.NewNotifier(log),
	}
}

// check refuses option values that cannot work, before anything starts.
func (o runOptions) check() error {
	switch o.reload {
	case "", reloadSystemd, reloadMaster, reloadNone:
	default:
		return usageErr("--reload %q: want %s, %s or %s", o.reload, reloadSystemd, reloadMaster, reloadNone)
	}
	for name, d := range map[string]time.Duration{"resync": o.resync, "min-quiescence": o.minQuiet, "max-quiescence": o.maxQuiet} {
		if d <= 0 {
			return usageErr("--%s must be positive, not %s", name, d)
		}
	}
	if o.minReload < 0 {
		return usageErr("--min-reload-interval must not be negative")
	}
	if o.healInterval < 0 {
		return usageErr("--heal-interval must not be negative")
	}
	if err := checkMetricsListen(o.metricsListen, o.metricsAnyAddress); err != nil {
		return err
	}
	if o.maxQuiet < o.minQuiet {
		return usageErr("--max-quiescence (%s) must not be shorter than --min-quiescence (%s)", o.maxQuiet, o.minQuiet)
	}
	return nil
}

// serviceArgs are the flags haproxy.service passes besides -f: Debian's,
// with the master socket given by --master-socket.
func serviceArgs(socket string) []string {
	if socket == haproxy.DefaultMasterSocket {
		return haproxy.DebianServiceArgs
	}
	return []string{"-S", socket}
}

// forwardSIGHUP turns the SIGHUPs arriving on hup into calls of each of
// triggers (agent.Trigger, and a poll of discovery) until ctx ends or the
// returned function is called. signal.Notify sends without blocking into
// hup, buffered(1), so a burst of signals (or one during set-up) collapses
// into one reconcile.
func forwardSIGHUP(ctx context.Context, hup <-chan os.Signal, triggers ...func()) (stop func()) {
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-hup:
				for _, trigger := range triggers {
					trigger()
				}
			case <-ctx.Done():
				return
			case <-done:
				return
			}
		}
	}()
	return func() { close(done) }
}

// newReloader builds the reloader --reload asks for, and what releases it.
// The master-socket reloader explains a failed reload with `haproxy -c` on
// the installed file, since HAProxy 2.6's master CLI keeps no reason.
func newReloader(ctx context.Context, o runOptions, checker haproxy.Checker, log *zap.Logger) (agent.Reloader, func(), error) {
	method := reloadMethod(o.reload)
	switch method {
	case reloadNone:
		return agent.NoReload{}, func() {}, nil
	case reloadMaster:
		m := haproxy.NewMaster(o.socket)
		r := haproxy.NewMasterReloader(m, log)
		r.Diagnose = func(ctx context.Context) string {
			if _, err := checker.Check(ctx, o.config); err != nil {
				return err.Error()
			}
			return ""
		}
		return agent.ServerStateReloader{Reloader: r, Master: m, Path: o.serverState, Config: o.config, Log: log}, func() {}, nil
	case reloadSystemd:
		cctx, cancel := context.WithTimeout(ctx, systemd.DefaultConnectTimeout)
		defer cancel()
		r, err := agent.NewSystemdReloader(cctx, systemd.Options{Unit: o.unit, NoStart: !o.startInactive}, o.socket, log)
		if err != nil {
			return nil, nil, envErr(fmt.Errorf("--reload systemd: %w", err))
		}
		keep := agent.ServerStateReloader{Reloader: r, Master: haproxy.NewMaster(o.socket), Path: o.serverState, Config: o.config, Log: log}
		return keep, r.Close, nil
	}
	return nil, nil, usageErr("--reload %q: want %s, %s or %s", method, reloadSystemd, reloadMaster, reloadNone) // checkFlags refused it already
}

// startPoller runs discovery's poller until ctx ends or the returned
// function is called, which waits for it to stop. The poller idles while
// the state has no discovery section.
func startPoller(ctx context.Context, p *discovery.Poller) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.Run(ctx)
	}()
	return func() { cancel(); <-done }
}
