package lab

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/hakgen/hakgen/hetzner/hetznertest"
)

// Bounds of a failover measurement.
const (
	// warmup is how long the client must have succeeded without a
	// failure before the fault is injected.
	warmup = time.Second
	// settle is how long the client keeps going after its first success
	// after the fault, to see that the recovery holds.
	settle = 2 * time.Second
	// faultJitter: the fault comes at a random moment within this after
	// the warm-up. The lab starts the same way every time, so without it
	// every run would hit the same phase of keepalived's one-second
	// advertisement and check timers, and the runs' spread would hide
	// the real one.
	faultJitter = time.Second
)

// Failover is what a client saw of one fault.
type Failover struct {
	Fault    time.Time // when the fault was injected
	End      time.Time // when the client stopped
	Outage   Outage
	Attempts []Attempt
	Requests []hetznertest.Request // to the fake API, from the fault on
}

// Result is the failover fields of a Run.
func (f *Failover) Result() Run {
	var r Run
	r.FromOutage(f.Outage, f.End.Sub(f.Fault))
	n := len(f.Requests)
	r.APIRequests = &n
	return r
}

// RunFailover runs the API client, injects fault at a random moment
// within a second after the client has succeeded for a second, and
// watches until every new connection has succeeded for two seconds, or
// window has passed since the fault.
func (l *Lab) RunFailover(ctx context.Context, window time.Duration, fault func(context.Context) error) (*Failover, error) {
	return l.RunFailoverOf(ctx, l.APIProber(), window, fault)
}

// RunFailoverOf is RunFailover with the client p (see AddrProber), which
// it stops.
func (l *Lab) RunFailoverOf(ctx context.Context, p *Prober, window time.Duration, fault func(context.Context) error) (*Failover, error) {
	defer p.Stop()
	if err := p.AwaitClean(ctx, warmup); err != nil {
		return nil, err
	}
	time.Sleep(rand.N(faultJitter))
	f := &Failover{Fault: time.Now()}
	if err := fault(ctx); err != nil {
		return nil, fmt.Errorf("injecting the fault: %w", err)
	}
	deadline := f.Fault.Add(window)
	for {
		now := time.Now()
		o, err := MeasureOutage(p.Attempts(), f.Fault, now)
		if err != nil {
			return nil, err
		}
		if (o.Recovered && now.Sub(o.StableSince) >= settle) || now.After(deadline) {
			break
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	f.Attempts = p.Stop()
	f.End = time.Now()
	o, err := MeasureOutage(f.Attempts, f.Fault, f.End)
	if err != nil {
		return nil, err
	}
	f.Outage = o
	f.Requests = l.RequestsSince(f.Fault)
	return f, nil
}

// AwaitClean waits until the client has made attempts for d and every
// attempt of the last d succeeded (30 s at most).
func (p *Prober) AwaitClean(ctx context.Context, d time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	start := time.Now()
	for {
		if now := time.Now(); now.Sub(start) >= d {
			ok, failed := 0, 0
			for _, a := range p.Attempts() {
				if a.Start.Before(now.Add(-d)) {
					continue
				}
				if a.OK() {
					ok++
				} else {
					failed++
				}
			}
			if ok > 0 && failed == 0 {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the client never went %s without a failure: %w", d, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}
