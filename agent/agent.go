// Package agent keeps generated configuration files (haproxy.cfg) equal to
// what the desired-state file asks for, for as long as it runs.
//
// One goroutine, Run, owns reconciling. File events on the state file's
// directory, SIGHUP (through Trigger), a periodic resync and fsnotify
// overflows only ask it to run; bursts are coalesced by a min/max
// quiescence window and a minimum interval between reloads.
//
// One reconcile (reconcileOnce) loads and validates the state, then for
// each Target renders the file, stops when the bytes equal the file on
// disk, stages the new bytes in a hidden file beside the target, checks the
// staged file (`haproxy -c`), keeps a last-known-good copy of the running
// file, renames the staged file over the target and reloads the service,
// or, when the target has a Runtime and the change allows, applies it to
// the running service without a reload (HAProxy's servers). Every
// fallible step before the rename leaves the target untouched; a runtime
// change that fails is followed by a reload; when the reload fails, the
// last-known-good copy is restored and the service reloaded again.
package agent

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"time"

	"go.uber.org/zap"

	"github.com/hakgen/hakgen/haproxy"
	"github.com/hakgen/hakgen/state"
)

// Checker validates a staged configuration file before it replaces the
// target, the way the service would load it. warnings are the tool's
// non-fatal messages; an error means the file must not be installed.
// haproxy.Checker implements it (a refused file is a *haproxy.CheckError).
type Checker interface {
	Check(ctx context.Context, path string) (warnings string, err error)
}

var _ Checker = haproxy.Checker{}

// Reloader makes the service load its configuration file again and reports
// whether it did. A nil error means the service runs the file now on disk.
type Reloader interface {
	Reload(ctx context.Context) error
}

// Notifier tells a supervisor (systemd) about the agent; *systemd.Notifier
// implements it. Calls must not block.
type Notifier interface {
	Ready()
	Status(text string)
	Stopping()
	Ping()
	WatchdogInterval() time.Duration
}

// Target is one generated file and the service that reads it.
type Target struct {
	// Name identifies the target in logs and the status file ("haproxy").
	Name string
	// Path is the file the service loads, e.g. /etc/haproxy/haproxy.cfg.
	Path string
	// LastGood is where a copy of the last file the service is known to
	// run is kept, to be restored when a reload fails.
	LastGood string
	// Perm is the mode of Path when it does not exist yet; an existing
	// file keeps its mode and owner. 0644 when zero.
	Perm fs.FileMode
	// Render turns the state into the file's bytes; it must be pure.
	Render func(*state.State) ([]byte, error)
	// Secret, when set and true for a state, means the file holds a
	// secret (the stats password's hash): it is installed readable by its
	// owner and SecretGroup only, whatever mode the file had.
	Secret      func(*state.State) bool
	SecretGroup string
	// Checker validates the staged file; nil checks nothing.
	Checker Checker
	// Reloader makes the service load Path again.
	Reloader Reloader
	// Runtime, when set, applies a new file to the running service without
	// a reload where the difference allows; the Reloader does the rest.
	// nil reloads every change.
	Runtime Runtime
}

// Defaults of Config.
const (
	DefaultResync            = 5 * time.Minute
	DefaultMinQuiescence     = 100 * time.Millisecond
	DefaultMaxQuiescence     = 2 * time.Second
	DefaultMinReloadInterval = time.Second
	// DefaultStepTimeout bounds one reconcile (checks and reloads included).
	DefaultStepTimeout = 2 * time.Minute
	// DefaultRetryInterval is the wait before retrying a reconcile that
	// could not finish for a passing reason (a reload owed, a busy unit).
	DefaultRetryInterval = 10 * time.Second
)

// Config configures an Agent. Zero durations take the defaults above.
type Config struct {
	// StatePath is the desired-state file, e.g. /etc/hakgen/state.yaml.
	StatePath string
	// Targets are reconciled in order; at least one.
	Targets []Target
	// StatusPath is where the status file is written after every
	// reconcile (atomically); empty writes none.
	StatusPath string
	// Resync is the period of reconciles without any event.
	Resync time.Duration
	// MinQuiescence: a reconcile runs once no event came for this long...
	MinQuiescence time.Duration
	// MaxQuiescence: ...or at the latest this long after the first event
	// of a burst.
	MaxQuiescence time.Duration
	// MinReloadInterval delays a reconcile that follows a reload closer
	// than this. Negative means no delay.
	MinReloadInterval time.Duration
	// StepTimeout bounds one reconcile.
	StepTimeout time.Duration
	// RetryInterval is the wait before retrying a reconcile that ended in
	// error or broken (DefaultRetryInterval when zero).
	RetryInterval time.Duration
	// Notifier receives READY, STATUS, WATCHDOG and STOPPING; nil sends
	// nothing.
	Notifier Notifier
	// Source, when set, completes the state from the file before it is
	// rendered (discovered servers), and its changes trigger reconciles.
	// nil renders the file's state alone.
	Source Source
}

// Agent reconciles the targets of one state file. Create it with New; Run
// owns it until it returns.
type Agent struct {
	cfg     Config
	log     *zap.Logger
	targets []*target
	kick    chan struct{} // Trigger's requests, buffered(1)
	status  *statusBook

	// hook, when set by tests, is called at the named points of a
	// reconcile (see the point constants).
	hook func(point string)
}

// New checks cfg, fills in its defaults and reads the status a previous
// run left at cfg.StatusPath, which tells whether the file on disk is the
// one the service runs (see Run). It touches nothing.
func New(cfg Config, log *zap.Logger) (*Agent, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	a := &Agent{cfg: cfg, log: log.Named("agent"), kick: make(chan struct{}, 1)}
	prev, err := ReadStatus(cfg.StatusPath)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		a.log.Warn("ignoring the previous status file", zap.String("file", cfg.StatusPath), zap.Error(err))
		prev = nil
	}
	for _, t := range cfg.Targets {
		rt, err := newTarget(t, prev)
		if err != nil {
			return nil, err
		}
		a.targets = append(a.targets, rt)
	}
	a.status = newStatusBook(cfg.StatePath, time.Now())
	return a, nil
}

func (c Config) withDefaults() (Config, error) {
	if c.StatePath == "" {
		return c, errors.New("agent: no state file")
	}
	if len(c.Targets) == 0 {
		return c, errors.New("agent: no targets")
	}
	for i, t := range c.Targets {
		if t.Name == "" || t.Path == "" || t.Render == nil || t.Reloader == nil {
			return c, fmt.Errorf("agent: target %d: Name, Path, Render and Reloader are required", i)
		}
		if t.LastGood == "" {
			return c, fmt.Errorf("agent: target %s: no last-known-good path", t.Name)
		}
		if filepath.Clean(t.LastGood) == filepath.Clean(t.Path) {
			return c, fmt.Errorf("agent: target %s: the last-known-good copy cannot be the target itself", t.Name)
		}
		if t.Perm == 0 {
			c.Targets[i].Perm = 0o644
		}
	}
	c.Resync = orDefault(c.Resync, DefaultResync)
	c.MinQuiescence = orDefault(c.MinQuiescence, DefaultMinQuiescence)
	c.MaxQuiescence = orDefault(c.MaxQuiescence, DefaultMaxQuiescence)
	c.MinReloadInterval = orDefault(c.MinReloadInterval, DefaultMinReloadInterval)
	c.StepTimeout = orDefault(c.StepTimeout, DefaultStepTimeout)
	c.RetryInterval = orDefault(c.RetryInterval, DefaultRetryInterval)
	if c.MaxQuiescence < c.MinQuiescence {
		return c, fmt.Errorf("agent: max quiescence %s is shorter than min quiescence %s", c.MaxQuiescence, c.MinQuiescence)
	}
	if c.Notifier == nil {
		c.Notifier = nopNotifier{}
	}
	return c, nil
}

// Trigger asks Run for a reconcile as soon as the minimum reload interval
// allows, without waiting for quiescence (SIGHUP). It never blocks; requests
// made while one is pending collapse into it. Safe for concurrent use.
func (a *Agent) Trigger() {
	select {
	case a.kick <- struct{}{}:
	default:
	}
}

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// nopNotifier is the Notifier of an agent not run by systemd.
type nopNotifier struct{}

func (nopNotifier) Ready()                          {}
func (nopNotifier) Status(string)                   {}
func (nopNotifier) Stopping()                       {}
func (nopNotifier) Ping()                           {}
func (nopNotifier) WatchdogInterval() time.Duration { return 0 }
