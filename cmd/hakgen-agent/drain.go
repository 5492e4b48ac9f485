package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/hakgen/hakgen/haproxy"
	"github.com/hakgen/hakgen/haproxy/serverplan"
)

// exitSessionsRemain is drain's exit code when --wait expired with
// sessions still open.
const exitSessionsRemain = 4

// drainPoll is the pause between two session counts of drain.
const drainPoll = time.Second

const drainLong = `
Drains server NAME (a control plane or worker of the state) on this node's
HAProxy at once, through its Runtime API: every backend that has the server
sends it no new connection; its established connections stay. Then it
prints the server's sessions (old workers' included) as they change, until
none is left or --wait expires.

The drain holds until ` + "`hakgen-agent undrain NAME`" + `, or until the state changes
that server (its address, port or weight), and survives reloads: the
servers' state is saved at once and before every reload. It acts on this
node only: for an upgrade, run it on the MASTER, the load balancer that has
the Floating IP. To drain a server on both load balancers and keep it
drained, set drain: true on it in the state instead.`

const drainExitCodes = `Exit codes of drain:
  0  drained, and no session left (or --wait 0 and none open)
  1  no backend of the running HAProxy has the server, or HAProxy refused a command
  2  usage error
  3  environment problem: HAProxy not running, its master socket missing
  4  drained, but sessions remain after --wait`

const undrainExitCodes = `Exit codes of undrain:
  0  the server takes new connections again here, or was not drained by drain
  1  no backend of the running HAProxy has the server, or HAProxy refused a command
  2  usage error
  3  environment problem: HAProxy not running, its master socket missing`

const undrainLong = `
Ends a drain set by ` + "`hakgen-agent drain NAME`" + ` on this node's HAProxy: every
backend where the server was drained sends it new connections again. A
server drained in the state (drain: true, or weight: 0) stays drained: it
says so.`

// serverFlags are the flags drain and undrain share: where HAProxy is.
type serverFlags struct {
	socket, serverState, config string
}

func (o *serverFlags) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.socket, "master-socket", haproxy.DefaultMasterSocket, "HAProxy's master CLI `SOCKET` (the service's -S)")
	addServerStateFlag(fs, &o.serverState)
	fs.StringVar(&o.config, "haproxy-config", DefaultHAProxyConfig, "the `FILE` HAProxy loads, for saving the servers' state")
}

// drainOptions are the flags of drain.
type drainOptions struct {
	serverFlags
	wait time.Duration
}

func (o *drainOptions) addFlags(fs *pflag.FlagSet) {
	o.serverFlags.addFlags(fs)
	fs.DurationVar(&o.wait, "wait", 5*time.Minute, "wait at most `DURATION` for the server's sessions to end (0: do not wait)")
}

// undrainOptions are the flags of undrain.
type undrainOptions struct{ serverFlags }

func newDrainCommand(e *env) *cobra.Command {
	o := &drainOptions{}
	cmd := &cobra.Command{
		Use:   "drain NAME",
		Short: "send server NAME no new connection on this node's HAProxy, and wait for its sessions to end",
		Long:  drainLong,
		Example: "  hakgen-agent drain cp2                # wait up to 5m for its sessions to end\n" +
			"  hakgen-agent drain w3 --wait 30s\n  hakgen-agent drain w3 --wait 0        # drain, print the sessions, do not wait",
		Annotations: map[string]string{annotationSynopsis: "hakgen-agent drain NAME [--wait DURATION] [--master-socket SOCKET]",
			annotationExitCodes: drainExitCodes},
		Args: oneServerName,
		RunE: func(cmd *cobra.Command, args []string) error { return o.drain(cmd.Context(), e, args[0]) },
	}
	e.bindFlags(cmd, o)
	return cmd
}

func newUndrainCommand(e *env) *cobra.Command {
	o := &undrainOptions{}
	cmd := &cobra.Command{
		Use:     "undrain NAME",
		Short:   "end a drain of server NAME set by hakgen-agent drain",
		Long:    undrainLong,
		Example: "  hakgen-agent undrain cp2",
		Annotations: map[string]string{annotationSynopsis: "hakgen-agent undrain NAME [--master-socket SOCKET]",
			annotationExitCodes: undrainExitCodes},
		Args: oneServerName,
		RunE: func(cmd *cobra.Command, args []string) error { return o.undrain(cmd.Context(), e, args[0]) },
	}
	e.bindFlags(cmd, o)
	return cmd
}

// oneServerName wants exactly one argument, a server name.
func oneServerName(_ *cobra.Command, args []string) error {
	switch {
	case len(args) == 0:
		return usageErr("no server NAME given")
	case len(args) > 1:
		return usageErr("unexpected argument %q: one server NAME only", args[1])
	}
	return nil
}

// commandTimeout bounds each exchange with HAProxy of drain and undrain.
const commandTimeout = 10 * time.Second

// worker pins the current worker of the HAProxy at --master-socket.
func (o *serverFlags) worker(ctx context.Context) (*haproxy.Master, *haproxy.Worker, error) {
	m := haproxy.NewMaster(o.socket)
	cctx, cancel := context.WithTimeout(ctx, commandTimeout)
	defer cancel()
	w, err := haproxy.CurrentWorker(cctx, m)
	if errors.Is(err, haproxy.ErrMasterUnavailable) {
		return nil, nil, envErr(fmt.Errorf("HAProxy is not running here: %w", err))
	}
	if err != nil {
		return nil, nil, envErr(err)
	}
	return m, w, nil
}

func (o *drainOptions) drain(ctx context.Context, e *env, name string) error {
	if o.wait < 0 {
		return usageErr("--wait must not be negative")
	}
	m, w, err := o.worker(ctx)
	if err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, commandTimeout)
	drained, skipped, err := serverplan.Drain(cctx, w, name)
	cancel()
	if err != nil {
		return err
	}
	for _, b := range skipped {
		fmt.Fprintf(e.stdout, "%s: in maintenance in %s, left so\n", name, b)
	}
	if len(drained) > 0 {
		fmt.Fprintf(e.stdout, "%s: drained in %s: no new connection goes to it from this load balancer\n", name, strings.Join(drained, ", "))
	}
	o.saveState(ctx, m, e.stderr)
	return waitSessions(ctx, e.stdout, m, name, o.wait)
}

// waitSessions prints the sessions of server name whenever they change,
// until none is left (nil) or wait has passed (an exit code 4 error).
func waitSessions(ctx context.Context, out io.Writer, m *haproxy.Master, name string, wait time.Duration) error {
	deadline := time.Now().Add(wait)
	last := ""
	for {
		cctx, cancel := context.WithTimeout(ctx, commandTimeout)
		s, err := serverplan.ServerSessions(cctx, m, name)
		cancel()
		if err != nil {
			return envErr(fmt.Errorf("counting the sessions of %s: %w", name, err))
		}
		if s.Total() == 0 {
			fmt.Fprintf(out, "%s: no session left\n", name)
			return nil
		}
		if line := sessionsLine(name, s); line != last {
			fmt.Fprintln(out, line)
			last = line
		}
		if !time.Now().Before(deadline) {
			return &exitError{exitSessionsRemain, fmt.Errorf("%s still has %s after %s: they end when their clients or the server close them (hakgen-agent undrain %s takes it back)",
				name, plural(s.Total(), "session"), wait, name)}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(min(drainPoll, time.Until(deadline))):
		}
	}
}

// sessionsLine is "w1: 3 sessions (ingress-http 1, ingress-https 2)".
func sessionsLine(name string, s Sessions) string {
	var parts []string
	for _, b := range s.Backends() {
		parts = append(parts, fmt.Sprintf("%s %d", b, s.ByBackend[b]))
	}
	line := fmt.Sprintf("%s: %s (%s)", name, plural(s.Total(), "session"), strings.Join(parts, ", "))
	if s.InOldWorkers > 0 {
		line += fmt.Sprintf(", %d of them in old workers", s.InOldWorkers)
	}
	return line
}

// plural is "1 session", "2 sessions".
func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// Sessions are a server's sessions, as serverplan counts them.
type Sessions = serverplan.Sessions

func (o *undrainOptions) undrain(ctx context.Context, e *env, name string) error {
	m, w, err := o.worker(ctx)
	if err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, commandTimeout)
	undrained, weightless, err := serverplan.Undrain(cctx, w, name)
	cancel()
	if err != nil {
		return err
	}
	if len(undrained) == 0 {
		fmt.Fprintf(e.stdout, "%s: not drained by hakgen-agent drain\n", name)
	} else {
		fmt.Fprintf(e.stdout, "%s: undrained in %s\n", name, strings.Join(undrained, ", "))
		o.saveState(ctx, m, e.stderr)
	}
	if len(weightless) > 0 {
		fmt.Fprintf(e.stdout, "%s: weight 0 in %s (drain: true or weight: 0 in the state): it still takes no new connection\n", name, strings.Join(weightless, ", "))
	}
	return nil
}

// saveState saves the servers' state, so that a reload keeps what drain
// or undrain did; a failure is a warning: the drain itself holds.
func (o *serverFlags) saveState(ctx context.Context, m *haproxy.Master, stderr io.Writer) {
	cctx, cancel := context.WithTimeout(ctx, commandTimeout)
	defer cancel()
	if _, err := serverplan.SaveServerState(cctx, m, o.serverState, o.config); err != nil {
		fmt.Fprintf(stderr, "warning: the servers' state was not saved (%v): a reload not made by hakgen-agent may undo this\n", err)
	}
}
