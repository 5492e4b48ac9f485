package systemd

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"

	sddbus "github.com/coreos/go-systemd/v22/dbus"
	"github.com/godbus/dbus/v5"
)

// DialFunc opens one private bus connection that is authenticated and has
// completed Hello, as go-systemd's dbus.NewConnection expects. Each call
// must return an independent connection; its lifetime is the caller's.
type DialFunc func() (*dbus.Conn, error)

// SystemBus dials the system bus (DBUS_SYSTEM_BUS_ADDRESS, else
// /var/run/dbus/system_bus_socket) the way go-systemd's
// NewSystemConnectionContext does, but without tying the connection's
// lifetime to a context.
func SystemBus() (*dbus.Conn, error) {
	conn, err := dbus.SystemBusPrivate()
	if err != nil {
		return nil, fmt.Errorf("dialing the system bus: %w", err)
	}
	return authHello(conn)
}

// AddressDialer returns a DialFunc for the bus at a D-Bus address such as
// "unix:path=/tmp/x/bus", e.g. a private dbus-daemon in a test.
func AddressDialer(address string) DialFunc {
	return func() (*dbus.Conn, error) {
		conn, err := dbus.Dial(address)
		if err != nil {
			return nil, fmt.Errorf("dialing %s: %w", address, err)
		}
		return authHello(conn)
	}
}

// authHello authenticates conn with EXTERNAL for the numeric uid (no user
// lookup) and sends Hello. It closes conn on failure.
func authHello(conn *dbus.Conn) (*dbus.Conn, error) {
	auth := []dbus.Auth{dbus.AuthExternal(strconv.Itoa(os.Getuid()))}
	if err := conn.Auth(auth); err != nil {
		conn.Close()
		return nil, fmt.Errorf("authenticating to the bus: %w", err)
	}
	if err := conn.Hello(); err != nil {
		conn.Close()
		return nil, fmt.Errorf("saying hello to the bus: %w", err)
	}
	return conn, nil
}

// session is one go-systemd connection and a channel closed as soon as any
// of its underlying bus connections is closed (by Close or by the peer).
type session struct {
	conn *sddbus.Conn
	lost chan struct{}
}

// alive reports whether none of the session's bus connections is closed.
func (s *session) alive() bool {
	select {
	case <-s.lost:
		return false
	default:
		return s.conn.Connected()
	}
}

// close closes both bus connections; it may be called more than once.
func (s *session) close() { s.conn.Close() }

// connect opens a session through dial. ctx bounds only the opening, not
// the session's lifetime: on cancellation connect returns at once and a
// connection that still comes up later is closed.
func connect(ctx context.Context, dial DialFunc) (*session, error) {
	rec := &recorder{dial: dial}
	type result struct {
		conn *sddbus.Conn
		err  error
	}
	done := make(chan result, 1)
	go func() {
		c, err := sddbus.NewConnection(rec.dialAndRecord)
		done <- result{c, err}
	}()
	select {
	case res := <-done:
		if res.err != nil {
			return nil, res.err
		}
		return &session{conn: res.conn, lost: watchClosed(rec.dialed())}, nil
	case <-ctx.Done():
		go func() {
			if res := <-done; res.conn != nil {
				res.conn.Close()
			}
		}()
		return nil, ctx.Err()
	}
}

// recorder remembers the connections a DialFunc returned.
type recorder struct {
	dial  DialFunc
	mu    sync.Mutex
	conns []*dbus.Conn
}

func (r *recorder) dialAndRecord() (*dbus.Conn, error) {
	c, err := r.dial()
	if err == nil {
		r.mu.Lock()
		r.conns = append(r.conns, c)
		r.mu.Unlock()
	}
	return c, err
}

func (r *recorder) dialed() []*dbus.Conn {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.conns
}

// watchClosed returns a channel closed when any of conns is closed. Its
// goroutines end when that happens.
func watchClosed(conns []*dbus.Conn) chan struct{} {
	lost := make(chan struct{})
	var once sync.Once
	for _, c := range conns {
		go func() {
			<-c.Context().Done()
			once.Do(func() { close(lost) })
		}()
	}
	return lost
}
