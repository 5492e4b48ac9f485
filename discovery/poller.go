package discovery

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/hakgen/hakgen/state"
)

// Config configures a Poller.
type Config struct {
	// Connect gives the API for a state (HCloud in production).
	Connect Connect
	// Path keeps the discovered set across restarts (DefaultPath); empty
	// keeps none.
	Path string
	// StatusPath is rewritten after every poll (StatusPath of the agent's
	// status file); empty writes none.
	StatusPath string
}

// Poller keeps the discovered set current. Complete and Changed are what
// the agent's reconcile uses (agent.Source); Run polls until its context
// ends. All methods are safe for concurrent use.
type Poller struct {
	cfg     Config
	log     *zap.Logger
	changed chan struct{} // buffered(1): the set changed
	wake    chan struct{} // buffered(1): what is polled changed

	mu        sync.Mutex
	st        *state.State // the state Complete was last given
	key       string       // what st polls (pollKey)
	set       Set          // the discovered set in force
	networkID int64        // of network, resolved once per network
	network   string
	guard     guard
	status    Status
	kept      Saved             // what cfg.Path holds (its PolledAt aside)
	pollSkips map[string]string // reported skips of the last poll, by list/name
	mergeLogs map[string]string // reported skips of the last Complete
	loggedErr string            // the last poll error logged
	cost      int               // the requests per hour last logged
}

// New returns a poller whose set is the one kept at cfg.Path (empty when
// there is none or it cannot be read, which is logged). It makes no
// request: Run does.
func New(cfg Config, log *zap.Logger) *Poller {
	p := &Poller{cfg: cfg, log: log.Named("discovery"), changed: make(chan struct{}, 1), wake: make(chan struct{}, 1),
		pollSkips: map[string]string{}, mergeLogs: map[string]string{}}
	p.status = Status{PID: os.Getpid(), Source: "none", Selectors: map[string]string{}}
	if cfg.Path == "" {
		return p
	}
	saved, err := Load(cfg.Path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		p.log.Warn("ignoring the kept discovered servers", zap.String("file", cfg.Path), zap.Error(err))
	default:
		p.set, p.network, p.networkID, p.kept = saved.Set, saved.Network, saved.NetworkID, saved
		p.status.Source, p.status.Servers = "persisted", saved.Set
		p.log.Info("using the discovered servers kept from before until the first poll",
			zap.String("file", cfg.Path), zap.Time("polled_at", saved.PolledAt),
			zap.Int("control_planes", len(saved.ControlPlanes)), zap.Int("workers", len(saved.Workers)))
	}
	return p
}

// Changed delivers a value whenever the discovered set changed, so that
// Complete returns something new.
func (p *Poller) Changed() <-chan struct{} { return p.changed }

// Set is the discovered set in force.
func (p *Poller) Set() Set {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.set
}

// Status is the poller's status, as last written.
func (p *Poller) Status() Status {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.status
}

// PollNow asks Run for a poll at once (SIGHUP). It never blocks.
func (p *Poller) PollNow() { signal(p.wake) }

// Complete returns the state to apply for s, the state read from the
// file: its servers and the discovered ones (see package doc). It also
// tells the poller what to poll: a changed discovery section (or token
// file) is polled at once. It never waits for the API. The error reports a
// state that cannot be applied yet: every control plane is to be
// discovered and none has been.
func (p *Poller) Complete(s *state.State) (*state.State, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.st = s
	if key := pollKey(s); key != p.key {
		p.key = key
		signal(p.wake)
	}
	out, skipped, err := merge(s, p.set)
	p.mergeLogs = p.reportSkips(p.mergeLogs, skipped)
	return out, err
}

// pollKey is what polling s means: a change of it is polled at once.
func pollKey(s *state.State) string {
	d := s.HCloudDiscovery()
	if d == nil {
		return ""
	}
	token, _ := s.TokenFile()
	return strings.Join([]string{string(d.Network), d.Interval.String(), d.ControlPlanes, d.Workers, token}, "\x00")
}

// Run polls until ctx ends: as soon as Complete has given it a state with
// a discovery section, then every discovery.hcloud.interval, and at once
// whenever that section changes.
func (p *Poller) Run(ctx context.Context) {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-p.wake:
		case <-timer.C:
		}
		timer.Stop()
		if interval := p.pollOnce(ctx); interval > 0 {
			timer.Reset(interval)
		}
	}
}

// pollOnce polls the API once for the state Complete last got and applies
// the result. It returns the interval until the next poll, 0 when the
// state discovers nothing. Tests call it directly.
func (p *Poller) pollOnce(ctx context.Context) time.Duration {
	p.mu.Lock()
	s := p.st
	p.mu.Unlock()
	if s == nil || s.HCloudDiscovery() == nil {
		return 0
	}
	d := s.HCloudDiscovery()
	interval := time.Duration(d.Interval)
	ctx, cancel := context.WithTimeout(ctx, interval)
	defer cancel()
	start := time.Now()
	r := p.fetch(ctx, s, d)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.record(s, d, r, start)
	return interval
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// errorText is err's text, for comparing errors.
func errorText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// describe names a list for log lines: "worker", "control plane".
func describe(list string) string {
	if list == state.ListControlPlanes {
		return "control plane"
	}
	return "worker"
}

// costLine is the log line of what polling costs.
func costLine(perPoll int, interval time.Duration, perHour int) string {
	return fmt.Sprintf("%d API requests a poll every %s: about %d an hour from this load balancer, %d with both, of the project's 3600 (shared with the failover and the cloud controller manager)",
		perPoll, interval, perHour, 2*perHour)
}
