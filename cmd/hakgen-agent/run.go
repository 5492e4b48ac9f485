package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/hakgen/hakgen/agent"
	"github.com/hakgen/hakgen/failover"
	"github.com/hakgen/hakgen/haproxy"
	"github.com/hakgen/hakgen/keepalived"
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

const runUsage = `
Usage: hakgen-agent run [flags]

Keeps haproxy.cfg (and, when the state has a keepalived section, this node's
keepalived.conf) equal to what the state file asks for, until stopped
(SIGTERM or SIGINT). On every change of the state file (saved in place, by
rename, deleted and recreated, or swapped through a ConfigMap's ..data
symlink), on SIGHUP and every --resync it reconciles: parse and validate the
state, render haproxy.cfg, stop if the bytes are unchanged, stage the new file
beside the old one, run ` + "`haproxy -c`" + ` on it with the service's flags, keep
the running file as the last-known-good copy (--last-good), rename the new
file into place and reload HAProxy. When the reload fails, the last-known-good
file is restored and HAProxy reloaded again. An invalid state is logged once,
with its file, line and field; the running configuration stays.
keepalived.conf goes through the same steps, checked with ` + "`keepalived -t`" + `
and reloaded (never started) through systemd. While keepalived has made this
node MASTER (recorded by ` + "`hakgen-agent notify`" + `), the Floating IP's owner
is checked every --heal-interval and the IP assigned back here if needed.

Reload methods (--reload):
  systemd        ReloadUnit over D-Bus, verified through the master socket's
                 show proc when it exists (default when booted with systemd)
  master-socket  "reload" on HAProxy's master CLI, verified through show proc
                 (default otherwise, e.g. in containers)
  none           render, check and install only; HAProxy is not reloaded

Under systemd use Type=notify: READY=1 follows the first reconcile, STATUS=
shows the applied state or the current error, and WATCHDOG=1 is sent when
WatchdogSec= is set. The status is written to --status-file after every
reconcile; read it with ` + "`hakgen-agent status`" + `.

Examples:
  hakgen-agent run
  hakgen-agent run --reload master-socket --log-format json
  hakgen-agent run --state ./state.yaml --haproxy-config /tmp/haproxy.cfg --reload none \
      --last-good /tmp/haproxy.cfg.last-good --status-file /tmp/hakgen-status.json
`

// runFlags are the flags of `run`.
type runFlags struct {
	state, config, lastGood, reload, unit, socket, bin, status *string
	node, kaConfig, kaLastGood, kaUnit, kaBin, stateDir        *string
	kaPidFile                                                  *string
	startInactive                                              *bool
	resync, minQuiet, maxQuiet, minReload, healInterval        *time.Duration
	log                                                        logFlags
}

func daemonCommand() command {
	return command{
		name:    "run",
		summary: "keep haproxy.cfg in line with the state file (the daemon)",
		usage:   runUsage,
		flags: func(fs *flag.FlagSet) func(context.Context, *env) error {
			f := runFlags{
				state:     fs.String("state", DefaultStatePath, "desired-state `FILE`"),
				config:    fs.String("haproxy-config", DefaultHAProxyConfig, "the `FILE` HAProxy loads (its haproxy.cfg)"),
				lastGood:  fs.String("last-good", DefaultLastGood, "`FILE` keeping the last-known-good haproxy.cfg"),
				reload:    fs.String("reload", "", "reload `METHOD`: systemd, master-socket or none (default: systemd when "+systemdRunDir+" exists, else master-socket)"),
				unit:      fs.String("unit", systemd.DefaultUnit, "systemd `UNIT` to reload (--reload systemd)"),
				socket:    fs.String("master-socket", haproxy.DefaultMasterSocket, "HAProxy's master CLI `SOCKET` (the service's -S)"),
				bin:       fs.String("haproxy-bin", "", "haproxy `binary` (default: "+haproxy.DefaultBin+", else haproxy in PATH)"),
				status:    fs.String("status-file", agent.DefaultStatusPath, "status `FILE`, rewritten after every reconcile"),
				resync:    fs.Duration("resync", agent.DefaultResync, "reconcile this often without any event"),
				minQuiet:  fs.Duration("min-quiescence", agent.DefaultMinQuiescence, "reconcile once the state file was quiet this long"),
				maxQuiet:  fs.Duration("max-quiescence", agent.DefaultMaxQuiescence, "reconcile at the latest this long after the first change of a burst"),
				minReload: fs.Duration("min-reload-interval", agent.DefaultMinReloadInterval, "minimum time between two reloads (0: none)"),
				log:       addLogFlags(fs),

				node:          fs.String("node", "", "this node's `NAME` in loadBalancers (default: the one with a local address)"),
				kaConfig:      fs.String("keepalived-config", DefaultKeepalivedConfig, "the keepalived.conf `FILE`, kept current when the state has a keepalived section"),
				kaLastGood:    fs.String("keepalived-last-good", DefaultKeepalivedLastGood, "`FILE` keeping the last-known-good keepalived.conf"),
				kaUnit:        fs.String("keepalived-unit", DefaultKeepalivedUnit, "systemd `UNIT` of keepalived, reloaded (never started) with --reload systemd"),
				kaBin:         fs.String("keepalived-bin", "", "keepalived `binary` for `keepalived -t` (default: "+keepalived.DefaultBin+")"),
				kaPidFile:     fs.String("keepalived-pid-file", DefaultKeepalivedPidFile, "keepalived's pid `FILE`: the Floating IP is healed only while the process it names runs"),
				stateDir:      fs.String("state-dir", failover.DefaultStateDir, "`DIR` of the notify runs' recorded state and the server ID cache"),
				healInterval:  fs.Duration("heal-interval", failover.DefaultHealInterval, "while MASTER, check the Floating IP's owner this often (0: never)"),
				startInactive: fs.Bool("start-inactive", true, "--reload systemd: start --unit when a new haproxy.cfg is installed while it is not running (false: leave it stopped, reload owed)"),
			}
			return func(ctx context.Context, e *env) error { return runDaemon(ctx, f, e) }
		},
	}
}

// runDaemon wires the agent from the flags and runs it until ctx ends.
func runDaemon(ctx context.Context, f runFlags, e *env) error {
	// SIGHUP is caught from the start: during set-up (a D-Bus connection
	// may take seconds) its default action would end the process.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	log, err := newLogger(f.log, e.stderr)
	if err != nil {
		return err
	}
	defer log.Sync() //nolint:errcheck // stderr
	if err := checkFlags(f); err != nil {
		return err
	}
	bin, err := haproxy.FindBin(*f.bin)
	if err != nil {
		return envErr(err)
	}
	checker := haproxy.Checker{Bin: bin, Args: serviceArgs(*f.socket)}
	reloader, closeReloader, err := newReloader(ctx, f, checker, log)
	if err != nil {
		return err
	}
	defer closeReloader()
	kaTarget, closeKA, err := keepalivedTarget(ctx, f, log)
	if err != nil {
		return err
	}
	defer closeKA()
	for _, p := range []string{*f.lastGood, *f.kaLastGood} {
		if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
			return envErr(fmt.Errorf("creating the directory of %s: %w", p, err))
		}
	}
	a, err := agent.New(agentConfig(f, checker, reloader, kaTarget, log), log)
	if err != nil {
		return envErr(err)
	}
	startHealer(ctx, f, log)
	stopHUP := forwardSIGHUP(ctx, hup, a)
	defer stopHUP()
	if err := a.Run(ctx); err != nil {
		return envErr(err)
	}
	return nil
}

func agentConfig(f runFlags, checker haproxy.Checker, reloader agent.Reloader, ka agent.Target, log *zap.Logger) agent.Config {
	minReload := *f.minReload
	if minReload == 0 {
		minReload = -1 // agent.Config: zero takes the default, negative means none
	}
	return agent.Config{
		StatePath:  *f.state,
		StatusPath: *f.status,
		Targets: []agent.Target{{
			Name: "haproxy", Path: *f.config, LastGood: *f.lastGood,
			Render: haproxyRender(*f.node), Checker: checker, Reloader: reloader,
		}, ka},
		Resync:            *f.resync,
		MinQuiescence:     *f.minQuiet,
		MaxQuiescence:     *f.maxQuiet,
		MinReloadInterval: minReload,
		Notifier:          systemd.NewNotifier(log),
	}
}

// checkFlags refuses flag values that cannot work, before anything starts.
func checkFlags(f runFlags) error {
	switch *f.reload {
	case "", reloadSystemd, reloadMaster, reloadNone:
	default:
		return usageErr("--reload %q: want %s, %s or %s", *f.reload, reloadSystemd, reloadMaster, reloadNone)
	}
	for name, d := range map[string]time.Duration{"resync": *f.resync, "min-quiescence": *f.minQuiet, "max-quiescence": *f.maxQuiet} {
		if d <= 0 {
			return usageErr("--%s must be positive, not %s", name, d)
		}
	}
	if *f.minReload < 0 {
		return usageErr("--min-reload-interval must not be negative")
	}
	if *f.maxQuiet < *f.minQuiet {
		return usageErr("--max-quiescence (%s) must not be shorter than --min-quiescence (%s)", *f.maxQuiet, *f.minQuiet)
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

// forwardSIGHUP turns the SIGHUPs arriving on hup into agent.Trigger until
// ctx ends or the returned function is called. signal.Notify sends without
// blocking into hup, buffered(1), so a burst of signals (or one during
// set-up) collapses into one reconcile.
func forwardSIGHUP(ctx context.Context, hup <-chan os.Signal, a *agent.Agent) (stop func()) {
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-hup:
				a.Trigger()
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
func newReloader(ctx context.Context, f runFlags, checker haproxy.Checker, log *zap.Logger) (agent.Reloader, func(), error) {
	method := reloadMethod(*f.reload)
	switch method {
	case reloadNone:
		return agent.NoReload{}, func() {}, nil
	case reloadMaster:
		r := haproxy.NewMasterReloader(haproxy.NewMaster(*f.socket), log)
		r.Diagnose = func(ctx context.Context) string {
			if _, err := checker.Check(ctx, *f.config); err != nil {
				return err.Error()
			}
			return ""
		}
		return r, func() {}, nil
	case reloadSystemd:
		cctx, cancel := context.WithTimeout(ctx, systemd.DefaultConnectTimeout)
		defer cancel()
		r, err := agent.NewSystemdReloader(cctx, systemd.Options{Unit: *f.unit, NoStart: !*f.startInactive}, *f.socket, log)
		if err != nil {
			return nil, nil, envErr(fmt.Errorf("--reload systemd: %w", err))
		}
		return r, r.Close, nil
	}
	return nil, nil, usageErr("--reload %q: want %s, %s or %s", method, reloadSystemd, reloadMaster, reloadNone) // checkFlags refused it already
}
