package systemd

import (
	"context"
	"errors"
	"time"
)

// Defaults used by NewReloader for the zero fields of Options.
const (
	DefaultUnit           = "haproxy.service"
	DefaultJobTimeout     = 30 * time.Second
	DefaultCallTimeout    = 10 * time.Second
	DefaultConnectTimeout = 10 * time.Second
	DefaultDialAttempts   = 3
	DefaultRedialDelay    = time.Second
	DefaultPollInterval   = 200 * time.Millisecond
)

// Verifier checks, after systemd reported the reload job done, that the
// service really runs the new configuration (for HAProxy: the master CLI's
// `show proc` shows no new failed reload). A non-nil error fails the Reload.
type Verifier interface {
	Verify(ctx context.Context) error
}

// VerifierFunc adapts a function to Verifier.
type VerifierFunc func(ctx context.Context) error

// Verify calls f(ctx).
func (f VerifierFunc) Verify(ctx context.Context) error { return f(ctx) }

var _ Verifier = VerifierFunc(nil)

// Options configures a Reloader. Zero fields take the defaults above.
type Options struct {
	// Unit is the unit to reload; DefaultUnit when empty.
	Unit string
	// JobTimeout bounds one job: enqueuing it, waiting for its JobRemoved
	// signal and waiting for the unit to settle afterwards.
	JobTimeout time.Duration
	// CallTimeout bounds each property read.
	CallTimeout time.Duration
	// ConnectTimeout bounds opening one bus connection (both dials, the
	// authentication and the match rule go-systemd installs).
	ConnectTimeout time.Duration
	// DialAttempts bounds how often one Reload tries to open a connection.
	DialAttempts int
	// RedialDelay is the pause between two connection attempts.
	RedialDelay time.Duration
	// PollInterval is the pause between two reads of a unit that is still
	// reloading after its job finished.
	PollInterval time.Duration
	// NoStart makes Reload fail on an inactive or failed unit instead of
	// starting it. A unit is never restarted either way.
	NoStart bool
	// Dial opens one authenticated bus connection on which Hello has
	// succeeded; SystemBus when nil. It is called twice per connection
	// (go-systemd uses one for calls and one for signals).
	Dial DialFunc
	// Verifier, when set, runs after every successful job.
	Verifier Verifier
	// FailedStatus lists substrings of the service's StatusText that mean
	// the reload failed; DefaultFailedStatus when nil.
	FailedStatus []string
	// PendingStatus lists substrings of StatusText that mean the service
	// is still loading its configuration; DefaultPendingStatus when nil.
	PendingStatus []string
}

// DefaultFailedStatus is what HAProxy (2.6 and later) puts in STATUS= when
// a reload failed. It still sends READY=1 in that case.
func DefaultFailedStatus() []string { return []string{"Reload failed"} }

// DefaultPendingStatus is what HAProxy puts in STATUS= while it reloads.
func DefaultPendingStatus() []string { return []string{"Reloading"} }

// withDefaults returns o with every zero field set to its default, or an
// error for a negative duration or count.
func (o Options) withDefaults() (Options, error) {
	if o.JobTimeout < 0 || o.CallTimeout < 0 || o.ConnectTimeout < 0 ||
		o.RedialDelay < 0 || o.PollInterval < 0 || o.DialAttempts < 0 {
		return o, errors.New("systemd options: durations and counts must not be negative")
	}
	o.Unit = orDefault(o.Unit, DefaultUnit)
	o.JobTimeout = orDefault(o.JobTimeout, DefaultJobTimeout)
	o.CallTimeout = orDefault(o.CallTimeout, DefaultCallTimeout)
	o.ConnectTimeout = orDefault(o.ConnectTimeout, DefaultConnectTimeout)
	o.DialAttempts = orDefault(o.DialAttempts, DefaultDialAttempts)
	o.RedialDelay = orDefault(o.RedialDelay, DefaultRedialDelay)
	o.PollInterval = orDefault(o.PollInterval, DefaultPollInterval)
	if o.Dial == nil {
		o.Dial = SystemBus
	}
	if o.FailedStatus == nil {
		o.FailedStatus = DefaultFailedStatus()
	}
	if o.PendingStatus == nil {
		o.PendingStatus = DefaultPendingStatus()
	}
	return o, nil
}

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}
