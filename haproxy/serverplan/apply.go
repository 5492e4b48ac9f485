package serverplan

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/hakgen/hakgen/haproxy"
)

// Runtime is what Apply needs of HAProxy: one worker's Runtime API.
// *haproxy.Worker, pinned with haproxy.CurrentWorker, is the one to use.
type Runtime interface {
	PID() int
	Run(ctx context.Context, c haproxy.Command) error
	ServersState(ctx context.Context, backend string) ([]haproxy.ServerState, error)
	ServerSessions(ctx context.Context, backend string) (map[string]int, error)
}

var _ Runtime = (*haproxy.Worker)(nil)

// Defaults of Executor.
const (
	DefaultRemoveGrace  = 2 * time.Second
	DefaultPollInterval = 20 * time.Millisecond
	// shutdownWait bounds how long sessions may take to close after
	// `shutdown sessions server`, which closes them at once.
	shutdownWait = 2 * time.Second
	// maintWait bounds how long the sessions of a server with on-marked-down
	// shutdown-sessions may take to close once it is in maintenance.
	maintWait = 200 * time.Millisecond
)

// Executor applies plans. The zero value is ready to use.
type Executor struct {
	// Log gets one line per applied plan; none when nil.
	Log *zap.Logger
	// RemoveGrace is how long a removed server's sessions may take to end
	// by themselves once it is drained (it takes no new connection then);
	// then it goes to maintenance, which ends the sessions left of a server
	// with `on-marked-down shutdown-sessions` (every server hakgen renders),
	// and the others are shut down, so that the server can be deleted.
	// Short connections in flight finish; a watch or stream of a removed
	// server is cut after it. DefaultRemoveGrace when zero; negative: at
	// once. To end long sessions gently, drain the server first (drain:
	// true) and remove it once they are gone.
	RemoveGrace time.Duration
	// PollInterval is the pause between two session counts;
	// DefaultPollInterval when zero.
	PollInterval time.Duration
}

// Apply applies p to the worker rt and checks the result. The worker must
// have been pinned after the new configuration file was installed, so
// that a reload racing the plan loads that file.
//
// In order: `show servers state` of each backend must equal the plan's
// Before (else nothing is changed); servers are added (`add server` with
// every keyword, `enable health`, `enable server`), so capacity comes
// first; addresses and weights change (a server going to weight 0 loses
// its weight before its address changes, any other gets its address
// first); removed servers are drained (no new connection), their sessions
// get RemoveGrace to end, then they go to maintenance, the sessions left
// are ended, and they are deleted; then `show servers state` must equal After exactly: the same
// names, addresses, ports and weights, and no maintenance or drain. A
// drain set on the CLI (`hakgen-agent drain`) is no mismatch: it stays on
// a server the plan does not change, and ends (`state ready`) on one it
// updates, as a change of that server in the state ends it.
//
// Any failed command, a mismatch, or a command that reached another
// worker (haproxy.ErrWorkerChanged: a reload happened) stops Apply with an
// error naming the command and HAProxy's answer; the commands before it
// stay applied. The caller then reloads. Each command moves a server to
// its state in the new file or acts on a server the new file no longer
// has, so one that reached a worker loaded from the new file changes
// nothing there.
func (e Executor) Apply(ctx context.Context, rt Runtime, p Plan) error {
	start := time.Now()
	drained, err := e.check(ctx, rt, p, false, nil)
	if err != nil {
		return err
	}
	cmds := append(p.addCommands(), p.updateCommands()...)
	cmds = append(cmds, p.undrainCommands(drained)...)
	for _, c := range cmds {
		if err := rt.Run(ctx, c); err != nil {
			return fmt.Errorf("changing servers at runtime: %w", err)
		}
	}
	if err := e.remove(ctx, rt, p); err != nil {
		return fmt.Errorf("changing servers at runtime: %w", err)
	}
	if _, err := e.check(ctx, rt, p, true, p.untouched(drained)); err != nil {
		return err
	}
	if e.Log != nil {
		e.Log.Info("servers changed without a reload", zap.Int("pid", rt.PID()), zap.String("plan", p.String()),
			zap.Duration("took", time.Since(start)))
	}
	return nil
}

// check compares each backend of the plan with Before, or After when
// after is set. Before, a drain set on the CLI is no difference, and the
// servers that have one are returned, by backend; after, only those of
// cliDrained may have one.
func (e Executor) check(ctx context.Context, rt Runtime, p Plan, after bool, cliDrained map[string]map[string]bool) (map[string]map[string]bool, error) {
	found := map[string]map[string]bool{}
	for _, b := range p.Backends {
		states, err := rt.ServersState(ctx, b.Backend)
		if err != nil {
			return nil, fmt.Errorf("changing servers at runtime: reading backend %s: %w", b.Backend, err)
		}
		want, tolerated := b.Before, cliDrains(states)
		if after {
			want, tolerated = b.After, cliDrained[b.Backend]
		}
		found[b.Backend] = tolerated
		if diffs := compare(b.Backend, want, states, tolerated); len(diffs) > 0 {
			return nil, &MismatchError{PID: rt.PID(), After: after, Diffs: diffs}
		}
	}
	return found, nil
}

// undrainCommands end the CLI drains of the servers the plan updates: a
// change of a server in the state ends a drain set by `hakgen-agent
// drain`, as it does across a reload (see CarryServerState).
func (p Plan) undrainCommands(drained map[string]map[string]bool) []haproxy.Command {
	var out []haproxy.Command
	for _, b := range p.Backends {
		for _, u := range b.Update {
			if drained[b.Backend][u.Name] {
				out = append(out, haproxy.SetServerState(b.Backend, u.Name, haproxy.StateReady))
			}
		}
	}
	return out
}

// untouched is drained without the servers the plan updates or removes:
// the CLI drains Apply leaves in place.
func (p Plan) untouched(drained map[string]map[string]bool) map[string]map[string]bool {
	out := map[string]map[string]bool{}
	for _, b := range p.Backends {
		keep := map[string]bool{}
		for name := range drained[b.Backend] {
			keep[name] = true
		}
		for _, u := range b.Update {
			delete(keep, u.Name)
		}
		for _, s := range b.Remove {
			delete(keep, s.Name)
		}
		out[b.Backend] = keep
	}
	return out
}

func (p Plan) addCommands() []haproxy.Command {
	var out []haproxy.Command
	for _, b := range p.Backends {
		for _, s := range b.Add {
			out = append(out, haproxy.AddServer(b.Backend, s.Name, s.Addr, s.Keywords))
			if s.Check {
				out = append(out, haproxy.EnableHealth(b.Backend, s.Name))
			}
			out = append(out, haproxy.EnableServer(b.Backend, s.Name))
		}
	}
	return out
}

func (p Plan) updateCommands() []haproxy.Command {
	var out []haproxy.Command
	for _, b := range p.Backends {
		for _, u := range b.Update {
			var addr, weight []haproxy.Command
			if u.Before.Addr != u.After.Addr {
				addr = append(addr, haproxy.SetServerAddr(b.Backend, u.Name, u.After.Addr))
			}
			if u.Before.Weight != u.After.Weight {
				weight = append(weight, haproxy.SetServerWeight(b.Backend, u.Name, u.After.Weight))
			}
			if u.After.Weight == 0 {
				out = append(append(out, weight...), addr...)
			} else {
				out = append(append(out, addr...), weight...)
			}
		}
	}
	return out
}

func (p Plan) drainCommands() []haproxy.Command {
	var out []haproxy.Command
	for _, b := range p.Backends {
		for _, s := range b.Remove {
			out = append(out, haproxy.SetServerState(b.Backend, s.Name, haproxy.StateDrain))
		}
	}
	return out
}

func (p Plan) maintCommands() []haproxy.Command {
	var out []haproxy.Command
	for _, b := range p.Backends {
		for _, s := range b.Remove {
			out = append(out, haproxy.SetServerState(b.Backend, s.Name, haproxy.StateMaint))
		}
	}
	return out
}

func (p Plan) delCommands() []haproxy.Command {
	var out []haproxy.Command
	for _, b := range p.Backends {
		for _, s := range b.Remove {
			out = append(out, haproxy.DelServer(b.Backend, s.Name))
		}
	}
	return out
}
