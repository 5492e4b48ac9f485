package agent

import (
	"context"
	"os"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/hakgen/hakgen/internal/atomicfile"
)

// Run owns reconciling until ctx is done, then returns nil. It watches the
// state file's directory, reconciles once at once, tells the Notifier
// READY (also when that first reconcile failed: the service keeps running
// its previous configuration, and the agent is up to fix it), and from
// then on reconciles on file events (coalesced), Trigger, the periodic
// resync, event overflows and changes of Config.Source. STATUS= carries
// the applied state or the current error; WATCHDOG pings come from this
// loop, so they stop when it is stuck.
//
// A reconcile in progress when ctx ends is finished first (bounded by
// Config.StepTimeout): a reload is never abandoned half-way with its
// rollback. Run returns an error only when it cannot start: another agent
// holds the locks on the directories of its files (ErrLocked), or the
// state file's directory cannot be watched.
func (a *Agent) Run(ctx context.Context) error {
	paths := []string{a.cfg.StatusPath}
	for _, t := range a.targets {
		paths = append(paths, t.Path, t.LastGood)
	}
	locks, err := lockDirs(paths...)
	if err != nil {
		return err
	}
	defer locks.release()
	w, err := watch(a.cfg.StatePath, a.log)
	if err != nil {
		return err
	}
	defer w.Close()
	a.removeLeftovers()
	l := &loop{Agent: a, sched: schedule{
		min: a.cfg.MinQuiescence, max: a.cfg.MaxQuiescence, minReload: a.cfg.MinReloadInterval,
	}}
	reloaded, retry := l.step(ctx, TriggerStart)
	l.sched.ran(time.Now(), reloaded)
	a.cfg.Notifier.Ready()
	a.log.Info("watching", zap.String("file", a.cfg.StatePath), zap.Duration("resync", a.cfg.Resync))
	return l.run(ctx, w.hints, retry)
}

// removeLeftovers removes the staged files a killed predecessor left beside
// the files the agent writes.
func (a *Agent) removeLeftovers() {
	paths := []string{a.cfg.StatusPath}
	for _, t := range a.targets {
		paths = append(paths, t.Path, t.LastGood)
	}
	for _, p := range paths {
		if p == "" {
			continue
		}
		stale, _ := atomicfile.Leftovers(p) // a missing directory has none
		for _, f := range stale {
			if err := os.Remove(f); err != nil {
				a.log.Warn("cannot remove a stale staged file", zap.String("file", f), zap.Error(err))
				continue
			}
			a.log.Info("removed a stale staged file", zap.String("file", f))
		}
	}
}

// loop is Run's state: the schedule and what was logged last, so that an
// error is logged once per distinct error rather than on every retry.
type loop struct {
	*Agent
	sched       schedule
	loggedErr   string
	loggedWarn  string
	loggedWrite string
	loggedOwed  string
}

// run schedules reconciles until ctx ends; retry arms the retry timer at
// once, for a first reconcile that could not finish.
func (l *loop) run(ctx context.Context, hints <-chan string, retry bool) error {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	resync := time.NewTicker(l.cfg.Resync)
	defer resync.Stop()
	retryTimer := time.NewTimer(time.Hour)
	retryTimer.Stop()
	defer retryTimer.Stop()
	if retry {
		retryTimer.Reset(l.cfg.RetryInterval)
	}
	var sourceChanged <-chan struct{} // nil without a Source: never ready
	if l.cfg.Source != nil {
		sourceChanged = l.cfg.Source.Changed()
	}
	var ping <-chan time.Time
	if d := l.cfg.Notifier.WatchdogInterval(); d > 0 {
		t := time.NewTicker(d)
		defer t.Stop()
		ping = t.C
	}
	for {
		var due <-chan time.Time
		if l.sched.pending() {
			timer.Reset(time.Until(l.sched.due()))
			due = timer.C
		}
		select {
		case <-ctx.Done():
			timer.Stop()
			l.cfg.Notifier.Stopping()
			l.log.Info("stopping")
			return nil
		case trigger := <-hints:
			l.sched.event(time.Now(), trigger)
		case <-l.kick:
			l.sched.force(time.Now(), TriggerSignal)
		case <-resync.C:
			l.sched.force(time.Now(), TriggerResync)
		case <-sourceChanged:
			l.sched.force(time.Now(), TriggerSource)
		case <-due:
			trigger := l.sched.trigger
			reloaded, retry := l.step(ctx, trigger)
			l.sched.ran(time.Now(), reloaded)
			retryTimer.Stop()
			if retry {
				retryTimer.Reset(l.cfg.RetryInterval)
			}
		case <-retryTimer.C:
			l.sched.force(time.Now(), TriggerRetry)
		case <-ping:
			l.cfg.Notifier.Ping()
		}
	}
}

// step runs one reconcile, records and reports it, and tells whether it
// reloaded a service.
func (l *loop) step(ctx context.Context, trigger string) (reloaded, retry bool) {
	if trigger == TriggerSignal {
		l.forgetFailures() // an operator asks to try again
	}
	stop := l.keepAlive(l.cfg.StepTimeout)
	r := l.reconcileOnce(context.WithoutCancel(ctx))
	stop()
	st := l.status.record(trigger, r, l.targets)
	l.report(trigger, r)
	if l.cfg.StatusPath != "" {
		l.once(&l.loggedWrite, errString(writeStatus(l.cfg.StatusPath, st)), func() {
			l.log.Warn("cannot write the status file", zap.String("file", l.cfg.StatusPath), zap.String("error", l.loggedWrite))
		})
	}
	l.cfg.Notifier.Status(st.Summary())
	ok, failed := r.reloads()
	return ok+failed > 0, r.retry()
}

// forgetFailures lets rendered bytes whose reload failed be tried again.
func (a *Agent) forgetFailures() {
	for _, t := range a.targets {
		t.failedHash, t.failedErr = "", nil
	}
}

// keepAlive pings the watchdog while a reconcile runs, for at most limit
// (the reconcile's own bound): a slow reload is not a hung agent, but a
// reconcile stuck past its bound stops the pings, and systemd restarts the
// agent. The returned function stops the pings.
func (l *loop) keepAlive(limit time.Duration) (stop func()) {
	interval := l.cfg.Notifier.WatchdogInterval()
	if interval <= 0 {
		return func() {}
	}
	// A ping now: the loop's last one may be nearly an interval old.
	l.cfg.Notifier.Ping()
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(interval)
		defer t.Stop()
		deadline := time.After(limit)
		for {
			select {
			case <-t.C:
				l.cfg.Notifier.Ping()
			case <-deadline:
				return
			case <-done:
				return
			}
		}
	}()
	return func() { close(done); <-finished }
}

// report logs a reconcile: warnings and errors once per distinct text,
// failed reloads every time (each one did something to the service).
func (l *loop) report(trigger string, r result) {
	log := l.log.With(zap.String("trigger", trigger))
	l.once(&l.loggedWarn, strings.Join(r.Warnings, "\n"), func() {
		for _, w := range r.Warnings {
			log.Warn("warning", zap.String("warning", w))
		}
	})
	switch r.Outcome {
	case OutcomeReverted, OutcomeBroken:
		l.reportRuntime(log, r)
		l.loggedErr = string(r.Outcome) + r.Err.Error()
		log.Error("reload failed", zap.String("outcome", string(r.Outcome)), zap.Error(r.Err))
		return
	case OutcomeInvalid, OutcomeError:
		l.once(&l.loggedErr, string(r.Outcome)+r.Err.Error(), func() {
			log.Error(failureMessage(r.Outcome), zap.String("file", l.cfg.StatePath), zap.String("outcome", string(r.Outcome)), zap.Error(r.Err))
		})
		return
	}
	if l.loggedErr != "" {
		log.Info("recovered", zap.String("hash", short(r.Hash)))
		l.loggedErr = ""
	}
	l.once(&l.loggedOwed, r.notes(), func() {
		log.Info("reload owed, retried", zap.String("hash", short(r.Hash)), zap.String("why", l.loggedOwed))
	})
	l.reportRuntime(log, r)
	if r.changed() {
		check, reload := r.durations()
		log.Info("applied", zap.String("hash", short(r.Hash)), zap.Duration("took", r.Took),
			zap.Duration("check", check), zap.Duration("reload", reload), zap.Strings("how", r.hows()))
		return
	}
	log.Debug("unchanged", zap.String("hash", short(r.Hash)), zap.Duration("took", r.Took))
}

// reportRuntime logs each target whose new file was changed at runtime,
// or reloaded instead, with what changed or why it was reloaded. Each
// line is about one new file, so it is logged once.
func (l *loop) reportRuntime(log *zap.Logger, r result) {
	for i, tr := range r.Targets {
		name := zap.String("target", l.targets[i].Name)
		switch {
		case tr.How == HowRuntime:
			log.Info("changed without a reload", name, zap.String("change", tr.Change), zap.Duration("took", tr.Runtime))
		case tr.RuntimeFailed > 0:
			log.Warn("the change failed at runtime; reloaded instead", name, zap.String("error", tr.ReloadReason))
		case tr.ReloadReason != "":
			log.Info("reloaded: the change needs a reload", name, zap.String("why", tr.ReloadReason))
		}
	}
}

// hows lists how each target's new file came to run, for the log.
func (r result) hows() []string {
	var out []string
	for _, t := range r.Targets {
		if t.How != "" {
			out = append(out, t.How)
		}
	}
	return out
}

func failureMessage(o Outcome) string {
	if o == OutcomeInvalid {
		return "state refused; keeping the running configuration"
	}
	return "reconcile failed; keeping the running configuration"
}

// once runs log when text differs from *last (and is not empty), then
// remembers text.
func (l *loop) once(last *string, text string, log func()) {
	if text == *last {
		return
	}
	*last = text
	if text != "" {
		log()
	}
}

// notes joins the notes of the targets whose reload is owed.
func (r result) notes() string {
	var notes []string
	for _, t := range r.Targets {
		if t.Note != "" {
			notes = append(notes, t.Note)
		}
	}
	return strings.Join(notes, "; ")
}

// changed reports whether some target was installed and reloaded.
func (r result) changed() bool {
	for _, t := range r.Targets {
		if t.Outcome == OutcomeApplied {
			return true
		}
	}
	return false
}

func (r result) durations() (check, reload time.Duration) {
	for _, t := range r.Targets {
		check += t.Check
		reload += t.Reload
	}
	return check, reload
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
