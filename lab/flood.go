package lab

import (
	"context"
	"net"
	"sync"
	"time"
)

// Bounds of a flood.
const (
	// floodDialTimeout bounds one connect: a SYN that finds the listen
	// queue full is dropped, and the connect times out.
	floodDialTimeout = time.Second
	// floodDialers bounds the connects in progress at once.
	floodDialers = 64
)

// Flood holds idle connections to a port of the Floating IP, as a client
// that connects and sends nothing: up to Max at once, each one HAProxy
// closes opened again, until stopped (at most maxProbing).
type Flood struct {
	Port, Max int

	mu     sync.Mutex
	held   int
	stats  FloodStats
	cancel context.CancelFunc
	done   chan struct{}
}

// FloodStats is what a flood did.
type FloodStats struct {
	Opened   int // connects that succeeded
	Closed   int // connections the other side closed
	Failed   int // connects that failed (timed out, refused)
	PeakHeld int // the most connections open at once
}

// StartFlood starts a flood of max connections to port; the lab stops it
// when it is torn down.
func (l *Lab) StartFlood(port, max int) *Flood {
	ctx, cancel := context.WithTimeout(context.Background(), maxProbing)
	f := &Flood{Port: port, Max: max, cancel: cancel, done: make(chan struct{})}
	dial := l.Internet.Dialer(ClientAddr)
	addr := l.floatingAddr(port)
	sem := make(chan struct{}, floodDialers)
	var wg sync.WaitGroup
	for range max {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f.hold(ctx, dial, addr, sem)
		}()
	}
	go func() { wg.Wait(); close(f.done) }()
	l.onClose(func() { f.Stop() })
	return f
}

// hold keeps one connection open: it connects, waits until the other
// side closes, and connects again.
func (f *Flood) hold(ctx context.Context, dial func(context.Context, string, string) (net.Conn, error), addr string, sem chan struct{}) {
	for ctx.Err() == nil {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		dctx, cancel := context.WithTimeout(ctx, floodDialTimeout)
		c, err := dial(dctx, "tcp", addr)
		cancel()
		<-sem
		if ctx.Err() != nil {
			if c != nil {
				c.Close()
			}
			return
		}
		if err != nil {
			f.count(func(s *FloodStats) { s.Failed++ })
			select {
			case <-time.After(100 * time.Millisecond):
			case <-ctx.Done():
			}
			continue
		}
		f.count(func(s *FloodStats) { s.Opened++; f.held++; s.PeakHeld = max(s.PeakHeld, f.held) })
		closed := make(chan struct{})
		go func() {
			var b [1]byte
			_, _ = c.Read(b[:]) // returns when either side closes
			close(closed)
		}()
		select {
		case <-closed:
			f.count(func(s *FloodStats) { s.Closed++; f.held-- })
		case <-ctx.Done():
			c.Close()
			<-closed
			f.count(func(*FloodStats) { f.held-- })
			return
		}
		c.Close()
	}
}

func (f *Flood) count(update func(*FloodStats)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	update(&f.stats)
}

// Held is the number of connections open now.
func (f *Flood) Held() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.held
}

// Stop closes every connection and returns what the flood did.
func (f *Flood) Stop() FloodStats {
	f.cancel()
	<-f.done
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.stats
}
