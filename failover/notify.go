// Package failover is what `hakgen-agent notify` does, apart from the
// command line: it records keepalived's state transitions in order, moves
// the Floating IP here on MASTER, and gives up when a newer state makes
// that wrong. Healer re-asserts the Floating IP from the daemon while the
// recorded state is MASTER.
//
// keepalived runs notify scripts without waiting for them, so runs may
// overlap. Every run records its state with the next sequence number
// first (a lock held for microseconds); MASTER runs then take the assign
// lock one at a time and check the record before, during and after the
// API call.
package failover

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/hakgen/hakgen/hetzner"
)

// DefaultDeadline bounds a whole notify run, lock wait included.
const DefaultDeadline = 30 * time.Second

// Assigner points the Floating IP to a server and confirms it
// (*hetzner.Client).
type Assigner interface {
	Assign(ctx context.Context, floatingIPID, serverID int64) (hetzner.Result, error)
}

// ServerIDFunc returns this server's ID: a constant from the state, or a
// lookup such as (*hetzner.ServerIDSource).ServerID.
type ServerIDFunc func(ctx context.Context) (int64, error)

// StaticServerID is a ServerIDFunc for a known ID.
func StaticServerID(id int64) ServerIDFunc {
	return func(context.Context) (int64, error) { return id, nil }
}

// Unavailable is an Assigner that fails with err: for a run that cannot
// build its API client (no token, say) but must still record its state.
func Unavailable(err error) Assigner { return unavailable{err} }

type unavailable struct{ err error }

func (u unavailable) Assign(context.Context, int64, int64) (hetzner.Result, error) {
	return hetzner.Result{}, u.err
}

// Config configures a Notifier.
type Config struct {
	StateDir string // DefaultStateDir when empty
	// FloatingIPID is the one Floating IP a MASTER run assigns through
	// the Notifier's Assigner, unless Targets is set.
	FloatingIPID int64
	ServerID     ServerIDFunc  // consulted on MASTER only
	Deadline     time.Duration // DefaultDeadline when zero
	// Targets, when set, returns what a MASTER run of ev moves, in
	// order (a position in it is a bit of ExitCode's mask). It is called
	// once ServerID has answered, before the assign locks are taken.
	Targets func(ctx context.Context, ev Event) ([]Target, error)
}

// Notifier handles keepalived notifications.
type Notifier struct {
	store    *Store
	cfg      Config
	assigner Assigner
	log      *zap.Logger
}

// NewNotifier returns a Notifier; a is used on MASTER only.
func NewNotifier(cfg Config, a Assigner, log *zap.Logger) *Notifier {
	if cfg.Deadline == 0 {
		cfg.Deadline = DefaultDeadline
	}
	return &Notifier{store: NewStore(cfg.StateDir), cfg: cfg, assigner: a, log: log.Named("notify")}
}

// Notify parses keepalived's arguments (see ParseArgs) and handles them.
func (n *Notifier) Notify(ctx context.Context, args []string) error {
	ev, err := ParseArgs(args)
	if err != nil {
		return err
	}
	return n.Handle(ctx, ev)
}

// Handle records ev and, for MASTER, moves its targets here (the
// Floating IP of Config.FloatingIPID, or Config.Targets'). BACKUP, FAULT,
// STOP and DELETED only record. The whole run ends by the
// Deadline. A MASTER run returns a *SupersededError when a later run
// recorded a newer state first (see failover).
func (n *Notifier) Handle(ctx context.Context, ev Event) error {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, n.cfg.Deadline)
	defer cancel()
	rec, err := n.store.Record(ctx, ev)
	if err != nil {
		return fmt.Errorf("recording keepalived state %s: %w", ev.State, err)
	}
	n.log.Info("keepalived state recorded", zap.String("state", string(rec.State)),
		zap.Uint64("seq", rec.Seq), zap.String("event", rec.Event))
	if ev.State != Master {
		return nil
	}
	res, err := n.failover(ctx, ev, rec, start)
	n.addToHistory(start, rec, res, err)
	if err != nil {
		return fmt.Errorf("failover to this server failed after %s: %w", time.Since(start).Round(time.Millisecond), err)
	}
	return nil
}

// addToHistory adds this MASTER run to the failover history the daemon
// exports; a history that cannot be written costs the run nothing.
func (n *Notifier) addToHistory(start time.Time, rec Record, res hetzner.Result, err error) {
	run := FailoverRun{At: start.UTC(), Result: ResultName(err), Seconds: time.Since(start).Seconds(),
		Requests: res.Requests, RateLimit: res.RateLimit.Remaining, Instance: rec.Instance}
	if err != nil {
		run.Error = err.Error()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if herr := n.store.AddRun(ctx, run); herr != nil {
		n.log.Warn("cannot add this run to the failover history", zap.Error(herr))
	}
}

// failover moves the targets of the MASTER run rec here, all at once:
//   - it waits for their assign locks, then gives up if any newer state
//     of its instance was recorded meanwhile (a newer MASTER run will do
//     the work);
//   - during the API calls a newer BACKUP/FAULT/STOP cancels them;
//   - after they succeeded a newer non-MASTER state still makes it report
//     superseded (the new MASTER takes the addresses back).
func (n *Notifier) failover(ctx context.Context, ev Event, rec Record, start time.Time) (res hetzner.Result, err error) {
	// This server's ID (and with it the state file) is read before the
	// locks: a read that blocks or fails must never hold up the runs
	// queued behind this one.
	serverID, err := n.serverID(ctx)
	if err != nil {
		return res, err
	}
	targets, err := n.targets(ctx, ev)
	if err != nil {
		return res, err
	}
	unlock, err := n.store.lockTargets(ctx, targets)
	if err != nil {
		return res, err
	}
	defer unlock()
	if err := n.store.newer(rec, anyNewer); err != nil {
		return res, err
	}
	wctx, stop := n.store.watchSuperseded(ctx, rec)
	defer stop()
	results := moveAll(wctx, targets, serverID)
	res, err = combine(targets, results)
	if sup := supersededCause(wctx); sup != nil {
		sup.Assigned = err == nil
		return res, sup
	}
	for i, r := range results {
		if r.err == nil {
			n.logMoved(targets[i], rec, r, start)
		}
	}
	if err != nil {
		return res, err
	}
	if err := n.store.newer(rec, newerMaster); err != nil {
		var sup *SupersededError
		if errors.As(err, &sup) {
			sup.Assigned = true
		}
		return res, err
	}
	return res, nil
}

func (n *Notifier) serverID(ctx context.Context) (int64, error) {
	if n.cfg.ServerID == nil {
		return 0, errors.New("no way to find this server's ID configured")
	}
	id, err := n.cfg.ServerID(ctx)
	if err != nil {
		return 0, fmt.Errorf("finding this server's ID: %w", err)
	}
	return id, nil
}

// targets is what the MASTER run of ev moves: Config.Targets', else the
// one Floating IP of Config.FloatingIPID.
func (n *Notifier) targets(ctx context.Context, ev Event) ([]Target, error) {
	if n.cfg.Targets == nil {
		return []Target{FloatingIPTarget(n.cfg.FloatingIPID, n.assigner)}, nil
	}
	ts, err := n.cfg.Targets(ctx, ev)
	if err == nil && len(ts) == 0 {
		err = fmt.Errorf("%s has nothing to move here", ev)
	}
	return ts, err
}

func supersededCause(ctx context.Context) *SupersededError {
	var sup *SupersededError
	if errors.As(context.Cause(ctx), &sup) {
		return sup
	}
	return nil
}

// logMoved logs a target that points here now.
func (n *Notifier) logMoved(t Target, rec Record, r moveResult, start time.Time) {
	res := r.res
	fields := []zap.Field{zap.String("target", t.Name)}
	if res.FloatingIPID != 0 {
		fields = append(fields, zap.Int64("floating_ip", res.FloatingIPID), zap.Int64("server", res.ServerID))
	}
	n.log.Info(t.Moved, append(fields,
		zap.Uint64("seq", rec.Seq),
		zap.Duration("took", r.end.Sub(start)),
		zap.Duration("api_took", res.Total), zap.Duration("accepted_after", res.Accepted),
		zap.Int("requests", res.Requests), zap.Int("retries", res.Retries),
		zap.Int("ratelimit_remaining", res.RateLimit.Remaining))...)
}
