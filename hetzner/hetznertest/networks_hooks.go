package hetznertest

import (
	"sync"
	"time"
)

// OnRouteChanged calls hook with each network's routes delay after every
// change of them (an add_route or delete_route action that ended in
// success, or SetRoute): what a test needs to follow the private VIP's
// route in its own network, as Hetzner's forwards to the new gateway only
// once the action is done. Calls come one at a time, in the order of the
// changes, from a goroutine of the fake, and stop when the test ends.
func (f *Fake) OnRouteChanged(delay time.Duration, hook func(RouteChange)) {
	c := &routeCalls{delay: delay, hook: hook, wake: make(chan struct{}, 1)}
	f.mu.Lock()
	f.nets.hooks = append(f.nets.hooks, c)
	f.mu.Unlock()
	go c.run(f.done)
}

// routeCalls calls hook for each queued change once it is due; changes are
// queued in order with one delay, so they fall due in order.
type routeCalls struct {
	delay time.Duration
	hook  func(RouteChange)

	mu    sync.Mutex
	queue []RouteChange
	wake  chan struct{} // buffered(1): a change was queued
}

func (c *routeCalls) add(rc RouteChange) {
	c.mu.Lock()
	c.queue = append(c.queue, rc)
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *routeCalls) next() (RouteChange, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.queue) == 0 {
		return RouteChange{}, false
	}
	rc := c.queue[0]
	c.queue = c.queue[1:]
	return rc, true
}

// run calls the hook for every change, in order, until done is closed.
func (c *routeCalls) run(done <-chan struct{}) {
	for {
		rc, ok := c.next()
		if !ok {
			select {
			case <-c.wake:
				continue
			case <-done:
				return
			}
		}
		t := time.NewTimer(time.Until(rc.At.Add(c.delay)))
		select {
		case <-t.C:
			c.hook(rc)
		case <-done:
			t.Stop()
			return
		}
	}
}
