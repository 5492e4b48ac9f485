package lab

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"runtime"

	"golang.org/x/sys/unix"
)

// inNetns runs f on a thread of its own that has entered the node's
// network namespace, and returns f's result. A socket keeps the namespace
// it was made in, so listeners and connections made by f work from any
// goroutine afterwards. The thread never returns to the host's namespace:
// its goroutine stays locked to it, and Go ends the thread when the
// goroutine returns.
func inNetns[T any](n *Node, f func() (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread() // never unlocked, see above
		var zero T
		if n.netns == nil {
			ch <- result{zero, fmt.Errorf("node %s is closed", n.Name)}
			return
		}
		if err := unix.Setns(int(n.netns.Fd()), unix.CLONE_NEWNET); err != nil {
			ch <- result{zero, fmt.Errorf("entering the network namespace of %s: %w", n.Name, err)}
			return
		}
		v, err := f()
		ch <- result{v, err}
	}()
	r := <-ch
	return r.v, r.err
}

// Listen listens on addr in the node's network namespace.
func (n *Node) Listen(network, addr string) (net.Listener, error) {
	return inNetns(n, func() (net.Listener, error) { return net.Listen(network, addr) })
}

// Dialer returns a dial function for connections from the node, from the
// local address from (any address when invalid): for http.Transport and
// the lab's clients.
func (n *Node) Dialer(from netip.Addr) func(ctx context.Context, network, addr string) (net.Conn, error) {
	d := &net.Dialer{}
	if from.IsValid() {
		d.LocalAddr = &net.TCPAddr{IP: from.AsSlice()}
	}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		return inNetns(n, func() (net.Conn, error) { return d.DialContext(ctx, network, addr) })
	}
}
