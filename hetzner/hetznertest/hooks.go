package hetznertest

import (
	"sync"
	"time"
)

// OnAssigned calls hook with the Floating IP and the server delay after
// every assign action that ends in success: what a test needs to follow
// the move in its own network, as Hetzner's routes the Floating IP to the
// new server only once the action is done. Calls come one at a time, in
// the order the actions ended, from a goroutine of the fake, and stop when
// the test ends. Several hooks may be registered; each sees every move.
func (f *Fake) OnAssigned(delay time.Duration, hook func(floatingIPID, serverID int64)) {
	d := &delayedCalls{delay: delay, hook: hook, wake: make(chan struct{}, 1)}
	f.mu.Lock()
	f.assigned = append(f.assigned, d)
	f.mu.Unlock()
	go d.run(f.done)
}

// assignedLocked queues the hooks' calls for a completed assign. The
// caller holds f.mu.
func (f *Fake) assignedLocked(floatingIPID, serverID int64) {
	now := time.Now()
	for _, d := range f.assigned {
		d.add(move{due: now.Add(d.delay), floatingIP: floatingIPID, server: serverID})
	}
}

// move is one completed assign waiting for its hook call.
type move struct {
	due        time.Time
	floatingIP int64
	server     int64
}

// delayedCalls calls hook for each queued move once it is due. Moves are
// queued in completion order with one delay, so they fall due in order.
type delayedCalls struct {
	delay time.Duration
	hook  func(floatingIPID, serverID int64)

	mu    sync.Mutex
	queue []move
	wake  chan struct{} // buffered(1): a move was queued
}

func (d *delayedCalls) add(m move) {
	d.mu.Lock()
	d.queue = append(d.queue, m)
	d.mu.Unlock()
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

func (d *delayedCalls) next() (move, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.queue) == 0 {
		return move{}, false
	}
	m := d.queue[0]
	d.queue = d.queue[1:]
	return m, true
}

// run calls the hook for every move, in order, until done is closed.
func (d *delayedCalls) run(done <-chan struct{}) {
	for {
		m, ok := d.next()
		if !ok {
			select {
			case <-d.wake:
				continue
			case <-done:
				return
			}
		}
		t := time.NewTimer(time.Until(m.due))
		select {
		case <-t.C:
			d.hook(m.floatingIP, m.server)
		case <-done:
			t.Stop()
			return
		}
	}
}
