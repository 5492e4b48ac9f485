package haproxy

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
)

// Defaults of MasterReloader.
const (
	DefaultPollInterval  = 25 * time.Millisecond
	DefaultReloadTimeout = 30 * time.Second
)

// MasterReloader reloads HAProxy through the master CLI and waits until the
// outcome is visible in `show proc`: HAProxy 2.6 answers `reload` with
// nothing, and reports a failed reload only as a higher "[failed: N]" on
// the master line while the old worker keeps serving.
//
// A reload succeeded when the master's reload count rose and a worker not
// listed before is current and answers `@1 show info` with its own PID. It
// failed when the master's failed count rose.
//
// Reload and Await calls are serialized: two reloads in flight could not
// tell whose worker is whose. Set the exported fields before the first call.
type MasterReloader struct {
	master *Master
	log    *zap.Logger
	mu     sync.Mutex

	// PollInterval is the pause between two `show proc`; DefaultPollInterval
	// when zero.
	PollInterval time.Duration
	// Timeout bounds one Reload when ctx has no earlier deadline;
	// DefaultReloadTimeout when zero.
	Timeout time.Duration
	// Diagnose, when set, explains a failed reload on versions whose master
	// CLI keeps no startup logs (2.6), e.g. by running `haproxy -c` on the
	// configuration. Its answer goes into ReloadError.Logs.
	Diagnose func(ctx context.Context) string
}

// NewMasterReloader returns a reloader using m. log receives one line per
// successful reload.
func NewMasterReloader(m *Master, log *zap.Logger) *MasterReloader {
	return &MasterReloader{master: m, log: log.Named("reload")}
}

// ErrReloadNotSent is wrapped by Reload errors that happened before the
// reload command reached the master (the `show proc` before it failed, or
// no connection could be made for it): HAProxy never tried the new
// configuration and still runs what it ran, so there is nothing to roll
// back and the reload can simply be tried again.
var ErrReloadNotSent = errors.New("reload not sent")

// notSent marks an error as ErrReloadNotSent without changing its message.
type notSent struct{ err error }

func (e notSent) Error() string        { return e.err.Error() }
func (e notSent) Unwrap() error        { return e.err }
func (e notSent) Is(target error) bool { return target == ErrReloadNotSent }

// ReloadError is a reload HAProxy refused: the master counted a failure and
// the previous workers keep serving the previous configuration.
type ReloadError struct {
	FailedReloads int    // the master's "[failed: N]" after this reload
	Serving       []int  // PIDs of the workers still serving
	Logs          string // HAProxy's startup logs or Diagnose's answer; may be empty
}

func (e *ReloadError) Error() string {
	msg := fmt.Sprintf("haproxy reload failed (master reports %d failed reload(s) since the last good one); worker(s) %v keep serving the previous configuration",
		e.FailedReloads, e.Serving)
	if e.Logs == "" {
		return msg + "; the master CLI of this HAProxy gives no reason: see the master's output (journalctl -u haproxy)"
	}
	return msg + ":\n" + e.Logs
}

// Reload asks the master to reload and returns once a new worker runs the
// new configuration (nil), the master reports the reload failed
// (*ReloadError), or ctx or Timeout expires first (an error saying the
// outcome is unknown). An error before the command reached the master
// wraps ErrReloadNotSent.
func (r *MasterReloader) Reload(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, or(r.Timeout, DefaultReloadTimeout))
	defer cancel()
	before, err := r.master.ShowProc(ctx)
	if err != nil {
		return fmt.Errorf("reading show proc before reload: %w", notSent{err})
	}
	answer, err := r.master.Command(ctx, "reload")
	if errors.Is(err, ErrNotConnected) {
		return fmt.Errorf("sending reload: %w", notSent{err})
	}
	if err != nil && ctx.Err() != nil {
		return fmt.Errorf("sending reload: %w", err)
	}
	// Any other error came after the command was written: the master may
	// have re-executed itself before answering, so the outcome decides.
	if ok, logs, sync := parseReloadAnswer(answer); sync && !ok {
		after, err := r.master.ShowProc(ctx)
		if err != nil {
			after = before
		}
		return r.failure(ctx, after, logs)
	}
	return r.await(ctx, before, time.Now())
}

// Await waits for the outcome of a reload started elsewhere after before
// was read from ShowProc, e.g. by `systemctl reload haproxy` (Debian's unit
// sends SIGUSR2 to the master). It returns like Reload. Calls of Await and
// Reload are serialized.
func (r *MasterReloader) Await(ctx context.Context, before Procs) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, or(r.Timeout, DefaultReloadTimeout))
	defer cancel()
	return r.await(ctx, before, time.Now())
}

func (r *MasterReloader) await(ctx context.Context, before Procs, start time.Time) error {
	after, err := r.poll(ctx, before)
	if err != nil {
		return err
	}
	if after.Master.FailedReloads > before.Master.FailedReloads {
		return r.failure(ctx, after, "")
	}
	cur, _ := after.Current()
	r.log.Info("haproxy reloaded", zap.Int("pid", cur.PID), zap.Int("reloads", after.Master.Reloads),
		zap.Int("old_workers", len(after.OldWorkers)), zap.Duration("took", time.Since(start)))
	return nil
}

// parseReloadAnswer reads the synchronous answer of newer masters
// ("Success=1\n--\n<startup logs>"). sync is false for the empty answer of
// HAProxy 2.6.
func parseReloadAnswer(answer string) (ok bool, logs string, sync bool) {
	status, rest, _ := strings.Cut(answer, "\n")
	switch strings.TrimSpace(status) {
	case "Success=1":
		ok = true
	case "Success=0":
	default:
		return false, "", false
	}
	rest = strings.TrimPrefix(rest, "--\n")
	return ok, strings.TrimRight(rest, "\n"), true
}

// poll reads `show proc` until it shows the reload's outcome, bounded by
// ctx and by a number of polls.
func (r *MasterReloader) poll(ctx context.Context, before Procs) (Procs, error) {
	interval := or(r.PollInterval, DefaultPollInterval)
	maxPolls := int(or(r.Timeout, DefaultReloadTimeout)/interval) + 1
	var lastErr error
	last := before
	for i := range maxPolls {
		procs, err := r.master.ShowProc(ctx)
		if err == nil {
			last = procs
			if r.settled(ctx, before, procs) {
				r.log.Debug("reload outcome visible", zap.Int("polls", i+1))
				return procs, nil
			}
		} else {
			r.log.Debug("show proc during reload", zap.Error(err))
		}
		lastErr = err
		select {
		case <-ctx.Done():
			return Procs{}, r.unknown(ctx, before, last, lastErr)
		case <-time.After(interval):
		}
	}
	return Procs{}, r.unknown(ctx, before, last, lastErr)
}

// settled reports whether after shows the outcome: the master counted a
// failure, or a new worker is current and answers on the CLI with its PID.
func (r *MasterReloader) settled(ctx context.Context, before, after Procs) bool {
	if after.Master.FailedReloads > before.Master.FailedReloads {
		return true
	}
	cur, ok := after.Current()
	if !ok || after.Master.Reloads <= before.Master.Reloads || known(before, cur.PID) {
		return false
	}
	info, err := r.master.Worker(ctx, "show info")
	return err == nil && strings.Contains(info, fmt.Sprintf("\nPid: %d\n", cur.PID))
}

func (r *MasterReloader) unknown(ctx context.Context, before, last Procs, lastErr error) error {
	cause := ctx.Err()
	if cause == nil {
		cause = errors.New("too many polls")
	}
	if lastErr != nil {
		cause = fmt.Errorf("%w; last show proc: %w", cause, lastErr)
	}
	return fmt.Errorf("haproxy reload not confirmed (master reloads %d -> %d, failed %d -> %d, workers %v -> %v): %w",
		before.Master.Reloads, last.Master.Reloads, before.Master.FailedReloads, last.Master.FailedReloads,
		pids(before.Workers), pids(last.Workers), cause)
}

// failure builds the ReloadError, with the best explanation available.
func (r *MasterReloader) failure(ctx context.Context, after Procs, logs string) error {
	if logs == "" {
		logs = r.startupLogs(ctx)
	}
	if logs == "" && r.Diagnose != nil {
		logs = strings.TrimRight(r.Diagnose(ctx), "\n")
	}
	return &ReloadError{FailedReloads: after.Master.FailedReloads, Serving: pids(after.Workers), Logs: logs}
}

// startupLogs asks the master for its startup logs, which hold the reason of
// a failed reload on masters that know `show startup-logs` (not 2.6).
func (r *MasterReloader) startupLogs(ctx context.Context) string {
	out, err := r.master.Command(ctx, "show startup-logs")
	if err != nil || strings.HasPrefix(out, "Unknown command") {
		return ""
	}
	return strings.TrimSpace(out)
}

// known reports whether pid was a worker (current or old) in p.
func known(p Procs, pid int) bool {
	for _, w := range append(append([]Proc(nil), p.Workers...), p.OldWorkers...) {
		if w.PID == pid {
			return true
		}
	}
	return false
}

func pids(procs []Proc) []int {
	out := make([]int, 0, len(procs))
	for _, p := range procs {
		out = append(out, p.PID)
	}
	return out
}

func or(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}
