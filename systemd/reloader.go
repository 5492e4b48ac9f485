// Package systemd reloads units through systemd's D-Bus API and talks to
// systemd through sd_notify.
//
// Reloader reloads one unit (haproxy.service) with ReloadUnit in mode
// "replace", waits for the job's result, and then checks that the service
// really loaded its new configuration. It never restarts the unit: a
// restart drops every connection. Notifier sends READY, STATUS, WATCHDOG
// and STOPPING notifications for the agent itself.
package systemd

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/godbus/dbus/v5"
	"go.uber.org/zap"
)

// Reloader reloads one systemd unit over D-Bus. It is safe for concurrent
// use; concurrent Reloads run one after the other.
//
// The bus connection is opened by NewReloader and kept. When it drops (the
// bus daemon restarted, for instance) or a Reload failed, the next Reload
// dials again, at most Options.DialAttempts times. Close releases the
// connection.
type Reloader struct {
	opts Options
	log  *zap.Logger

	mu   sync.Mutex // serializes Reload and guards sess
	sess *session   // nil until connected and after a drop
}

// NewReloader returns a Reloader for opts (see Options for the defaults)
// and opens its bus connection. ctx bounds only that first connection, not
// the Reloader's lifetime. A nil logger logs nothing. An error means the
// bus could not be reached or opts is invalid; no connection is left open
// then.
func NewReloader(ctx context.Context, opts Options, logger *zap.Logger) (*Reloader, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if logger == nil {
		logger = zap.NewNop()
	}
	r := &Reloader{opts: opts, log: logger.Named("systemd").With(zap.String("unit", opts.Unit))}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, err := r.session(ctx); err != nil {
		return nil, err
	}
	return r, nil
}

// Close closes the bus connection. A later Reload opens a new one.
func (r *Reloader) Close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.drop()
}

// Reload makes the unit load its configuration again and reports whether
// it did.
//
// An active (or reloading) unit gets a reload job; an inactive or failed
// unit gets a start job unless Options.NoStart is set, in which case Reload
// fails; a unit in any other state (activating, deactivating, ...) is left
// alone and Reload fails with ErrBusy, so that the caller retries later.
// After a job whose result is "done", Reload waits (bounded by JobTimeout)
// until the unit is no longer reloading, fails if it is not active or its
// StatusText reports a failed reload, and finally runs Options.Verifier.
//
// ctx bounds the whole call. A nil error means the unit is running and
// every check passed. After any failure the bus connection is closed, so
// that the next Reload starts from a fresh one.
func (r *Reloader) Reload(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	start := time.Now()
	job, err := r.reload(ctx)
	if err != nil {
		r.drop()
		return err
	}
	msg := "unit reloaded"
	if job == jobStart {
		msg = "unit started"
	}
	r.log.Info(msg, zap.Duration("took", time.Since(start)))
	return nil
}

// reload runs one Reload and returns the kind of job it ran.
func (r *Reloader) reload(ctx context.Context) (jobKind, error) {
	s, state, err := r.currentState(ctx)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrNotSent, err)
	}
	job, err := r.chooseJob(state)
	if err != nil {
		return "", err
	}
	if job == jobStart {
		r.log.Warn("unit not running, starting it", zap.String("active_state", state))
	}
	return job, r.runAndCheck(ctx, s, job)
}

// currentState returns a session and the unit's ActiveState. When the read
// fails without a D-Bus reply, the kept connection may have died unnoticed:
// the read is retried once on a new connection (it asks nothing of
// systemd, so repeating it is harmless).
func (r *Reloader) currentState(ctx context.Context) (*session, string, error) {
	s, err := r.session(ctx)
	if err != nil {
		return nil, "", err
	}
	state, err := r.activeState(ctx, s)
	if err == nil || isReply(err) || ctx.Err() != nil {
		return s, state, err
	}
	r.log.Debug("reading unit state failed, reconnecting", zap.Error(err))
	r.drop()
	if s, err = r.session(ctx); err != nil {
		return nil, "", err
	}
	state, err = r.activeState(ctx, s)
	return s, state, err
}

// isReply reports whether err carries a D-Bus error reply, i.e. the bus
// and its peer answered and the connection works.
func isReply(err error) bool {
	var reply dbus.Error
	return errors.As(err, &reply)
}

// session returns the kept session, or opens a new one when there is none
// or it is closed. It makes at most DialAttempts attempts, RedialDelay
// apart. The caller holds r.mu.
func (r *Reloader) session(ctx context.Context) (*session, error) {
	if r.sess != nil && r.sess.alive() {
		return r.sess, nil
	}
	r.drop()
	var err error
	for attempt := 1; attempt <= r.opts.DialAttempts; attempt++ {
		if attempt > 1 && !sleep(ctx, r.opts.RedialDelay) {
			break
		}
		cctx, cancel := context.WithTimeout(ctx, r.opts.ConnectTimeout)
		r.sess, err = connect(cctx, r.opts.Dial)
		cancel()
		if err == nil {
			r.log.Debug("connected to the bus", zap.Int("attempt", attempt))
			return r.sess, nil
		}
	}
	return nil, fmt.Errorf("connecting to systemd: %w", err)
}

// drop closes and forgets the kept session. The caller holds r.mu.
func (r *Reloader) drop() {
	if r.sess != nil {
		r.sess.close()
		r.sess = nil
	}
}

// sleep waits for d or until ctx is done, and reports whether d elapsed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// chooseJob maps the unit's ActiveState to the job Reload runs.
func (r *Reloader) chooseJob(state string) (jobKind, error) {
	switch state {
	case "active", "reloading":
		return jobReload, nil
	case "inactive", "failed":
		if r.opts.NoStart {
			return "", fmt.Errorf("unit %s is %s: %w", r.opts.Unit, state, ErrNotRunning)
		}
		return jobStart, nil
	default:
		return "", fmt.Errorf("unit %s is %s: %w", r.opts.Unit, state, ErrBusy)
	}
}
