package lab

import (
	"context"
	"sync"
	"time"
)

// Clients are n clients that each make one attempt after another, pause
// between them, until stopped (at most maxProbing): a steady load of
// short connections, where a Prober is a steady rate.
type Clients struct {
	Name string

	mu       sync.Mutex
	attempts []Attempt
	cancel   context.CancelFunc
	done     chan struct{}
}

// StartClients starts n clients of probe, each attempt bounded by
// timeout; the lab stops them when it is torn down.
func (l *Lab) StartClients(name string, n int, pause, timeout time.Duration, probe ProbeFunc) *Clients {
	ctx, cancel := context.WithTimeout(context.Background(), maxProbing)
	c := &Clients{Name: name, cancel: cancel, done: make(chan struct{})}
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.loop(ctx, pause, timeout, probe)
		}()
	}
	go func() { wg.Wait(); close(c.done) }()
	l.onClose(func() { c.Stop() })
	return c
}

func (c *Clients) loop(ctx context.Context, pause, timeout time.Duration, probe ProbeFunc) {
	for ctx.Err() == nil {
		a := Attempt{Start: time.Now()}
		actx, cancel := context.WithTimeout(ctx, timeout)
		server, err := probe(actx)
		cancel()
		a.End = time.Now()
		if ctx.Err() != nil {
			return // stopped: not an attempt of the lab's
		}
		a.Server = server
		if err != nil {
			a.Err = err.Error()
		}
		c.mu.Lock()
		c.attempts = append(c.attempts, a)
		c.mu.Unlock()
		select {
		case <-time.After(pause):
		case <-ctx.Done():
		}
	}
}

// Stop ends the clients, waits for their open attempts and returns every
// attempt, in the order they ended.
func (c *Clients) Stop() []Attempt {
	c.cancel()
	<-c.done
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Attempt(nil), c.attempts...)
}
